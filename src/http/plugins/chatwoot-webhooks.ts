import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { compileEventCheck, conversationIdOf } from '../../chatwoot/events.js';
import type { HookConfig } from '../../config/schema.js';
import type { Metrics } from '../../metrics/metrics.js';
import { idsOnlyLogger } from '../../logger.js';
import type { Ingest } from '../../queue/producer.js';
import { authenticate, refuseEarly, type Credentials } from '../chatwoot-auth.js';
import { dedupeIdsOf, deliveryIdOf, readChatwootEvent } from '../chatwoot-event.js';
import { header, keepRawBodies, loggable, type Refusal } from '../request.js';

interface ChatwootWebhookOptions {
  hooks: ReadonlyMap<string, HookConfig>;
  ingest: Ingest;
  metrics: Pick<Metrics, 'webhooks'>;
  now: () => number;
  signatureToleranceS: number;
}

/** The delivery as the plugin's hooks establish it: the hook (onRequest), then the signature that authenticated it (preHandler). */
interface Delivery {
  hook: HookConfig;
  signature: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the Chatwoot webhook plugin's onRequest (the hook) and preHandler (once the delivery is authenticated). */
    chatwootDelivery: Delivery | null;
  }
}

interface Route {
  Params: { hookId: string };
  Querystring: { token?: string | string[] };
  Body: Buffer | undefined;
}

type Outcome = 'rejected' | 'ignored' | 'duplicate' | 'queued' | 'spooled';

const credentialsOf = (req: FastifyRequest<Route>): Credentials => ({
  signature: header(req.headers, 'x-chatwoot-signature'),
  timestamp: header(req.headers, 'x-chatwoot-timestamp'),
  token: req.query.token,
});

/**
 * `POST /webhooks/chatwoot/:hookId`. onRequest refuses what it can before the body is read,
 * preHandler authenticates the raw bytes, and the handler only reads the event, dedupes and
 * enqueues (or spools) through `Ingest`, and answers. `answer` is the one place an outcome is
 * counted.
 */
export const chatwootWebhooks: FastifyPluginAsync<ChatwootWebhookOptions> = async (app, options) => {
  const { hooks, ingest, metrics, now, signatureToleranceS } = options;
  keepRawBodies(app);
  app.decorateRequest('chatwootDelivery', null);
  const checkEvent = compileEventCheck();
  // One line per stored delivery (SPEC): through a per-hook child without redaction, since those
  // lines hold only validated ids; refusals, which echo client-chosen values, keep the redacted logger.
  const deliveryLogs = new Map<string, FastifyBaseLogger>([...hooks.keys()].map((hookId) => [hookId, idsOnlyLogger(app.log, { hookId })]));
  const deliveryLog = (hookId: string) => deliveryLogs.get(hookId) as FastifyBaseLogger; // one per configured hook

  /** Counts the outcome (and, once the event has a name, that it was received) and sends the answer. */
  function answer(reply: FastifyReply, hook: string, event: string, outcome: Outcome, status: number, body: object): FastifyReply {
    if (event !== 'unknown') metrics.webhooks.inc({ hook, event, outcome: 'received' });
    metrics.webhooks.inc({ hook, event, outcome });
    return reply.code(status).send(body);
  }
  const refuse = (reply: FastifyReply, hook: string, event: string, refusal: Refusal) =>
    answer(reply, hook, event, 'rejected', refusal.status, { error: refusal.error, message: refusal.message });

  app.post<Route>(
    '/webhooks/chatwoot/:hookId',
    {
      // The deliveries' lines carry hookId, deliveryId and jobId; a pino child per request only to
      // add Fastify's reqId cost more than the line itself (bindings are serialised at creation).
      childLoggerFactory: (logger) => logger,
      // Runs before the body is read: an unknown hook or a request without any credential is
      // answered at once, so nobody can make the bridge buffer a body it was never going to take.
      onRequest: async (req, reply) => {
        const hook = hooks.get(req.params.hookId);
        if (hook === undefined) {
          return refuse(reply, 'unknown', 'unknown', { status: 404, error: 'unknown_hook', message: `no hook "${req.params.hookId.slice(0, 64)}" is configured` });
        }
        const refused = refuseEarly(hook, credentialsOf(req));
        if (refused === undefined) {
          req.chatwootDelivery = { hook, signature: undefined };
          return;
        }
        req.log.warn({ hookId: hook.id, reason: refused.message, deliveryId: loggable(header(req.headers, 'x-chatwoot-delivery')) }, 'webhook refused before its body was read');
        return refuse(reply, hook.id, 'unknown', refused);
      },
      preHandler: async (req, reply) => {
        const { hook } = req.chatwootDelivery as Delivery; // onRequest set it, or answered
        const auth = authenticate(hook, credentialsOf(req), req.body ?? Buffer.alloc(0), now(), signatureToleranceS);
        if (auth.ok) {
          req.chatwootDelivery = { hook, signature: auth.signature };
          return;
        }
        req.log.warn({ hookId: hook.id, reason: auth.reason, deliveryId: loggable(header(req.headers, 'x-chatwoot-delivery')) }, 'webhook refused: authentication failed');
        return refuse(reply, hook.id, 'unknown', { status: 401, error: 'unauthorized', message: auth.reason });
      },
    },
    async (req, reply) => {
      const { hook, signature } = req.chatwootDelivery as Delivery; // authenticated by preHandler, or it answered
      const rawBody = req.body ?? Buffer.alloc(0);
      const read = readChatwootEvent(rawBody, hook.enabled, checkEvent);
      if (read.kind === 'ignored') return answer(reply, hook.id, read.event, 'ignored', 200, { status: 'ignored', reason: read.reason });
      const deliveryHeader = header(req.headers, 'x-chatwoot-delivery');
      if (read.kind === 'refused') {
        if (read.eventName !== undefined) {
          req.log.warn({ hookId: hook.id, event: read.eventName, deliveryId: loggable(deliveryHeader), problem: read.refusal.message }, 'webhook refused: payload does not fit the event schema');
        }
        return refuse(reply, hook.id, read.event, read.refusal);
      }

      const deliveryId = deliveryIdOf(deliveryHeader, rawBody);
      const conversationId = conversationIdOf(read.parsed);
      const outcome = await ingest.accept(
        { hookId: hook.id, event: read.eventName, deliveryId, receivedAt: new Date(now()).toISOString(), conversationId, payload: read.payload },
        dedupeIdsOf(deliveryId, signature, read.parsed),
      );
      // Plain fields on a per-hook child made once: a child per request cost more than the line
      // itself (pino copies and serialises its bindings at creation).
      const log = deliveryLog(hook.id);
      if (outcome.status === 'duplicate') {
        log.info({ event: read.eventName, deliveryId, jobId: outcome.jobId, conversationId }, 'duplicate delivery, nothing enqueued');
        return answer(reply, hook.id, read.event, 'duplicate', 200, { status: 'duplicate', id: outcome.jobId });
      }
      log.info({ event: read.eventName, deliveryId, jobId: outcome.jobId, conversationId, durable: outcome.status }, 'webhook accepted');
      return answer(reply, hook.id, read.event, outcome.status, 202, { status: 'queued', id: outcome.jobId, ...(outcome.status === 'spooled' ? { spooled: true } : {}) });
    },
  );
};
