/**
 * One error type for the whole bridge. `code` is stable (logs, metrics, /ready, the failed list),
 * `transient` decides the retry policy, `advice` is what a person should do about it.
 * Everything that decides "retry or give up" goes through `isTransient()` below, nowhere else.
 */
export interface BridgeErrorOptions {
  transient: boolean;
  advice?: string;
  /** HTTP status of the remote answer, when there was one. */
  status?: number;
  cause?: unknown;
}

export class BridgeError extends Error {
  readonly code: string;
  readonly transient: boolean;
  readonly advice: string | undefined;
  readonly status: number | undefined;

  constructor(code: string, message: string, options: BridgeErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.transient = options.transient;
    this.advice = options.advice;
    this.status = options.status;
  }
}

/** The per-hook mutex is held by another job: retry later, never fail. */
export class LockBusyError extends BridgeError {
  constructor(resource: string, cause?: unknown) {
    super('LOCK_BUSY', `lock ${resource} is held by another job`, { transient: true, cause });
    this.name = 'LockBusyError';
  }
}

/** Configuration that cannot work; the process stops (at start) or the job fails (at run time). */
export class ConfigError extends BridgeError {
  constructor(message: string, advice?: string) {
    super('CONFIG_INVALID', message, { transient: false, advice });
    this.name = 'ConfigError';
  }
}

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
]);

/**
 * Errors a JavaScript engine throws on a bug meeting a payload it did not expect (`decodeURI` on
 * a malformed URL, `new Date(1e20).toISOString()`, a property of undefined). Retrying the same
 * payload through the same code fails the same way, so they are permanent: the job fails at once
 * and is replayed once the code is fixed.
 */
const PROGRAMMING_ERRORS = [TypeError, RangeError, URIError, SyntaxError, ReferenceError, EvalError];

export const PROGRAMMING_ERROR_CODE = 'PROGRAMMING_ERROR';
const PROGRAMMING_ERROR_ADVICE =
  'a bug in the bridge met this payload (the same payload fails the same way every time): report the failed job ' +
  '(chatwoot-glpi-bridge failed shows it), then replay it once the bridge is fixed';

/** A network failure somewhere in the cause chain (undici wraps them: `TypeError: fetch failed`). */
function hasTransientNodeCode(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NODE_CODES.has(code)) return true;
  }
  return false;
}

/** A bug met a payload: a native engine error that is no network failure in disguise. */
export function isProgrammingError(err: unknown): boolean {
  return !(err instanceof BridgeError) && PROGRAMMING_ERRORS.some((type) => err instanceof type) && !hasTransientNodeCode(err);
}

/**
 * The single retry decision. Bridge errors say what they are; network-level errors are transient;
 * programming errors on a payload are permanent (see PROGRAMMING_ERRORS). Anything else unknown is
 * treated as transient, because the job's attempt limit bounds the cost of retrying while giving
 * up early would lose an event for good.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof BridgeError) return err.transient;
  if (hasTransientNodeCode(err)) return true;
  if (err instanceof Error && err.name === 'ZodError') return false;
  if (isProgrammingError(err)) return false;
  return true;
}

/** Stable code of any error, for logs and metrics. */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof BridgeError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  if (isProgrammingError(err)) return PROGRAMMING_ERROR_CODE;
  return undefined;
}

export function errorAdvice(err: unknown): string | undefined {
  if (err instanceof BridgeError) return err.advice;
  return isProgrammingError(err) ? PROGRAMMING_ERROR_ADVICE : undefined;
}

/**
 * Fewer replicas than REDIS_WAIT_REPLICAS confirmed a write in time: the api spools the webhook as
 * well; the worker retries the job (its intent may not survive a failover yet).
 */
export class ReplicationLagError extends BridgeError {
  constructor(wanted: number, got: number) {
    super('REDIS_NOT_REPLICATED', `only ${got} of ${wanted} Redis replica(s) confirmed the write in time`, {
      transient: true,
      advice: 'check the replicas (INFO replication on the master); until they catch up, webhooks also go to the disk spool',
    });
    this.name = 'ReplicationLagError';
  }
}

/** The job was asked to stop (worker shutdown) before its next GLPI write; it goes back to the queue. */
export class JobAbortedError extends BridgeError {
  constructor(reason: unknown) {
    super('JOB_ABORTED', `job stopped before its next GLPI write (${typeof reason === 'string' ? reason : 'aborted'})`, { transient: true });
    this.name = 'JobAbortedError';
  }
}
