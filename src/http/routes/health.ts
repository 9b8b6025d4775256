import type { FastifyInstance } from 'fastify';
import { queueStatus, type QueueCounts } from '../../ops/queue-ops.js';
import type { AppDeps } from '../app.js';
import { withTimeout } from '../../util/timeout.js';

/**
 * Counting jobs per hook lists job ids (one queue serves every hook), so /ready, which probes run
 * every few seconds, does it only with several hooks and a small backlog; a single hook's depth is
 * the queue's own counts. `status` (CLI and /admin/status) always counts exactly.
 */
const PER_HOOK_DEPTH_MAX_JOBS = 2_000;

export interface HookReadiness {
  enabled: boolean;
  /** false while the last GLPI error is newer than the last success. */
  glpiOk: boolean;
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

  app.get('/ready', async (_req, reply) => {
    const spooled = await deps.spool.size().catch(() => null);
    try {
      await withTimeout(deps.redis.ping(), 1_000, 'Redis PING');
      const hookIds = [...deps.config.hooks.keys()];
      const pipeline = deps.redis.pipeline();
      for (const id of hookIds) pipeline.hgetall(deps.keys.hookState(id));
      const [states, counts] = await withTimeout(
        Promise.all([pipeline.exec(), deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children')]),
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
        const state = (states?.[i]?.[1] ?? {}) as Record<string, string>;
        const hook = deps.config.hooks.get(id);
        const lastOk = state.lastGlpiSuccessAt === undefined ? 0 : Date.parse(state.lastGlpiSuccessAt);
        const lastError = state.lastErrorAt === undefined ? 0 : Date.parse(state.lastErrorAt);
        hooks[id] = {
          enabled: hook?.enabled ?? false,
          glpiOk: lastError === 0 || lastOk >= lastError,
          queue: perHook?.hooks[id] ?? null,
          lastGlpiSuccessAt: state.lastGlpiSuccessAt ?? null,
          glpiVersion: state.glpiVersion ?? null,
          lastErrorAt: state.lastErrorAt ?? null,
          lastErrorCode: state.lastErrorCode ?? null,
          lastErrorAdvice: state.lastErrorAdvice ?? null,
          warnings: hook?.warnings ?? [],
        };
      });
      return { status: 'ready', redis: 'up', queue: counts, spooled, hooks };
    } catch (err) {
      return reply.code(503).send({ status: 'not_ready', redis: 'down', error: (err as Error).message, spooled });
    }
  });
}
