import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import { answerCraChallenge, verifyGlpiWebhook } from '../../glpi/webhook-signature.js';
import type { Metrics } from '../../metrics/metrics.js';
import { nudgePoll } from '../../queue/glpi-poll.js';
import type { RedisConnection } from '../../redis/connection.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { SyncJobData } from '../../sync/job.js';
import { G2cRecords } from '../../sync/glpi-to-chatwoot/records.js';
import { withTimeout } from '../../util/timeout.js';
import { header, keepRawBodies } from '../request.js';

interface GlpiWebhookOptions {
  hooks: ReadonlyMap<string, HookConfig>;
  redis: RedisConnection;
  keys: RedisKeys;
  queue: Queue<SyncJobData>;
  metrics: Pick<Metrics, 'webhooks'>;
  now: () => number;
  /** The dedupe and the enqueue each (DEFAULTS.glpiToChatwoot.webhookRedisTimeoutMs): well inside GLPI's 5 s. */
  redisTimeoutMs: number;
}

interface Route {
  Params: { hookId: string };
}

/**
 * GLPI 11 native webhooks (Setup > Webhooks): `POST /webhooks/glpi/:hookId`, and the CRA challenge
 * `GET /webhooks/glpi/:hookId?crc_token=`. A webhook is only a nudge to poll the hook now: the poll
 * reads GLPI through its API and decides, so a forged, replayed or lost webhook changes nothing
 * that the scheduled poll would not do anyway. Still verified (it costs GLPI calls) and answered
 * within GLPI's 5 s: the handler only dedupes and enqueues.
 *
 * GLPI sends no Content-Type; this plugin keeps every body as raw bytes, which the signature covers.
 */
export const glpiWebhooks: FastifyPluginAsync<GlpiWebhookOptions> = async (app, options) => {
  const { hooks, metrics, now } = options;
  keepRawBodies(app);

  /** The hooks GLPI may push to (GLPI -> Chatwoot on and a webhook secret set), with their records, made once. */
  const targets = new Map(
    [...hooks.values()]
      .filter((hook) => hook.enabled && hook.glpiToChatwoot.enabled && hook.glpiToChatwoot.webhookSecrets.length > 0)
      .map((hook) => [hook.id, { hook, records: new G2cRecords(options.redis, options.keys, hook.id) }] as const),
  );
  const pushTarget = (hookId: string): HookConfig | undefined => targets.get(hookId)?.hook;
  const unknownHook = (reply: FastifyReply) => reply.code(404).send({ error: 'unknown_hook', message: 'no hook takes GLPI webhooks here' });
  /** Counts the outcome of a POST and sends the answer. */
  const answer = (reply: FastifyReply, hook: string, outcome: 'rejected' | 'duplicate' | 'queued', status: number, body: object) => {
    metrics.webhooks.inc({ hook, event: 'glpi', outcome });
    return reply.code(status).send(body);
  };

  app.get<Route & { Querystring: { crc_token?: string | string[] } }>('/webhooks/glpi/:hookId', async (req, reply) => {
    const hook = pushTarget(req.params.hookId);
    if (hook === undefined) return unknownHook(reply);
    const token = req.query.crc_token;
    const secret = hook.glpiToChatwoot.webhookSecrets[0] as string; // pushTarget: at least one
    const response = typeof token === 'string' ? answerCraChallenge(secret, token) : undefined;
    if (response === undefined) return reply.code(400).send({ error: 'invalid_query', message: 'crc_token must be 64 hex characters' });
    return reply.code(200).type('text/plain').send(response);
  });

  app.post<Route & { Body: Buffer | undefined }>(
    '/webhooks/glpi/:hookId',
    {
      // No body is read for a hook that takes no GLPI webhooks.
      onRequest: async (req, reply) => {
        if (pushTarget(req.params.hookId) === undefined) return unknownHook(reply);
      },
      preHandler: async (req, reply) => {
        const hook = pushTarget(req.params.hookId) as HookConfig; // onRequest answered the others
        const verdict = verifyGlpiWebhook({
          rawBody: req.body ?? Buffer.alloc(0),
          signature: header(req.headers, 'x-glpi-signature'),
          timestamp: header(req.headers, 'x-glpi-timestamp'),
          secrets: hook.glpiToChatwoot.webhookSecrets,
          toleranceS: DEFAULTS.glpiToChatwoot.webhookToleranceS,
          nowMs: now(),
        });
        if (verdict.ok) return;
        req.log.warn({ hookId: hook.id, reason: verdict.reason }, 'GLPI webhook refused');
        return answer(reply, hook.id, 'rejected', 401, { error: 'unauthorized', message: `signature ${verdict.reason}` });
      },
    },
    async (req, reply) => {
      const { hook, records } = targets.get(req.params.hookId) as { hook: HookConfig; records: G2cRecords }; // onRequest answered the others
      // GLPI re-sends the same request (same timestamp and signature) after a timeout or a 5xx.
      const digest = createHash('sha256').update(String(header(req.headers, 'x-glpi-signature'))).digest('hex').slice(0, 32);
      try {
        const first = await withTimeout(records.claimNudge(digest, DEFAULTS.glpiToChatwoot.webhookDedupeTtlS), options.redisTimeoutMs, 'dedupe');
        if (!first) return answer(reply, hook.id, 'duplicate', 200, { status: 'duplicate' });
        await withTimeout(nudgePoll(options.queue, hook.id), options.redisTimeoutMs, 'enqueue').catch(async (err: unknown) => {
          // Not queued: GLPI's retry of this same request must not be taken for a duplicate.
          await records.releaseNudge(digest).catch(() => undefined);
          throw err;
        });
      } catch (err) {
        // Nothing is lost: the scheduled poll sees the change anyway. GLPI retries a 5xx.
        req.log.warn({ hookId: hook.id, err: { message: (err as Error).message } }, 'GLPI webhook not queued (Redis unavailable)');
        return reply.code(503).send({ error: 'unavailable', message: 'try again later' });
      }
      req.log.info({ hookId: hook.id }, 'GLPI webhook: poll queued');
      return answer(reply, hook.id, 'queued', 202, { status: 'queued' });
    },
  );
};
