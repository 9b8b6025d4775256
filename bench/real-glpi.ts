import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { countingProxy, type CountingProxy } from './counting-proxy.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { SYNC_QUEUE_NAME } from '../src/queue/job.js';
import { redisKeys } from '../src/redis/keys.js';
import { type SyncJobData } from '../src/sync/job.js';
import { mapLimit, type RedisChild, signedHeaders, startBridgeProcess, syncScenario } from '../test/reliability/support.js';
import { realGlpiEnv, type RealGlpiEnv } from '../test/real-glpi/glpi-reader.js';
import { sampleMemory } from './proc.js';

/**
 * The sync phase against a real GLPI (issue #14). Every bridge process talks to GLPI through a
 * counting proxy in this process (calls by endpoint, mean call time). Each run uses hook ids and a
 * customer e-mail of its own (`cgbbench<tag>…`), so it cannot meet the data of the real-GLPI tests
 * other sessions run against the same server, and purges what it created (tickets with their
 * followups, the customers' users) when it is done.
 *
 *   throughput: N messages per hook queued while the queue is paused, then drained (1 hook, 4 hooks);
 *   latency:    a steady `ratePerS` through the api with the worker running; webhook received
 *               (job data `receivedAt`) to job completed (followup written and recorded).
 */

export interface RealThroughput {
  hooks: number;
  messages: number;
  conversations: number;
  elapsedS: number;
  eventsPerS: number;
  glpiCalls: number;
  glpiCallsPerMessage: number;
  glpiCallsByEndpoint: Record<string, number>;
  /** Mean time of one GLPI call as the proxy saw it (request sent to response end). */
  glpiMeanCallMs: number;
  /** One hook: 1 / (calls per message x mean call time), as for the simulator. */
  mutexBoundEventsPerS: number;
  failed: number;
  workerPeakRssMiB: number | null;
}

export interface RealLatency {
  hooks: number;
  ratePerS: number;
  messages: number;
  latencyMs: { p50: number; p99: number; max: number };
  failed: number;
}

export interface RealGlpiResult {
  version: string;
  url: string;
  oneHook: RealThroughput;
  fourHooks: RealThroughput;
  /** One run per rate of BENCH_REAL_RATE. */
  steady: RealLatency[];
  cleanup: { tickets: number; users: number; failures: number };
}

const SECRET = 'bench-real-glpi-secret-51c8';

interface Rig {
  hookIds: string[];
  queue: Queue<SyncJobData>;
  apiUrl: string;
  workerPid: number;
  stop(): Promise<void>;
}

/** api + worker processes over `hooks` hooks, all on the real GLPI through the proxy; the queue paused when asked. */
async function startRig(redis: RedisChild, glpi: RealGlpiEnv, proxyUrl: string, tag: string, phase: string, hooks: number, paused: boolean, dir: string, workerNodeOptions: string | undefined): Promise<Rig> {
  const hookIds = Array.from({ length: hooks }, (_, i) => `cgbbench${tag}${phase}h${i + 1}`);
  const hooksFile = join(dir, `hooks-${phase}.json`);
  writeFileSync(hooksFile, JSON.stringify({ hooks: hookIds.map((id) => ({ id, glpiApiUrl: proxyUrl, glpiAppToken: glpi.appToken, glpiUserToken: glpi.userToken, chatwootWebhookSecret: SECRET })) }));
  const prefix = `cgbbenchreal${tag}${phase}`;
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: inspector, prefix: redisKeys(prefix).bullPrefix });
  const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, SPOOL_DIR: join(dir, `spool-${phase}`), LOG_LEVEL: 'warn', HOOKS_FILE: hooksFile };
  if (paused) await queue.pause();
  const processes = [await startBridgeProcess({ ...env, ROLE: 'api' }, { entry: 'dist', keepLines: false })];
  processes.push(await startBridgeProcess({ ...env, ROLE: 'worker', ...(workerNodeOptions ? { NODE_OPTIONS: workerNodeOptions } : {}) }, { entry: 'dist', keepLines: false }));
  const [api, worker] = processes as [(typeof processes)[0], (typeof processes)[0]];
  return {
    hookIds,
    queue,
    apiUrl: api.url,
    workerPid: worker.child.pid as number,
    async stop() {
      for (const p of processes) await p.stop();
      await queue.close();
      inspector.disconnect();
    },
  };
}

