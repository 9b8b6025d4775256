import type { FastifyInstance } from 'fastify';
import { queueStatus, type QueueCounts } from '../../ops/queue-ops.js';
import type { AppDeps } from '../app.js';

/** Above this backlog /ready reports totals only: counting per hook lists every job id. */
const PER_HOOK_DEPTH_MAX_JOBS = 20_000;

export interface HookReadiness {
  enabled: boolean;
  /** false while the last GLPI error is newer than the last success. */
  glpiOk: boolean;
  /** Jobs of this hook in the queue (null when the backlog is too large to count per hook). */
  queue: QueueCounts | null;
  lastGlpiSuccessAt: string | null;
  lastErrorAt: string | null;
  lastErrorCode: string | null;
  lastErrorAdvice: string | null;
  warnings: string[];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_req, reply) => {
    const spooled = await deps.spool.size().catch(() => null);
    try {
      await withTimeout(deps.redis.ping(), 1_000);
      const hookIds = [...deps.config.hooks.keys()];
      const pipeline = deps.redis.pipeline();
      for (const id of hookIds) pipeline.hgetall(deps.keys.hookState(id));
      const [states, counts] = await withTimeout(
        Promise.all([pipeline.exec(), deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children')]),
        2_000,
      );
      const backlog = counts.waiting + counts.active + counts.delayed + counts.failed + counts.prioritized;
      const perHook = backlog <= PER_HOOK_DEPTH_MAX_JOBS ? await withTimeout(queueStatus(deps.queue, hookIds), 2_000) : undefined;
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
