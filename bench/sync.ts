import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { redisKeys } from '../src/redis/keys.js';
import { SYNC_QUEUE_NAME } from '../src/queue/job.js';
import { type SyncJobData } from '../src/sync/job.js';
import { mapLimit, type RedisChild, signedHeaders, startBridgeProcess, syncScenario } from '../test/reliability/support.js';
import { countingProxy } from './counting-proxy.js';
import { startSimulatorProcess } from './glpi-sim-process.js';
import { commandsPer, redisCommandCalls, sampleMemory } from './proc.js';

export interface SyncResult {
  messages: number;
  conversations: number;
  glpiLatencyMs: number;
  workerConcurrency: number;
  elapsedS: number;
  eventsPerS: number;
  glpiCalls: number;
  glpiCallsPerMessage: number;
  glpiCallsByEndpoint: Record<string, number>;
  /**
   * Redis commands per message during the drain, by command (INFO commandstats of the bench's private
   * Redis; BullMQ's scripts count as evalsha, the hook lock's as evalsha too). Not the round trips
   * (a pipeline is one), but a figure that does not depend on the machine's load.
   */
  redisCommandsPerMessage: Record<string, number>;
  /** Mean wait for the hook's mutex per job (local FIFO line + Redis lock), from the worker's metrics. */
  lockWaitMeanMs: number | null;
  /** How the message jobs read their context (cgb_context_reads_total): ahead of their turn, again at it, or only at it. */
  contextReads: Record<string, number>;
  /**
   * Mean GLPI call as the worker saw it (its cgb_glpi_call_duration_seconds): the simulated latency
   * plus HTTP and both event loops. What is left of the time per message beyond
   * calls x this is the bridge's own critical path (Redis round trips, JavaScript, the hand-over).
   */
  glpiCallMeanMs: number | null;
  /** 1000 / eventsPerS - glpiCallsPerMessage x glpiCallMeanMs. */
  bridgeMsPerMessage: number | null;
  /**
   * The simulator's own mean time from a request's arrival to its answer's last byte: the injected
   * `glpiLatencyMs`, Node's timer lag and the simulator's work.
   */
  glpiResponseMeanMs: number | null;
  /**
   * The GLPI latency of the bound: the mean call as the counting proxy between the worker and the
   * simulator saw it (request received to response end), measured the same way as the real-GLPI phase
   * measures a real GLPI (bench/counting-proxy.ts). The worker's own side of each call is not in it.
   */
  glpiCallViaProxyMeanMs: number;
  /** One hook = one mutex: at most 1 / (calls per message x glpiCallViaProxyMeanMs) events per second. */
  mutexBoundEventsPerS: number;
  /** eventsPerS / mutexBoundEventsPerS. */
  mutexEfficiency: number;
  /** The bound with the nominal latency, 1 / (calls per message x glpiLatencyMs), and eventsPerS against it. */
  mutexBoundNominalEventsPerS: number;
  mutexEfficiencyNominal: number;
  failed: number;
  workerMemory: { peakRssMiB: number | null; rssAtEndMiB: number | null; breakdownAtPeak?: unknown };
  /** With several drains (BENCH_SYNC_RUNS), this result is the median one and this lists them all, in order. */
  drains?: { eventsPerS: number; glpiCallViaProxyMeanMs: number; mutexEfficiency: number; mutexEfficiencyNominal: number; bridgeMsPerMessage: number | null; workerPeakRssMiB: number | null }[];
  /** NODE_OPTIONS of the worker (BENCH_WORKER_NODE_OPTIONS; default as in docker-compose.yml). */
  workerNodeOptions?: string;
}

const SECRET = 'bench-sync-secret-7e21';

