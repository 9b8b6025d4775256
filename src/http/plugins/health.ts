import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { DEFAULTS } from '../../config/defaults.js';
import type { ServiceConfig } from '../../config/schema.js';
import { queueStatus, type QueueCounts } from '../../ops/queue-ops.js';
import type { DiskSpool } from '../../queue/spool.js';
import type { RedisConnection } from '../../redis/connection.js';
import type { RedisKeys } from '../../redis/keys.js';
import { HookStateStore, type HookState } from '../../sync/hook-state.js';
import type { SyncJobData } from '../../sync/job.js';
import { withTimeout } from '../../util/timeout.js';
import { presentsAdminToken } from '../admin-auth.js';

/** A hook's entry in /ready: its stored state (see sync/hook-state.ts) and its queue. */
interface HookReadiness extends HookState {
  enabled: boolean;
  glpi: 'ok' | 'failing' | 'not reached yet';
  /** Jobs of this hook in the queue (null when the backlog is too large to count per hook). */
  queue: QueueCounts | null;
  warnings: string[];
}

interface HealthOptions {
  config: Pick<ServiceConfig, 'adminToken' | 'hooks'>;
  /** The producer connection: /ready pings it. */
  redis: RedisConnection;
  keys: RedisKeys;
  queue: Queue<SyncJobData>;
  spool: DiskSpool;
  /** How long Redis may take to answer PING (DEFAULTS.readyRedisTimeoutMs). */
  pingTimeoutMs: number;
  /** How long reading the hooks' state and the queue's counts may take (DEFAULTS.readyQueueTimeoutMs). */
  stateTimeoutMs: number;
}

/** `/health` (the process answers) and `/ready` (Redis, queue and per-hook state). */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, deps) => {
  app.get('/health', async () => ({ status: 'ok' }));

  // With ADMIN_TOKEN set, hook ids, queue depths and error codes are for the operator only: a probe
  // without the Bearer token gets the bare verdict (200 ready / 503 not_ready), nothing more.
  const { adminToken } = deps.config;
  const isAdmin = presentsAdminToken(adminToken);
  const showDetails = (req: FastifyRequest) => adminToken === undefined || isAdmin(req);

  const hookStates = new HookStateStore(deps.redis, deps.keys);
  const emptyState: HookState = { lastGlpiSuccessAt: null, glpiVersion: null, lastErrorAt: null, lastErrorCode: null, lastErrorAdvice: null, glpiOk: null };

  app.get('/ready', async (req, reply) => {
    const details = showDetails(req);
    const spooled = details ? await deps.spool.size().catch(() => null) : null;
    try {
      await withTimeout(deps.redis.ping(), deps.pingTimeoutMs, 'Redis PING');
      // The bare verdict needs nothing more: a probe every few seconds reads no hook state and counts no jobs.
      if (!details) return { status: 'ready' };
      const hookIds = [...deps.config.hooks.keys()];
      const [states, raw] = await withTimeout(
        Promise.all([hookStates.readMany(hookIds), deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children')]),
        deps.stateTimeoutMs,
        'Redis state and queue counts',
      );
      // BullMQ types the counts as a string-indexed record: a state it did not return counts 0.
      const counts = { waiting: raw.waiting ?? 0, active: raw.active ?? 0, delayed: raw.delayed ?? 0, failed: raw.failed ?? 0, prioritized: raw.prioritized ?? 0 };
      const backlog = counts.waiting + counts.active + counts.delayed + counts.failed + counts.prioritized;
      const single = { waiting: counts.waiting + counts.prioritized, active: counts.active, delayed: counts.delayed, failed: counts.failed };
      // Counting jobs per hook lists job ids (one queue serves every hook), so /ready, which probes
      // run every few seconds, does it only with several hooks and a small backlog; a single hook's
      // depth is the queue's own counts. `status` (CLI and /admin/status) always counts exactly.
      const perHook =
        hookIds.length === 1
          ? { hooks: { [hookIds[0] as string]: single } }
          : backlog <= DEFAULTS.readyPerHookDepthMaxJobs
            ? await withTimeout(queueStatus(deps.queue, hookIds), deps.stateTimeoutMs, 'queue depth per hook')
            : undefined;
      const hooks: Record<string, HookReadiness> = {};
      hookIds.forEach((id) => {
        const state = states.get(id) ?? emptyState;
        const hook = deps.config.hooks.get(id);
        hooks[id] = {
          enabled: hook?.enabled ?? false,
          glpiOk: state.glpiOk,
          glpi: state.glpiOk === null ? 'not reached yet' : state.glpiOk ? 'ok' : 'failing',
          queue: perHook?.hooks[id] ?? null,
          lastGlpiSuccessAt: state.lastGlpiSuccessAt,
          glpiVersion: state.glpiVersion,
          lastErrorAt: state.lastErrorAt,
          lastErrorCode: state.lastErrorCode,
          lastErrorAdvice: state.lastErrorAdvice,
          warnings: hook?.warnings ?? [],
        };
      });
      return { status: 'ready', redis: 'up', queue: raw, spooled, hooks };
    } catch (err) {
      return reply.code(503).send(details ? { status: 'not_ready', redis: 'down', error: (err as Error).message, spooled } : { status: 'not_ready' });
    }
  });
};
