import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { redisKeys } from '../src/redis/keys.js';
import { SYNC_QUEUE_NAME } from '../src/queue/job.js';
import { freePort, type RedisChild, startBridgeProcess } from '../test/reliability/support.js';
import { commandsPer, cpuTimeUs, emptyBenchRedis, redisCommandCalls, redisCpuUs, ROOT, runTsxJson, sampleMemory, spawnTsxServer, stopChild } from './proc.js';

export interface LoadResult {
  requests: number;
  requestsPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, { count: number }>;
  durationS: number;
  /** CPU time the load generator itself used per request (it runs on the same cores as the server). */
  loaderCpuUsPerRequest: number | null;
}

export interface IngestResult {
  connections: number;
  durationS: number;
  bare: LoadResult;
  bridge: LoadResult;
  /** bridge requests/s divided by bare requests/s. */
  ratio: number;
  /**
   * Jobs the measured run added, to check that every 2xx was a real enqueue. It can exceed the
   * 2xx count by up to `connections`: requests in flight when autocannon stops are processed
   * but not counted by it.
   */
  jobsEnqueued: number;
  /** Events still in the api's disk spool when counting ended (0: every spooled answer reached the queue). */
  spoolLeft: number;
  /** Most events seen in the spool while counting: answers that went to disk first. */
  spoolPeak: number;
  bridge2xx: number;
  apiMemory: { peakRssMiB: number | null; rssAtEndMiB: number | null };
  bridgeLogLevel: string;
  apiNodeOptions: string;
  /**
   * CPU time (user + system) the server process used during the measured run, per request it
   * answered. Less sensitive to the machine's load than requests/s: a busy neighbour slows the
   * clock, not the work. `ratio` is bare / bridge: the throughput ratio if each process were limited
   * by its own CPU only, comparable with the requests/s `ratio` above.
   */
  cpuUsPerRequest: { bare: number | null; bridge: number | null; ratio: number | null };
  /**
   * CPU time the Redis server used during the bridge's measured run, per request: the part of the
   * machine's CPU each delivery costs outside the api process (the bare endpoint costs none).
   */
  redisCpuUsPerRequest: number | null;
  /** Redis commands the measured run cost per bridge request (INFO commandstats deltas), by command. */
  redisCommandsPerRequest: { total: number; byCommand: Record<string, number> };
  /**
   * The intake cut short after each stage (bench/stage-server.ts), measured in the same run between
   * the bare endpoint and the bridge: where the bridge's time per request goes, stage by stage.
   */
  stages: StageResult[];
}

export interface StageResult {
  /** `xadd` is a what-if, not the bridge's path: see bench/stage-server.ts. */
  stage: 'auth' | 'check' | 'enqueue' | 'xadd';
  requestsPerS: number;
  latencyMs: { p50: number; p99: number };
  cpuUsPerRequest: number | null;
  /** Redis's CPU per request during the stage's measured run (0 for the stages that do not reach Redis). */
  redisCpuUsPerRequest: number;
  /** requests/s against the bare endpoint's. */
  ratio: number;
}

const SECRET = 'bench-webhook-secret-3f9a';
/** The api's Node flags, as in docker-compose.yml. */
export const API_NODE_OPTIONS = process.env.BENCH_API_NODE_OPTIONS ?? '--max-old-space-size=128';
const TEMPLATE = fileURLToPath(new URL('test/fixtures/chatwoot/message_created.incoming.json', ROOT));

/** Runs the measured load and returns it with the CPU time the server process used per request. */
async function measured(url: string, pid: number | undefined, connections: number, durationS: number): Promise<{ result: LoadResult; cpuUsPerRequest: number | null }> {
  const before = pid === undefined ? null : cpuTimeUs(pid);
  const result = await load(url, connections, durationS);
  const after = pid === undefined ? null : cpuTimeUs(pid);
  const cpuUsPerRequest = before === null || after === null || result.requests === 0 ? null : Math.round((after - before) / result.requests);
  return { result, cpuUsPerRequest };
}

function load(url: string, connections: number, durationS: number): Promise<LoadResult> {
  return runTsxJson<LoadResult>('bench/load.ts', [JSON.stringify({ url, connections, durationS, secret: SECRET, template: TEMPLATE })]);
}

/**
 * Signed message_created posts at `connections` for `durationS`, first against the bare Fastify
 * ceiling, then against the bridge (api role, `node dist/server.js`, a private Redis with AOF
 * everysec like docker-compose). Each target gets a short warm-up that is not measured.
 */
