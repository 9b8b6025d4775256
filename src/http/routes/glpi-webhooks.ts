import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import { answerCraChallenge, verifyGlpiWebhook } from '../../glpi/webhook-signature.js';
import { nudgePoll } from '../../queue/glpi-poll.js';
import { G2cRecords } from '../../sync/glpi-to-chatwoot/records.js';
import { withTimeout } from '../../util/timeout.js';
import type { AppDeps } from '../app.js';

interface Params {
  hookId: string;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A hook GLPI may push to: GLPI -> Chatwoot on and a webhook secret set. */
function pushTarget(deps: AppDeps, hookId: string): HookConfig | undefined {
  const hook = deps.config.hooks.get(hookId);
  return hook !== undefined && hook.enabled && hook.glpiToChatwoot.enabled && hook.glpiToChatwoot.webhookSecrets.length > 0 ? hook : undefined;
}

/**
 * GLPI 11 native webhooks (Setup > Webhooks): `POST /webhooks/glpi/:hookId`, and the CRA challenge
 * `GET /webhooks/glpi/:hookId?crc_token=`. A webhook is only a nudge to poll the hook now: the poll
 * reads GLPI through its API and decides, so a forged, replayed or lost webhook changes nothing
 * that the scheduled poll would not do anyway. Still verified (it costs GLPI calls) and answered
 * within GLPI's 5 s: the route only dedupes and enqueues.
 *
 * GLPI sends no Content-Type; the app keeps every body as raw bytes (app.ts), which is what the
 * signature covers.
 */
export function glpiWebhookRoutes(app: FastifyInstance, deps: AppDeps): void {
  const now = deps.clock ?? Date.now;

  app.get<{ Params: Params; Querystring: { crc_token?: string | string[] } }>('/webhooks/glpi/:hookId', async (req, reply) => {
    const hook = pushTarget(deps, req.params.hookId);
    if (hook === undefined) return reply.code(404).send({ error: 'unknown_hook', message: 'no hook takes GLPI webhooks here' });
    const token = req.query.crc_token;
    const answer = typeof token === 'string' ? answerCraChallenge(hook.glpiToChatwoot.webhookSecrets[0]!, token) : undefined;
    if (answer === undefined) return reply.code(400).send({ error: 'invalid_query', message: 'crc_token must be 64 hex characters' });
    return reply.code(200).type('text/plain').send(answer);
  });

  app.post<{ Params: Params; Body: Buffer | undefined }>('/webhooks/glpi/:hookId', async (req, reply) => {
    const hook = pushTarget(deps, req.params.hookId);
    if (hook === undefined) return reply.code(404).send({ error: 'unknown_hook', message: 'no hook takes GLPI webhooks here' });
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = header(req, 'x-glpi-signature');
    const verdict = verifyGlpiWebhook({
      rawBody,
      signature,
      timestamp: header(req, 'x-glpi-timestamp'),
      secrets: hook.glpiToChatwoot.webhookSecrets,
      toleranceS: DEFAULTS.glpiToChatwoot.webhookToleranceS,
      nowMs: now(),
    });
    if (!verdict.ok) {
      deps.metrics.webhooks.inc({ hook: hook.id, event: 'glpi', outcome: 'rejected' });
      req.log.warn({ hookId: hook.id, reason: verdict.reason }, 'GLPI webhook refused');
      return reply.code(401).send({ error: 'unauthorized', message: `signature ${verdict.reason}` });
    }
    // GLPI re-sends the same request (same timestamp and signature) after a timeout or a 5xx.
    const digest = createHash('sha256').update(String(signature)).digest('hex').slice(0, 32);
    try {
      const records = new G2cRecords(deps.redis, deps.keys, hook.id);
      const first = await withTimeout(records.claimNudge(digest, DEFAULTS.glpiToChatwoot.webhookDedupeTtlS), 1_500, 'dedupe');
      if (!first) {
        deps.metrics.webhooks.inc({ hook: hook.id, event: 'glpi', outcome: 'duplicate' });
        return reply.code(200).send({ status: 'duplicate' });
      }
      try {
        await withTimeout(nudgePoll(deps.queue, hook.id), 1_500, 'enqueue');
      } catch (err) {
        // Not queued: GLPI's retry of this same request must not be taken for a duplicate.
        await records.releaseNudge(digest).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      // Nothing is lost: the scheduled poll sees the change anyway. GLPI retries a 5xx.
      req.log.warn({ hookId: hook.id, err: { message: (err as Error).message } }, 'GLPI webhook not queued (Redis unavailable)');
      return reply.code(503).send({ error: 'unavailable', message: 'try again later' });
    }
    deps.metrics.webhooks.inc({ hook: hook.id, event: 'glpi', outcome: 'queued' });
    req.log.info({ hookId: hook.id }, 'GLPI webhook: poll queued');
    return reply.code(202).send({ status: 'queued' });
  });
}
