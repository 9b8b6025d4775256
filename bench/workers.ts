import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import { redisKeys } from '../src/redis/keys.js';
import { RedisChild } from '../test/reliability/support.js';
import { waitFor } from '../test/support/redis.js';
import { startScaleRig } from '../test/scaling/support.js';

/**
 * Sync throughput with 1, 2 and 4 worker processes (docs/scaling.md). Per run: a private
 * redis-server, HOOKS hooks each with its own GLPI simulator at GLPI_LATENCY_MS, one api process.
 * The workers start first with the queue paused, every webhook is accepted, then the queue is
 * resumed and the clock runs until GLPI holds every message and nothing is left to run.
 *
 *   npx tsx bench/workers.ts            (writes bench/workers-results-<latency>ms.json; BENCH_GLPI_LATENCY_MS, BENCH_HOOKS)
 */

const HOOKS = Number(process.env.BENCH_HOOKS ?? 8);
const CONVERSATIONS = 5;
const PER_CONVERSATION = 10;
const GLPI_LATENCY_MS = Number(process.env.BENCH_GLPI_LATENCY_MS ?? 50);
const CONCURRENCY = '4';
const WORKER_COUNTS = [1, 2, 4];

interface WorkersResult {
  workers: number;
  events: number;
  elapsedS: number;
  eventsPerS: number;
  problems: number;
}

async function runOnce(workers: number): Promise<WorkersResult> {
  const redis = await RedisChild.start({ appendfsync: 'everysec' });
  const prefix = `cgbbenchw${workers}`;
  const rig = await startScaleRig({ name: `bench-w${workers}`, prefix, hooks: HOOKS, conversations: CONVERSATIONS, perConversation: PER_CONVERSATION, redisEnv: { REDIS_URL: redis.url }, glpiLatencyMs: GLPI_LATENCY_MS });
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const queue = rig.openQueue(inspector, redisKeys(prefix).bullPrefix);
  try {
    await queue.pause();
    const api = await rig.start('api', { LOG_LEVEL: 'error' });
    // The service's own worker defaults (lock retry delays included), not the tests' quick tuning.
    for (let i = 0; i < workers; i += 1) await rig.start('worker', { LOG_LEVEL: 'error', WORKER_CONCURRENCY: CONCURRENCY, CGB_TEST_WORKER_TUNING: '{}' });
    const answers = await rig.post(api.url, rig.scenario, 8);
    if (answers.some((a) => a.status !== 202)) throw new Error('a webhook was not accepted');
    const started = performance.now();
    await queue.resume();
    await waitFor(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(counts).every((n) => n === 0) && rig.problems().length === 0 ? true : undefined;
      },
      'the queue to drain',
      12_000,
      20,
    );
    const elapsedS = (performance.now() - started) / 1000;
    return { workers, events: rig.scenario.length, elapsedS: Number(elapsedS.toFixed(2)), eventsPerS: Math.round(rig.scenario.length / elapsedS), problems: rig.problems().length };
  } finally {
    await queue.close();
    inspector.disconnect();
    await rig.close();
    await redis.stop();
  }
}

const results: WorkersResult[] = [];
for (const workers of WORKER_COUNTS) {
  results.push(await runOnce(workers));
  console.log(JSON.stringify(results.at(-1)));
}
const report = {
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
  setup: { hooks: HOOKS, conversations: CONVERSATIONS, perConversation: PER_CONVERSATION, glpiLatencyMs: GLPI_LATENCY_MS, workerConcurrency: Number(CONCURRENCY) },
  results,
};
writeFileSync(new URL(`./workers-results-${GLPI_LATENCY_MS}ms.json`, import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
console.table(results);
