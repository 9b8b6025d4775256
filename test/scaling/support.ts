import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { RedisConnection } from '../../src/redis/connection.js';
import { SYNC_QUEUE_NAME } from '../../src/queue/job.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { glpiDecode, startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { checkGlpiResult, mapLimit, signedHeaders, startBridgeProcess, syncScenario, type BridgeProcess, type ScenarioMessage } from '../reliability/support.js';

/**
 * Each scaling test starts Redis servers and service processes and syncs many events: seconds when
 * the machine is idle, minutes when it is busy (four busy loops on the 2 cores took the cluster
 * test past 180 s). A bound, not a pause: the waits inside finish as soon as the work is done.
 */
export const SCALE_TEST_TIMEOUT_MS = 600_000;

/**
 * The scale-out rig: N hooks, each with a GLPI simulator of its own (as each customer of a
 * multi-tenant bridge has its own GLPI), one HOOKS_FILE naming them all, and bridge processes of
 * any role started on it. Works on any Redis the environment names (single, Sentinel, Cluster).
 */

export const SCALE_SECRET = 'scale-out-secret-8d1e4f0a';

/** Stall detection in seconds, not BullMQ's 30 s: a job on a connection lost in a failover comes back quickly. */
export const SCALE_TUNING = JSON.stringify({
  lockDurationMs: 3_000,
  stalledIntervalMs: 1_000,
  lockRetryDelayMs: 50,
  backoffMaxMs: 500,
  hookLock: { ttlMs: 3_000, extendThresholdMs: 1_500 },
});

export interface HookMessage extends ScenarioMessage {
  hookId: string;
}

export interface ScaleRig {
  hookIds: string[];
  sims: Map<string, GlpiSimulator>;
  /** Every message of every hook, interleaved hook by hook. */
  scenario: HookMessage[];
  /** Environment of a bridge process on this rig; `redisEnv` names the Redis. */
  env(role: 'api' | 'worker' | 'all', extra?: Record<string, string>): Record<string, string>;
  start(role: 'api' | 'worker' | 'all', extra?: Record<string, string>): Promise<BridgeProcess>;
  /** Posts every message of `messages` to `apiUrl`, `connections` at a time; returns the HTTP statuses and answers. */
  post(apiUrl: string, messages: readonly HookMessage[], connections: number, onAnswer?: () => void): Promise<{ status: number; body: { id?: string; status?: string; spooled?: boolean } }[]>;
  /** checkGlpiResult for every hook; [] when GLPI holds exactly what the scenario sent. */
  problems(messages?: readonly HookMessage[]): string[];
  /** The sync queue through a connection of the test's own. */
  openQueue(connection: RedisConnection, bullPrefix: string): Queue<SyncJobData>;
  close(): Promise<void>;
}

export async function startScaleRig(options: {
  name: string;
  prefix: string;
  hooks: number;
  conversations: number;
  perConversation: number;
  redisEnv: Record<string, string>;
  glpiLatencyMs?: number;
}): Promise<ScaleRig> {
  const dir = mkdtempSync(join(tmpdir(), `cgb-${options.name}-`));
  const hookIds = Array.from({ length: options.hooks }, (_, i) => `h${i + 1}`);
  const sims = new Map<string, GlpiSimulator>();
  for (const id of hookIds) sims.set(id, await startGlpiSimulator({ latencyMs: options.glpiLatencyMs ?? 0 }));
  const hooksFile = join(dir, 'hooks.json');
  writeFileSync(
    hooksFile,
    JSON.stringify({
      hooks: hookIds.map((id) => ({ id, glpiApiUrl: (sims.get(id) as GlpiSimulator).url, glpiUserToken: 'admin-user-token', chatwootWebhookSecret: SCALE_SECRET })),
    }),
  );
  const perHook = hookIds.map((hookId, h) =>
    syncScenario({ conversations: options.conversations, perConversation: options.perConversation, firstConversationId: 10_000 + h * 1_000, firstMessageId: 90_000_000 + h * 100_000 }).map(
      (m): HookMessage => ({ ...m, hookId }),
    ),
  );
  // Hook by hook within each round, as a busy multi-tenant bridge receives them.
  const scenario: HookMessage[] = [];
  for (let i = 0; i < (perHook[0]?.length ?? 0); i += 1) for (const list of perHook) scenario.push(list[i] as HookMessage);

  const processes: BridgeProcess[] = [];
  let spools = 0;
  const env = (role: 'api' | 'worker' | 'all', extra: Record<string, string> = {}) => ({
    ...options.redisEnv,
    ROLE: role,
    REDIS_KEY_PREFIX: options.prefix,
    // Each api replica has a disk spool of its own (see docs/scaling.md).
    SPOOL_DIR: join(dir, `spool-${(spools += 1)}`),
    HOOKS_FILE: hooksFile,
    WORKER_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
    CGB_TEST_WORKER_TUNING: SCALE_TUNING,
    ...extra,
  });
  return {
    hookIds,
    sims,
    scenario,
    env,
    async start(role, extra) {
      const bridge = await startBridgeProcess(env(role, extra), { entry: 'tuned' });
      processes.push(bridge);
      return bridge;
    },
    post(apiUrl, messages, connections, onAnswer) {
      return mapLimit(messages, connections, async (m) => {
        try {
          const res = await fetch(`${apiUrl}/webhooks/chatwoot/${m.hookId}`, { method: 'POST', headers: signedHeaders(SCALE_SECRET, m.body), body: m.body });
          return { status: res.status, body: (await res.json()) as { id?: string; status?: string; spooled?: boolean } };
        } catch (err) {
          return { status: 0, body: { status: (err as Error).message } };
        } finally {
          onAnswer?.();
        }
      });
    },
    problems(messages = scenario) {
      return hookIds.flatMap((id) =>
        checkGlpiResult(
          sims.get(id) as GlpiSimulator,
          messages.filter((m) => m.hookId === id),
          glpiDecode,
        ).map((p) => `${id}: ${p}`),
      );
    },
    openQueue(connection, bullPrefix) {
      const queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection, prefix: bullPrefix });
      queue.on('error', () => undefined);
      return queue;
    },
    async close() {
      await Promise.all(processes.map((p) => p.stop(10_000).catch(() => p.kill())));
      for (const sim of sims.values()) await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
