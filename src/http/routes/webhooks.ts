import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { conversationIdOf, isSyncedEvent, parseChatwootEvent, stripPubsubTokens, type ChatwootEvent } from '../../chatwoot/events.js';
import { verifySignature } from '../../chatwoot/signature.js';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import type { Ingest } from '../../queue/producer.js';
import type { AppDeps } from '../app.js';
import { tokenMatches } from '../token.js';

interface WebhookParams {
  hookId: string;
}
interface WebhookQuery {
  /** An array when the query string repeats it (`?token=a&token=b`): refused with a 400. */
  token?: string | string[];
}

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A client-chosen header value as it may appear in a log line: cut, never the whole thing. */
function loggable(value: string | undefined): string | undefined {
  return value === undefined || value.length <= DEFAULTS.maxLoggedHeaderChars ? value : `${value.slice(0, DEFAULTS.maxLoggedHeaderChars)}…`;
}

/**
 * Chatwoot payloads nest about 6 levels deep. A body nested thousands of levels deep parses, but
 * JSON.stringify (BullMQ, the disk spool) then overflows the stack: refuse it up front with a 400.
 */
const MAX_JSON_DEPTH = 64;

/** Deepest object/array nesting of a JSON text; brackets inside strings do not count. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, (depth += 1));
    else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return max;
}

type AuthResult = { ok: true; signature: string | undefined } | { ok: false; reason: string };

/**
 * What can be refused before a byte of the body is read (onRequest): a repeated `?token=`, and a
 * request that carries none of the hook's credentials at all. The full check needs the body.
 */
function refuseEarly(req: FastifyRequest<{ Querystring: WebhookQuery }>, hook: HookConfig): { status: 400 | 401; error: string; message: string } | undefined {
  if (Array.isArray(req.query.token)) return { status: 400, error: 'invalid_query', message: 'token is given more than once' };
  const { webhookSecrets, webhookToken } = hook.chatwoot;
  if (webhookSecrets.length === 0 && webhookToken === undefined) return undefined; // allowUnauthenticated
  const signed = header(req, 'x-chatwoot-signature') !== undefined || header(req, 'x-chatwoot-timestamp') !== undefined;
  if (webhookSecrets.length > 0 && signed) return undefined;
  if (webhookToken !== undefined && req.query.token !== undefined) return undefined;
  const message = webhookSecrets.length > 0 ? 'missing X-Chatwoot-Signature or X-Chatwoot-Timestamp' : 'missing ?token=';
  return { status: 401, error: 'unauthorized', message };
}

/**
 * Signature first (Chatwoot >= 4.12); the URL token is the fallback for Chatwoot that does not
 * sign (and for its unsigned automation webhooks). A signature that is present and fails is final:
 * a correct token next to it does not rescue it.
 */
function authenticate(req: FastifyRequest<{ Querystring: WebhookQuery }>, hook: HookConfig, rawBody: Buffer, nowMs: number, toleranceS: number): AuthResult {
  const { webhookSecrets, webhookToken } = hook.chatwoot;
  const token = typeof req.query.token === 'string' ? req.query.token : undefined;
  let failure = 'authentication required';
  const signatureHeader = header(req, 'x-chatwoot-signature');
  const presentsSignature = signatureHeader !== undefined || header(req, 'x-chatwoot-timestamp') !== undefined;
  if (webhookSecrets.length > 0) {
    const result = verifySignature({
      rawBody,
      signature: header(req, 'x-chatwoot-signature'),
      timestamp: header(req, 'x-chatwoot-timestamp'),
      secrets: webhookSecrets,
      toleranceS,
      nowMs,
    });
    if (result.ok) return { ok: true, signature: signatureHeader?.toLowerCase() };
    failure = {
      'missing-headers': 'missing X-Chatwoot-Signature or X-Chatwoot-Timestamp',
      malformed: 'malformed X-Chatwoot-Signature or X-Chatwoot-Timestamp',
      stale: `X-Chatwoot-Timestamp is more than ${toleranceS} s old`,
      future: `X-Chatwoot-Timestamp is more than ${toleranceS} s in the future`,
      mismatch: 'signature does not match the configured secret',
    }[result.reason];
    if (presentsSignature) return { ok: false, reason: failure };
  }
  if (webhookToken !== undefined) {
    if (tokenMatches(token, webhookToken)) return { ok: true, signature: undefined };
    if (webhookSecrets.length === 0) failure = token === undefined ? 'missing ?token=' : 'wrong ?token=';
  }
  if (webhookSecrets.length === 0 && webhookToken === undefined && hook.allowUnauthenticated) return { ok: true, signature: undefined };
  return { ok: false, reason: failure };
}

/**
 * Keys that identify the same Chatwoot event when it is sent again under a new delivery id
 * (EventDispatcherJob retries re-run the listener with a fresh X-Chatwoot-Delivery).
 */
function contentDedupeIds(event: ChatwootEvent): string[] {
  switch (event.event) {
    case 'message_created':
      return [`message:${event.id}`];
    case 'conversation_created':
      return [`conversation-created:${event.id}`];
    case 'contact_created':
      return [`contact-created:${event.id}`];
    default:
      return [];
  }
}