/** Sum and count of a Prometheus histogram in /metrics text. */
function histogramMean(text: string, name: string): number | null {
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}_sum`)) sum += Number(line.split(' ').pop());
    if (line.startsWith(`${name}_count`)) count += Number(line.split(' ').pop());
  }
  return count > 0 ? sum / count : null;
}

/** A Prometheus counter's values in /metrics text, summed by one label. */
function counterByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = line.match(new RegExp(`${label}="([^"]*)"`))?.[1];
    if (value !== undefined) out[value] = (out[value] ?? 0) + Number(line.split(' ').pop());
  }
  return out;
}

/**
 * `messages` incoming messages over `conversations` conversations of one hook are queued through
 * the api role while the queue is paused; then a worker process (dist/server.js, ROLE=worker,
 * default tuning) drains them against the GLPI simulator at `latencyMs` per call. Measured from
 * the queue's resume to the last completion.
 */
export async function runSync(
  redis: RedisChild,
  options: {
    messages: number;
    conversations: number;
    latencyMs: number;
    concurrency: number;
    workerNodeOptions?: string | undefined;
    /** More configuration for both processes (the write-back bench turns write-back on with it). */
    extraEnv?: Record<string, string>;
  },
): Promise<SyncResult> {
  const { messages, conversations, latencyMs } = options;
  // In its own process, as a GLPI would be: see glpi-sim-child.ts.
  const sim = await startSimulatorProcess({ latencyMs });
  // The worker reaches it through the counting proxy the real-GLPI phase uses, so both phases
  // measure the GLPI latency of their bound the same way.
  const proxy = await countingProxy(sim.url);
  const prefix = `cgbbenchsync${Date.now()}`;
  const spoolDir = mkdtempSync(join(tmpdir(), 'cgb-bench-sync-'));
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: inspector, prefix: redisKeys(prefix).bullPrefix });
  const env = {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    SPOOL_DIR: spoolDir,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: String(options.concurrency),
    HOOK_ID: 'acme',
    GLPI_API_URL: proxy.url,
    GLPI_USER_TOKEN: 'admin-user-token',
    CHATWOOT_WEBHOOK_SECRET: SECRET,
    ...options.extraEnv,
  };
  const processes: Awaited<ReturnType<typeof startBridgeProcess>>[] = [];
  let result: SyncResult | undefined;
  let probeFile: string | undefined;
  try {
    await queue.pause();
    const api = await startBridgeProcess({ ...env, ROLE: 'api' }, { entry: 'dist', keepLines: false });
    processes.push(api);
    const scenario = syncScenario({ conversations, perConversation: Math.ceil(messages / conversations) }).slice(0, messages);
    const statuses = await mapLimit(scenario, 16, async (m) => {
      const res = await fetch(`${api.url}/webhooks/chatwoot/acme`, { method: 'POST', headers: signedHeaders(SECRET, m.body), body: m.body });
      await res.arrayBuffer();
      return res.status;
    });
    const refused = statuses.filter((s) => s !== 202).length;
    if (refused > 0) throw new Error(`${refused} webhooks were not accepted`);

    // BENCH_WORKER_NODE_OPTIONS: flags to try on the worker; BENCH_MEMORY_PROBE=1: where its memory
    // goes; BENCH_CPU_PROFILE_FILE: a CPU profile of the worker (both by memory-probe.mjs).
    probeFile = process.env.BENCH_MEMORY_PROBE === '1' ? join(spoolDir, 'memory-probe.json') : undefined;
    const cpuProfile = process.env.BENCH_CPU_PROFILE_FILE || undefined;
    const preload = probeFile !== undefined || cpuProfile !== undefined ? `--import ${fileURLToPath(new URL('memory-probe.mjs', import.meta.url))}` : '';
    const nodeOptions = [options.workerNodeOptions ?? '', preload].join(' ').trim();
    const workerEnv = {
      ...env,
      ROLE: 'worker',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      ...(probeFile ? { BENCH_MEMORY_PROBE_FILE: probeFile } : {}),
      ...(cpuProfile ? { BENCH_CPU_PROFILE_FILE: cpuProfile } : {}),
    };
    const worker = await startBridgeProcess(workerEnv, { entry: 'dist', keepLines: false });
    processes.push(worker);
    const memory = sampleMemory(worker.child.pid as number);
    await sim.resetCalls();
    proxy.reset();
    const commandsBefore = await redisCommandCalls(inspector);
    const started = performance.now();
    await queue.resume();
    const deadline = started + Math.max(120_000, messages * 500);
    for (;;) {
      const counts = await queue.getJobCounts('completed', 'failed');
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= messages) break;
      if (performance.now() > deadline) throw new Error(`sync bench stuck: ${JSON.stringify(await queue.getJobCounts())}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const elapsedS = (performance.now() - started) / 1000;
    const commandsAfter = await redisCommandCalls(inspector);
    const workerMemory = memory.stop();
    const failed = await queue.getFailedCount();
    const metricsText = await fetch(`${worker.url}/metrics`).then((r) => r.text());
    const lockWaitMeanS = histogramMean(metricsText, 'cgb_lock_wait_seconds');
    const glpiCallMeanS = histogramMean(metricsText, 'cgb_glpi_call_duration_seconds');

    const glpiResponseMeanMs = await sim.meanResponseMs();
    // Every GLPI call of the worker went through the proxy, which counts them by endpoint.
    const glpiCalls = [...proxy.calls.values()].reduce((a, b) => a + b, 0);
    const callsPerMessage = glpiCalls / messages;
    const eventsPerS = messages / elapsedS;
    const nominalBound = 1 / (callsPerMessage * (latencyMs / 1000));
    const glpiCallViaProxyMeanMs = proxy.meanMs();
    const bound = 1 / (callsPerMessage * (glpiCallViaProxyMeanMs / 1000));
    const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
    result = {
      messages,
      conversations,
      glpiLatencyMs: latencyMs,
      workerConcurrency: options.concurrency,
      elapsedS: round(elapsedS),
      eventsPerS: round(eventsPerS, 1),
      glpiCalls,
      glpiCallsPerMessage: round(callsPerMessage, 3),
      glpiCallsByEndpoint: Object.fromEntries(proxy.calls),
      redisCommandsPerMessage: commandsPer(commandsBefore, commandsAfter, messages).byCommand,
      lockWaitMeanMs: lockWaitMeanS === null ? null : round(lockWaitMeanS * 1000, 1),
      contextReads: counterByLabel(metricsText, 'cgb_context_reads_total', 'read'),
      glpiCallMeanMs: glpiCallMeanS === null ? null : round(glpiCallMeanS * 1000, 2),
      bridgeMsPerMessage: glpiCallMeanS === null ? null : round(1000 / eventsPerS - callsPerMessage * glpiCallMeanS * 1000, 2),
      glpiResponseMeanMs: glpiResponseMeanMs === null ? null : round(glpiResponseMeanMs, 2),
      glpiCallViaProxyMeanMs: round(glpiCallViaProxyMeanMs, 2),
      mutexBoundEventsPerS: round(bound, 1),
      mutexEfficiency: round(eventsPerS / bound, 3),
      mutexBoundNominalEventsPerS: round(nominalBound, 1),
      mutexEfficiencyNominal: round(eventsPerS / nominalBound, 3),
      failed,
      workerMemory,
      ...(options.workerNodeOptions ? { workerNodeOptions: options.workerNodeOptions } : {}),
    };
    return result;
  } finally {
    for (const p of processes) await p.stop();
    if (result !== undefined && probeFile !== undefined && existsSync(probeFile)) result.workerMemory.breakdownAtPeak = JSON.parse(readFileSync(probeFile, 'utf8')) as unknown;
    await queue.close();
    await inspector.flushdb().catch(() => undefined); // a private Redis
    inspector.disconnect();
    await proxy.close();
    await sim.close();
    rmSync(spoolDir, { recursive: true, force: true });
  }
}
