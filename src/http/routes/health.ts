import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';

export interface HookReadiness {
  enabled: boolean;
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
      const hooks: Record<string, HookReadiness> = {};
      hookIds.forEach((id, i) => {
        const state = (states?.[i]?.[1] ?? {}) as Record<string, string>;
        const hook = deps.config.hooks.get(id);
        hooks[id] = {
          enabled: hook?.enabled ?? false,
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