/** The run's messages for each hook, from one customer per hook whose e-mail is the run's own and who has no phone. */
function messagesFor(hookIds: readonly string[], conversations: number, perHook: number, tag: string, firstConversationId = 20_000): { hookId: string; body: string }[] {
  const perHookLists = hookIds.map((hookId, h) =>
    syncScenario({ conversations, perConversation: Math.ceil(perHook / conversations), firstConversationId: firstConversationId + h * 1_000, firstMessageId: firstConversationId * 1_000 + h * 100_000 })
      .slice(0, perHook)
      // No phone: the fixture's would find (and bind to) a user another test or run created with it.
      .map((m) => ({ hookId, body: m.body.replaceAll('marie.dupont@example.org', `cgbbench-${tag}-${hookId}@example.org`).replaceAll('"+33612345678"', 'null') })),
  );
  const out: { hookId: string; body: string }[] = [];
  for (let i = 0; i < perHook; i += 1) for (const list of perHookLists) out.push(list[i] as { hookId: string; body: string });
  return out;
}

async function post(apiUrl: string, m: { hookId: string; body: string }): Promise<void> {
  const res = await fetch(`${apiUrl}/webhooks/chatwoot/${m.hookId}`, { method: 'POST', headers: signedHeaders(SECRET, m.body), body: m.body });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
}