export async function runIngest(redis: RedisChild, options: { connections: number; durationS: number; warmupS: number; logLevel: string; stages: boolean }): Promise<IngestResult> {
  const { connections, durationS, warmupS } = options;

  const barePort = await freePort();
  // The same Node flags as the bridge's api: the comparison is of the work per request only.
  const bare = await spawnTsxServer('bench/bare-server.ts', { PORT: String(barePort), NODE_OPTIONS: API_NODE_OPTIONS }, 'listening');
  let bareResult: LoadResult;
  let bareCpuUs: number | null;
  try {
    const url = `http://127.0.0.1:${barePort}/webhooks/chatwoot/acme`;
    if (warmupS > 0) await load(url, connections, warmupS);
    ({ result: bareResult, cpuUsPerRequest: bareCpuUs } = await measured(url, bare.pid, connections, durationS));
  } finally {
    await stopChild(bare);
  }

  const prefix = `cgbbench${Date.now()}`;
  const spoolDir = mkdtempSync(join(tmpdir(), 'cgb-bench-spool-'));
  const bridgeEnv = {
    ROLE: 'api',
    LOG_LEVEL: options.logLevel,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    SPOOL_DIR: spoolDir,
    HOOK_ID: 'acme',
    GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
    GLPI_USER_TOKEN: 'bench-user-token',
    CHATWOOT_WEBHOOK_SECRET: SECRET,
    // As docker-compose.yml runs the api (see docs/performance.md, Memory).
    NODE_OPTIONS: API_NODE_OPTIONS,
  };

  const stages: StageResult[] = [];
  const control = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  try {
    for (const stage of options.stages ? (['auth', 'check', 'enqueue', 'xadd'] as const) : []) {
      await emptyBenchRedis(control);
      stages.push(await measureStage(stage, control));
    }
    await emptyBenchRedis(control);
  } finally {
    control.disconnect();
  }

  async function measureStage(stage: StageResult['stage'], control: Redis): Promise<StageResult> {
    const port = await freePort();
    const server = await spawnTsxServer('bench/stage-server.ts', { ...bridgeEnv, REDIS_KEY_PREFIX: `${prefix}stage`, STAGE: stage, PORT: String(port) }, 'listening');
    try {
      const url = `http://127.0.0.1:${port}/webhooks/chatwoot/acme`;
      if (warmupS > 0) await load(url, connections, warmupS);
      const redisCpuBefore = await redisCpuUs(control);
      const { result, cpuUsPerRequest } = await measured(url, server.pid, connections, durationS);
      const redisCpuUsPerRequest = result.requests === 0 ? 0 : Math.round(((await redisCpuUs(control)) - redisCpuBefore) / result.requests);
      if (result.non2xx > 0) throw new Error(`stage ${stage}: ${result.non2xx} answers were not 2xx`);
      // A 202 from the disk spool (Redis not answering) would measure fsync, not Redis.
      const spooledByStage = readdirSync(spoolDir).filter((f) => f.endsWith('.json')).length;
      if (spooledByStage > 0) throw new Error(`stage ${stage}: ${spooledByStage} events went to the disk spool, so its figures are not Redis's`);
      return { stage, requestsPerS: result.requestsPerS, latencyMs: { p50: result.latencyMs.p50, p99: result.latencyMs.p99 }, cpuUsPerRequest, redisCpuUsPerRequest, ratio: Math.round((result.requestsPerS / bareResult.requestsPerS) * 1000) / 1000 };
    } finally {
      await stopChild(server);
    }
  }

  const bridge = await startBridgeProcess(bridgeEnv, { entry: 'dist', keepLines: false }).catch((err: unknown) => {
    rmSync(spoolDir, { recursive: true, force: true });
    throw err;
  });
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const queue = new Queue(SYNC_QUEUE_NAME, { connection: inspector, prefix: redisKeys(prefix).bullPrefix });
  try {
    const url = `${bridge.url}/webhooks/chatwoot/acme`;
    if (warmupS > 0) await load(url, connections, warmupS);
    // Requests still in flight when autocannon stops are processed after it: count once settled.
    // Answers the api had to spool (Redis slower than its timeout under this load) reach the queue
    // when the spool drains: settled means the spool is empty and the count stopped moving.
    const spooled = () => readdirSync(spoolDir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).length;
    let spooledSeen = 0;
    const settledCount = async () => {
      let last = -1;
      for (let i = 0; i < 600; i += 1) {
        const inSpool = spooled();
        spooledSeen = Math.max(spooledSeen, inSpool);
        const now = await queue.getWaitingCount();
        if (now === last && inSpool === 0) return now;
        last = now;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return last;
    };
    const jobsBefore = await settledCount();
    const memory = sampleMemory(bridge.child.pid as number);
    const callsBefore = await redisCommandCalls(inspector);
    const redisCpuBefore = await redisCpuUs(inspector);
    const { result: bridgeResult, cpuUsPerRequest: bridgeCpuUs } = await measured(url, bridge.child.pid, connections, durationS);
    const callsAfter = await redisCommandCalls(inspector);
    const redisCpuAfter = await redisCpuUs(inspector);
    const apiMemory = memory.stop();
    const jobsEnqueued = (await settledCount()) - jobsBefore;
    const bridge2xx = Object.entries(bridgeResult.statusCodes)
      .filter(([code]) => code.startsWith('2'))
      .reduce((sum, [, stat]) => sum + Number(stat.count), 0);
    return {
      connections,
      durationS,
      bare: bareResult,
      bridge: bridgeResult,
      ratio: Math.round((bridgeResult.requestsPerS / bareResult.requestsPerS) * 1000) / 1000,
      jobsEnqueued,
      bridge2xx,
      spoolLeft: spooled(),
      spoolPeak: spooledSeen,
      apiMemory,
      bridgeLogLevel: options.logLevel,
      apiNodeOptions: API_NODE_OPTIONS,
      cpuUsPerRequest: {
        bare: bareCpuUs,
        bridge: bridgeCpuUs,
        ratio: bareCpuUs === null || bridgeCpuUs === null || bridgeCpuUs === 0 ? null : Math.round((bareCpuUs / bridgeCpuUs) * 1000) / 1000,
      },
      redisCpuUsPerRequest: bridgeResult.requests === 0 ? null : Math.round((redisCpuAfter - redisCpuBefore) / bridgeResult.requests),
      // The inspector's own INFO call is in the delta: one command, negligible over thousands.
      redisCommandsPerRequest: commandsPer(callsBefore, callsAfter, bridgeResult.requests),
      stages,
    };
  } finally {
    await queue.close();
    await inspector.flushdb().catch(() => undefined); // a private Redis: nothing of anyone else's
    inspector.disconnect();
    await bridge.stop();
    rmSync(spoolDir, { recursive: true, force: true });
  }
}