export function webhookRoutes(app: FastifyInstance, deps: AppDeps, ingest: Ingest): void {
  const { config, metrics } = deps;
  const now = deps.clock ?? Date.now;
  const toleranceS = deps.signatureToleranceS;

  app.post<{ Params: WebhookParams; Querystring: WebhookQuery; Body: Buffer }>(
    '/webhooks/chatwoot/:hookId',
    {
      // Runs before the body is read: an unknown hook or a request without any credential is
      // answered at once, so nobody can make the bridge buffer a body it was never going to take.
      onRequest: async (req, reply) => {
        const hook = config.hooks.get(req.params.hookId);
        if (!hook) {
          metrics.webhooks.inc({ hook: 'unknown', event: 'unknown', outcome: 'rejected' });
          return reply.code(404).send({ error: 'unknown_hook', message: `no hook "${req.params.hookId.slice(0, 64)}" is configured` });
        }
        const refused = refuseEarly(req, hook);
        if (refused === undefined) return;
        metrics.webhooks.inc({ hook: hook.id, event: 'unknown', outcome: 'rejected' });
        req.log.warn({ hookId: hook.id, reason: refused.message, deliveryId: loggable(header(req, 'x-chatwoot-delivery')) }, 'webhook refused before its body was read');
        return reply.code(refused.status).send({ error: refused.error, message: refused.message });
      },
    },
    async (req, reply: FastifyReply) => {
      const hook = config.hooks.get(req.params.hookId);
      if (!hook) return reply.code(404).send({ error: 'unknown_hook', message: 'no such hook' });
      // Plain fields on each line instead of child loggers: a child per request (two, before) cost
      // more than the line itself (pino copies and serialises its bindings at creation).
      const log = req.log;
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);

      const auth = authenticate(req, hook, rawBody, now(), toleranceS);
      if (!auth.ok) {
        metrics.webhooks.inc({ hook: hook.id, event: 'unknown', outcome: 'rejected' });
        log.warn({ hookId: hook.id, reason: auth.reason, deliveryId: loggable(header(req, 'x-chatwoot-delivery')) }, 'webhook refused: authentication failed');
        return reply.code(401).send({ error: 'unauthorized', message: auth.reason });
      }

      let payload: unknown;
      const text = rawBody.toString('utf8');
      if (jsonDepth(text) > MAX_JSON_DEPTH) {
        metrics.webhooks.inc({ hook: hook.id, event: 'unknown', outcome: 'rejected' });
        return reply.code(400).send({ error: 'invalid_payload', message: `body is nested more than ${MAX_JSON_DEPTH} levels deep` });
      }
      try {
        payload = JSON.parse(text);
      } catch (err) {
        metrics.webhooks.inc({ hook: hook.id, event: 'unknown', outcome: 'rejected' });
        return reply.code(400).send({ error: 'invalid_json', message: `body is not JSON: ${(err as Error).message}` });
      }
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        metrics.webhooks.inc({ hook: hook.id, event: 'unknown', outcome: 'rejected' });
        return reply.code(400).send({ error: 'invalid_payload', message: 'body must be a JSON object' });
      }
      const eventName = (payload as { event?: unknown }).event;
      if (typeof eventName !== 'string' || eventName === '') {
        metrics.webhooks.inc({ hook: hook.id, event: 'unknown', outcome: 'rejected' });
        return reply.code(400).send({ error: 'invalid_payload', message: 'event: missing, the body has no "event" name' });
      }
      const eventLabel = isSyncedEvent(eventName) ? eventName : 'other';
      metrics.webhooks.inc({ hook: hook.id, event: eventLabel, outcome: 'received' });

      if (!hook.enabled) {
        metrics.webhooks.inc({ hook: hook.id, event: eventLabel, outcome: 'ignored' });
        return reply.code(200).send({ status: 'ignored', reason: 'hook is disabled' });
      }
      if (!isSyncedEvent(eventName)) {
        metrics.webhooks.inc({ hook: hook.id, event: eventLabel, outcome: 'ignored' });
        return reply.code(200).send({ status: 'ignored', reason: `event "${eventName.slice(0, 64)}" is not synced to GLPI` });
      }
      const parsed = parseChatwootEvent(payload);
      if (!parsed.ok) {
        metrics.webhooks.inc({ hook: hook.id, event: eventLabel, outcome: 'rejected' });
        log.warn({ hookId: hook.id, event: eventName.slice(0, 64), deliveryId: loggable(header(req, 'x-chatwoot-delivery')), problem: parsed.error }, 'webhook refused: payload does not fit the event schema');
        return reply.code(400).send({ error: 'invalid_payload', message: `${eventName}: ${parsed.error}` });
      }

      const deliveryHeader = header(req, 'x-chatwoot-delivery');
      const deliveryId =
        deliveryHeader !== undefined && /^[A-Za-z0-9._-]{1,128}$/.test(deliveryHeader)
          ? deliveryHeader
          : `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
      const conversationId = conversationIdOf(parsed.event);
      const outcome = await ingest.accept(
        { hookId: hook.id, event: eventName, deliveryId, receivedAt: new Date(now()).toISOString(), conversationId, payload: stripPubsubTokens(payload as Record<string, unknown>) },
        // The signature too: the same signed bytes replayed inside the tolerance window under a new
        // (or no) delivery id are the same delivery. Chatwoot's own retries re-sign with a fresh
        // timestamp and keep their delivery id, so they are still recognised by that.
        [deliveryId, ...(auth.signature !== undefined ? [`signature:${auth.signature}`] : []), ...contentDedupeIds(parsed.event)],
      );
      const fields = { hookId: hook.id, event: eventName, deliveryId, jobId: outcome.jobId, conversationId };
      if (outcome.status === 'duplicate') {
        metrics.webhooks.inc({ hook: hook.id, event: eventLabel, outcome: 'duplicate' });
        log.info(fields, 'duplicate delivery, nothing enqueued');
        return reply.code(200).send({ status: 'duplicate', id: outcome.jobId });
      }
      metrics.webhooks.inc({ hook: hook.id, event: eventLabel, outcome: outcome.status });
      log.info({ ...fields, durable: outcome.status }, 'webhook accepted');
      return reply.code(202).send({ status: 'queued', id: outcome.jobId, ...(outcome.status === 'spooled' ? { spooled: true } : {}) });
    },
  );
}
