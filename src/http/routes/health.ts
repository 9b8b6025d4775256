import type { FastifyInstance, FastifyRequest } from 'fastify';
import { queueStatus, type QueueCounts } from '../../ops/queue-ops.js';
import type { AppDeps } from '../app.js';
import { withTimeout } from '../../util/timeout.js';
import { tokenMatches } from '../token.js';
import { presentedToken } from './admin.js';

/**
 * Counting jobs per hook lists job ids (one queue serves every hook), so /ready, which probes run
 * every few seconds, does it only with several hooks and a small backlog; a single hook's depth is
 * the queue's own counts. `status` (CLI and /admin/status) always counts exactly.
 */
const PER_HOOK_DEPTH_MAX_JOBS = 2_000;

export interface HookReadiness {
  enabled: boolean;
  /**
   * false while the last GLPI error is newer than the last success; null (unknown, and `glpi` says
   * so) until this hook reached GLPI once: a hook that never ran a job is not known to work.
   */
  glpiOk: boolean | null;
  glpi: 'ok' | 'failing' | 'not reached yet';
  /** Jobs of this hook in the queue (null when the backlog is too large to count per hook). */
  queue: QueueCounts | null;
  lastGlpiSuccessAt: string | null;
  /** GLPI's version ("11.0.8") as the worker's session last reported it; null before the first success. */
  glpiVersion: string | null;
  lastErrorAt: string | null;
  lastErrorCode: string | null;
  lastErrorAdvice: string | null;
  warnings: string[];
}

export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/health', async () => ({ status: 'ok' }));

  // With ADMIN_TOKEN set, hook ids, queue depths and error codes are for the operator only: a probe
  // without the Bearer token gets the bare verdict (200 ready / 503 not_ready), nothing more.
  const { adminToken } = deps.config;
  const showDetails = (req: FastifyRequest) => adminToken === undefined || tokenMatches(presentedToken(req), adminToken);

  app.get('/ready', async (req, reply) => {
    const details = showDetails(req);
    const spooled = await deps.spool.size().catch(() => null);
    try {
      await withTimeout(deps.redis.ping(), 1_000, 'Redis PING');
      const hookIds = [...deps.config.hooks.keys()];
      // One HGETALL per hook, not one pipeline: on a Redis Cluster each hook's state sits in its
      // own slot (a cross-slot pipeline is refused); ioredis still writes them back to back.
      const [states, counts] = await withTimeout(
        Promise.all([Promise.all(hookIds.map((id) => deps.redis.hgetall(deps.keys.hookState(id)))), deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children')]),
        2_000,
        'Redis state and queue counts',
      );
      const backlog = counts.waiting + counts.active + counts.delayed + counts.failed + counts.prioritized;
      const single = { waiting: counts.waiting + counts.prioritized, active: counts.active, delayed: counts.delayed, failed: counts.failed };
      const perHook =
        hookIds.length === 1
          ? { hooks: { [hookIds[0] as string]: single } }
          : backlog <= PER_HOOK_DEPTH_MAX_JOBS
            ? await withTimeout(queueStatus(deps.queue, hookIds), 2_000, 'queue depth per hook')
            : undefined;
      const hooks: Record<string, HookReadiness> = {};
      hookIds.forEach((id, i) => {
        const state: Record<string, string> = states[i] ?? {};
        const hook = deps.config.hooks.get(id);
        const lastOk = epochMs(state.lastGlpiSuccessAt);
        const lastError = epochMs(state.lastErrorAt);
        const glpiOk = lastOk === 0 && lastError === 0 ? null : lastError === 0 || lastOk >= lastError;
        hooks[id] = {
          enabled: hook?.enabled ?? false,
          glpiOk,
          glpi: glpiOk === null ? 'not reached yet' : glpiOk ? 'ok' : 'failing',
          queue: perHook?.hooks[id] ?? null,
          lastGlpiSuccessAt: state.lastGlpiSuccessAt ?? null,
          glpiVersion: state.glpiVersion ?? null,
          lastErrorAt: state.lastErrorAt ?? null,
          lastErrorCode: state.lastErrorCode ?? null,
          lastErrorAdvice: state.lastErrorAdvice ?? null,
          warnings: hook?.warnings ?? [],
        };
      });
      return details ? { status: 'ready', redis: 'up', queue: counts, spooled, hooks } : { status: 'ready' };
    } catch (err) {
      return reply.code(503).send(details ? { status: 'not_ready', redis: 'down', error: (err as Error).message, spooled } : { status: 'not_ready' });
    }
  });
}

/** A stored ISO time as epoch ms; 0 when missing or unreadable (never NaN, which compares as neither). */
function epochMs(iso: string | undefined): number {
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : 0;
}
