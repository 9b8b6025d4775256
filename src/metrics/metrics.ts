import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * All Prometheus series of the bridge, on a registry the caller owns (no global default registry,
 * so tests and the api/worker roles each build their own).
 */
export function createMetrics(register: Registry = new Registry()) {
  const webhooks = new Counter({
    name: 'cgb_webhooks_total',
    help: 'Webhook deliveries by outcome: received, queued, spooled, duplicate, ignored, rejected',
    labelNames: ['hook', 'event', 'outcome'] as const,
    registers: [register],
  });
  const jobs = new Counter({
    name: 'cgb_jobs_total',
    help: 'Sync jobs by outcome: processed, failed, retried, skipped',
    labelNames: ['hook', 'event', 'outcome'] as const,
    registers: [register],
  });
  const jobDuration = new Histogram({
    name: 'cgb_job_duration_seconds',
    help: 'Time spent processing a sync job (lock wait included)',
    labelNames: ['hook', 'event'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [register],
  });
  const jobLatency = new Histogram({
    name: 'cgb_job_latency_seconds',
    help: 'Time from webhook receipt to the end of its sync',
    labelNames: ['hook', 'event'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [register],
  });
  const glpiCalls = new Counter({
    name: 'cgb_glpi_calls_total',
    help: 'GLPI API calls by endpoint template and HTTP status',
    labelNames: ['hook', 'endpoint', 'status'] as const,
    registers: [register],
  });
  const glpiDuration = new Histogram({
    name: 'cgb_glpi_call_duration_seconds',
    help: 'GLPI API call latency by endpoint template',
    labelNames: ['hook', 'endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [register],
  });
  const chatwootCalls = new Counter({
    name: 'cgb_chatwoot_calls_total',
    help: 'Chatwoot API calls (write-back, backfill) by endpoint template and HTTP status',
    labelNames: ['hook', 'endpoint', 'status'] as const,
    registers: [register],
  });
  const lockWait = new Histogram({
    name: 'cgb_lock_wait_seconds',
    help: 'Time a job waited for its hook mutex',
    labelNames: ['hook'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [register],
  });
  const contextReads = new Counter({
    name: 'cgb_context_reads_total',
    help: "A message job's Redis context read: sent while it waited and used (ahead), sent early but read again at its turn (again), or read at its turn (at_turn)",
    labelNames: ['hook', 'read'] as const,
    registers: [register],
  });
  const customerBindings = new Counter({
    name: 'cgb_customer_bindings_total',
    help: 'Chatwoot contacts matched to an existing GLPI user: bound, or refused by the binding policy (reason)',
    labelNames: ['hook', 'result', 'reason'] as const,
    registers: [register],
  });
  const queueJobs = new Gauge({
    name: 'cgb_queue_jobs',
    help: 'Jobs in the sync queue by state',
    labelNames: ['state'] as const,
    registers: [register],
  });
  const spooled = new Gauge({
    name: 'cgb_spool_events',
    help: 'Accepted webhooks waiting in the local disk spool for Redis',
    registers: [register],
  });
  const glpiChanges = new Counter({
    name: 'cgb_glpi_changes_total',
    help: 'GLPI -> Chatwoot: changes seen on tickets the bridge created (followup, solution, status) and what became of them (posted, noted, recovered, skipped with reason, applied)',
    labelNames: ['hook', 'kind', 'action', 'reason'] as const,
    registers: [register],
  });
  const chatwootPosts = new Counter({
    name: 'cgb_chatwoot_messages_posted_total',
    help: 'GLPI -> Chatwoot: messages and notes the bridge posted to Chatwoot, by GLPI item kind',
    labelNames: ['hook', 'kind'] as const,
    registers: [register],
  });
  const glpiToChatwootLag = new Histogram({
    name: 'cgb_glpi_to_chatwoot_lag_seconds',
    help: "GLPI -> Chatwoot: time from the item's creation in GLPI to its message in Chatwoot",
    labelNames: ['hook'] as const,
    buckets: [1, 2.5, 5, 10, 15, 30, 60, 120, 300, 900, 3600],
    registers: [register],
  });
  return { register, glpiChanges, chatwootPosts, glpiToChatwootLag, webhooks, jobs, jobDuration, jobLatency, glpiCalls, glpiDuration, chatwootCalls, lockWait, contextReads, customerBindings, queueJobs, spooled };
}

export type Metrics = ReturnType<typeof createMetrics>;
