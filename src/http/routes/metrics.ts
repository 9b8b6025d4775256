import type { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Metrics } from '../../metrics/metrics.js';
import type { SyncJobData } from '../../sync/job.js';
import { adminAuth } from './admin.js';

export interface MetricsRouteDeps {
  /** ADMIN_TOKEN: when set, /metrics needs it (Authorization: Bearer); unset, /metrics is open. */
  adminToken: string | undefined;
  register: Registry;
  /** When given, cgb_queue_jobs is refreshed on each scrape (queue backlog, failed events). */
  queue?: Queue<SyncJobData>;
  metrics?: Pick<Metrics, 'queueJobs'>;
}

export function metricsRoutes(deps: MetricsRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', adminAuth(deps.adminToken, { openWhenUnset: true }));
    app.get('/metrics', async (_req, reply) => {
      if (deps.queue && deps.metrics) {
        try {
          const counts = await deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
          for (const [state, count] of Object.entries(counts)) deps.metrics.queueJobs.set({ state }, count);
        } catch {
          // Redis away: serve the other series; /ready reports Redis.
        }
      }
      const text = await deps.register.metrics();
      return reply.header('content-type', deps.register.contentType).send(text);
    });
  };
}