async function drained(queue: Queue<SyncJobData>, total: number, deadlineMs: number): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('completed', 'failed');
    if ((counts.completed ?? 0) + (counts.failed ?? 0) >= total) return;
    if (performance.now() > deadlineMs) throw new Error(`real-GLPI bench stuck: ${JSON.stringify(await queue.getJobCounts())}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** GLPI ids this run created, from the hooks' mapping records, purged on the server itself (not through the proxy). */
async function cleanup(redis: RedisChild, glpi: RealGlpiEnv, prefixes: { prefix: string; hookIds: string[] }[]): Promise<RealGlpiResult['cleanup']> {
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const headers = { 'App-Token': glpi.appToken, 'Content-Type': 'application/json' };
  const init = (await (await fetch(`${glpi.url}/initSession`, { headers: { ...headers, Authorization: `user_token ${glpi.userToken}` } })).json()) as { session_token: string };
  const session = { ...headers, 'Session-Token': init.session_token };
  const result = { tickets: 0, users: 0, failures: 0 };
  try {
    for (const { prefix, hookIds } of prefixes) {
      for (const hookId of hookIds) {
        const root = redisKeys(prefix).mapping(hookId);
        const tickets = (await inspector.hkeys(`${root}:tickets`)).map(Number);
        const users = (await inspector.smembers(`${root}:created:user`)).map(Number);
        for (const [itemtype, ids] of [['Ticket', tickets], ['User', users]] as const) {
          for (const id of ids) {
            const res = await fetch(`${glpi.url}/${itemtype}/${id}?force_purge=true`, { method: 'DELETE', headers: session });
            await res.arrayBuffer();
            if (res.ok) result[itemtype === 'Ticket' ? 'tickets' : 'users'] += 1;
            else result.failures += 1;
          }
        }
      }
    }
  } finally {
    await fetch(`${glpi.url}/killSession`, { headers: session }).catch(() => undefined);
    inspector.disconnect();
  }
  return result;
}

async function throughput(redis: RedisChild, glpi: RealGlpiEnv, proxy: CountingProxy, tag: string, phase: string, hooks: number, perHook: number, conversations: number, dir: string, created: { prefix: string; hookIds: string[] }[], workerNodeOptions: string | undefined): Promise<RealThroughput> {
  const rig = await startRig(redis, glpi, proxy.url, tag, phase, hooks, true, dir, workerNodeOptions);
  created.push({ prefix: `cgbbenchreal${tag}${phase}`, hookIds: rig.hookIds });
  try {
    const messages = messagesFor(rig.hookIds, conversations, perHook, tag);
    await mapLimit(messages, 16, (m) => post(rig.apiUrl, m));
    const memory = sampleMemory(rig.workerPid);
    proxy.reset();
    const started = performance.now();
    await rig.queue.resume();
    await drained(rig.queue, messages.length, started + Math.max(300_000, messages.length * 2_000));
    const elapsedS = (performance.now() - started) / 1000;
    const glpiCalls = [...proxy.calls.values()].reduce((a, b) => a + b, 0);
    const callsPerMessage = glpiCalls / messages.length;
    return {
      hooks,
      messages: messages.length,
      conversations: conversations * hooks,
      elapsedS: round(elapsedS),
      eventsPerS: round(messages.length / elapsedS, 1),
      glpiCalls,
      glpiCallsPerMessage: round(callsPerMessage, 3),
      glpiCallsByEndpoint: Object.fromEntries(proxy.calls),
      glpiMeanCallMs: round(proxy.meanMs(), 1),
      mutexBoundEventsPerS: round(1 / (callsPerMessage * (proxy.meanMs() / 1000)), 1),
      failed: await rig.queue.getFailedCount(),
      workerPeakRssMiB: memory.stop().peakRssMiB,
    };
  } finally {
    await rig.stop();
  }
}

async function steady(redis: RedisChild, glpi: RealGlpiEnv, proxy: CountingProxy, tag: string, phase: string, hooks: number, ratePerS: number, durationS: number, dir: string, created: { prefix: string; hookIds: string[] }[], workerNodeOptions: string | undefined): Promise<RealLatency> {
  const rig = await startRig(redis, glpi, proxy.url, tag, phase, hooks, false, dir, workerNodeOptions);
  created.push({ prefix: `cgbbenchreal${tag}${phase}`, hookIds: rig.hookIds });
  try {
    const total = Math.round(ratePerS * durationS);
    const conversations = Math.max(1, Math.round(total / 20 / hooks));
    const messages = messagesFor(rig.hookIds, conversations, Math.ceil(total / hooks), tag).slice(0, total);
    // Warm-up: the worker's GLPI session and the customers exist before the clock starts.
    const WARM_UP_CONVERSATION = 90_000;
    for (const m of messagesFor(rig.hookIds, 1, 1, tag, WARM_UP_CONVERSATION)) await post(rig.apiUrl, m);
    await drained(rig.queue, hooks, performance.now() + 120_000);
    const started = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < messages.length; i += 1) {
      const due = started + (i * 1000) / ratePerS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sends.push(post(rig.apiUrl, messages[i] as { hookId: string; body: string }));
    }
    await Promise.all(sends);
    await drained(rig.queue, messages.length + hooks, performance.now() + 300_000);
    const jobs = (await rig.queue.getJobs(['completed'], 0, -1)).filter((j) => (j.data.conversationId ?? 0) < WARM_UP_CONVERSATION);
    const latencies = jobs.map((j) => (j.finishedOn ?? Number.NaN) - Date.parse(j.data.receivedAt)).filter(Number.isFinite).sort((a, b) => a - b);
    const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
    return { hooks, ratePerS, messages: latencies.length, latencyMs: { p50: pick(0.5), p99: pick(0.99), max: latencies.at(-1) ?? Number.NaN }, failed: await rig.queue.getFailedCount() };
  } finally {
    await rig.stop();
  }
}

/** `export NAME=value` lines of a real-GLPI kit env file. */
function readEnvFile(file: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) env[match[1] as string] = (match[2] as string).replace(/^["']|["']$/g, '');
  }
  return env;
}

/** The real GLPIs to bench: BENCH_REAL_GLPI_ENVS (comma-separated kit env files), else GLPI_TEST_* when set. */
export function realGlpiTargets(env: NodeJS.ProcessEnv = process.env): RealGlpiEnv[] {
  const files = (env.BENCH_REAL_GLPI_ENVS ?? '').split(',').map((f) => f.trim()).filter((f) => f !== '');
  const targets = files.length > 0 ? files.map((f) => realGlpiEnv(readEnvFile(f))) : [realGlpiEnv(env)];
  return targets.filter((t): t is RealGlpiEnv => t !== undefined);
}

export async function runRealGlpiSync(redis: RedisChild, glpi: RealGlpiEnv, options: { messagesPerHook: number; conversationsPerHook: number; ratesPerS: number[]; durationS: number; steadyHooks: number; workerNodeOptions?: string | undefined }): Promise<RealGlpiResult> {
  const tag = randomUUID().slice(0, 6);
  const dir = mkdtempSync(join(tmpdir(), 'cgb-bench-real-'));
  const proxy = await countingProxy(glpi.url);
  const created: { prefix: string; hookIds: string[] }[] = [];
  try {
    const oneHook = await throughput(redis, glpi, proxy, tag, 'one', 1, options.messagesPerHook, options.conversationsPerHook, dir, created, options.workerNodeOptions);
    const fourHooks = await throughput(redis, glpi, proxy, tag, 'four', 4, options.messagesPerHook, options.conversationsPerHook, dir, created, options.workerNodeOptions);
    const latency: RealLatency[] = [];
    for (const rate of options.ratesPerS) latency.push(await steady(redis, glpi, proxy, tag, `steady${latency.length}`, options.steadyHooks, rate, options.durationS, dir, created, options.workerNodeOptions));
    return { version: glpi.version, url: glpi.url, oneHook, fourHooks, steady: latency, cleanup: await cleanup(redis, glpi, created) };
  } catch (err) {
    await cleanup(redis, glpi, created).catch(() => undefined);
    throw err;
  } finally {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
