import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

/**
 * Paths redacted from every log line. Tokens travel in headers (GLPI `Session-Token`, `App-Token`,
 * `Authorization`; Chatwoot `api_access_token`) and Chatwoot payloads carry `pubsub_token`.
 */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-chatwoot-signature"]',
  'req.headers["api_access_token"]',
  'req.query.token',
  'headers.authorization',
  'headers["session-token"]',
  'headers["app-token"]',
  'headers.api_access_token',
  '*.pubsub_token',
  '*.*.pubsub_token',
  '*.*.*.pubsub_token',
  'pubsub_token',
  'userToken',
  'appToken',
  'apiToken',
  'sessionToken',
  'secret',
  'webhookSecrets',
  '*.userToken',
  '*.appToken',
  '*.apiToken',
  '*.sessionToken',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'chatwoot-glpi-bridge' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * A child for lines whose every field is an id the bridge validated or made itself (hook id,
 * event name, delivery id, job id, conversation id): no path of REDACT_PATHS can occur in them,
 * and pino's redaction (it walks the wildcard paths on every line) costs about 8 of the 10 us such
 * a line takes. The bindings are serialised once, at creation. Never log a payload, a header or
 * an error through it.
 */
export function idsOnlyLogger<L extends { child(bindings: Record<string, unknown>, options: { redact: string[] }): L }>(logger: L, bindings: Record<string, string>): L {
  return logger.child(bindings, { redact: [] });
}

/** Replaces every known secret in a string: the last line of defence for error messages. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}
