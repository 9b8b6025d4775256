import type { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Metrics } from '../../metrics/metrics.js';
import type { SyncJobData } from '../../sync/job.js';
import { adminAuth } from '../admin-auth.js';

interface MetricsOptions {
  /** ADMIN_TOKEN: when set, /metrics needs it (Authorization: Bearer); unset, /metrics is open. */
  adminToken: string | undefined;
  register: Registry;
  /** When given, cgb_queue_jobs is refreshed on each scrape (queue backlog, failed events). */
  queue?: Queue<SyncJobData>;
  metrics?: Pick<Metrics, 'queueJobs'>;
}

export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (app, options) => {
  const { register, queue, metrics } = options;
  app.addHook('onRequest', adminAuth(options.adminToken, { openWhenUnset: true }));
  app.get('/metrics', async (_req, reply) => {
    if (queue && metrics) {
      try {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
        for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ state }, count);
      } catch {
        // Redis away: serve the other series; /ready reports Redis.
      }
    }
    const text = await register.metrics();
    return reply.header('content-type', register.contentType).send(text);
  });
};
