import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { redisKeys } from '../../src/redis/keys.js';
import { SYNC_QUEUE_NAME } from '../../src/queue/job.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { loadFixture } from '../support/fixtures.js';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';

/** A port nothing listens on right now (the OS picks it; 127.0.0.1 only). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function pingUntil(port: number, up: boolean, password?: string, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    const client = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    client.on('error', () => undefined);
    const answered = await client
      .connect()
      .then(() => client.ping())
      .then(() => true)
      .catch(() => false);
    client.disconnect();
    if (answered === up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not go ${up ? 'up' : 'down'}`);
}

/**
 * A private `redis-server` child on its own port, for tests that stop and start Redis. AOF with
 * `appendfsync always`, so what Redis acknowledged before a SIGKILL is still there after the
 * restart: the bridge's promise is "durable in Redis or in the spool", which only holds for a
 * Redis that persists what it acknowledges (the compose file runs Redis with AOF for that reason).
 */
export class RedisChild {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'cgb-redis-'));

  private constructor(
    readonly port: number,
    private readonly password: string | undefined,
    private readonly appendfsync: 'always' | 'everysec',
  ) {}

  /**
   * `password`: run with `requirepass` (the secrets test checks it never shows). `appendfsync`:
   * `always` (default, for kill tests) or `everysec` (what docker-compose runs; the benchmark).
   */
  static async start(options: { password?: string; appendfsync?: 'always' | 'everysec' } = {}): Promise<RedisChild> {
    const redis = new RedisChild(await freePort(), options.password, options.appendfsync ?? 'always');
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://${this.password !== undefined ? `:${this.password}@` : ''}127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', this.appendfsync, '--dir', this.dir, '--daemonize', 'no', ...(this.password !== undefined ? ['--requirepass', this.password] : [])],
      { stdio: 'ignore' },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await pingUntil(this.port, true, this.password);
  }

  /** SIGKILL: Redis gets no chance to say goodbye to its clients. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
    await pingUntil(this.port, false, this.password);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { signedHeaders } from '../support/signed-webhook.js';

const messageTemplate = loadFixture('message_created.incoming');

/** A `message_created` body with its own message id (content dedupe keys on it) and conversation. */
export function messageCreatedBody(messageId: number, conversationId = 58, content = `message ${messageId}`): string {
  const payload = structuredClone(messageTemplate) as Record<string, unknown> & { conversation: Record<string, unknown> };
  payload.id = messageId;
  payload.content = content;
  payload.conversation = { ...payload.conversation, id: conversationId };
  return JSON.stringify(payload);
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

export interface BridgeProcess {
  readonly child: ChildProcess;
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  readonly port: number;
  /** Every stdout and stderr line so far (pino JSON lines, plus anything printed otherwise). */
  readonly lines: string[];
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then wait for exit (SIGKILL after `graceMs` if it is still there). */
  stop(graceMs?: number): Promise<number | string>;
  kill(): Promise<number | string>;
}

const ROOT = new URL('../../', import.meta.url);

/**
 * `src/server.ts` as a child process (through tsx, so it is always the current source), with a
 * clean environment: only what `env` gives plus PATH/HOME. Resolves once the bridge logs that it
 * started; rejects with the output if it exits first.
 */
export interface BridgeProcessOptions {
  /**
   * `tsx` runs src/server.ts (tests: always the current source); `dist` runs the build
   * (benchmarks); `tuned` runs test/reliability/bridge-entry.ts with CGB_TEST_WORKER_TUNING.
   */
  entry?: 'tsx' | 'dist' | 'tuned';
  /** Keep output lines after start-up (default true; the benchmark drops them to measure nothing of its own). */
  keepLines?: boolean;
  startedMessage?: string;
}

export async function startBridgeProcess(env: Record<string, string>, options: BridgeProcessOptions = {}): Promise<BridgeProcess> {
  const startedMessage = options.startedMessage ?? 'chatwoot-glpi-bridge started';
  const port = env.PORT !== undefined && env.PORT !== '0' ? Number(env.PORT) : await freePort();
  const args = {
    tsx: ['--import', 'tsx', 'src/server.ts'],
    dist: ['dist/server.js'],
    tuned: ['--import', 'tsx', 'test/reliability/bridge-entry.ts'],
  }[options.entry ?? 'tsx'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'debug', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = options.keepLines ?? true;
  let started = false;
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      if (keep || !started) lines.push(...parts.filter((l) => l !== ''));
    });
    stream?.on('end', () => {
      if (rest !== '') lines.push(rest);
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  // Started = the start line was logged, or /health answers (the line is not there under LOG_LEVEL=warn).
  const healthy = () =>
    fetch(`http://127.0.0.1:${port}/health`)
      .then((res) => res.ok)
      .catch(() => false);
  for (let i = 0; !lines.some((l) => l.includes(startedMessage)) && !(i % 4 === 3 && (await healthy())); i += 1) {
    if (gone || i > 600) {
      if (!gone) child.kill('SIGKILL');
      throw new Error(`the bridge did not start:\n${lines.slice(-30).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  started = true;
  const kill = async () => {
    if (!gone) child.kill('SIGKILL');
    return exited;
  };
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    lines,
    exited,
    kill,
    async stop(graceMs = 20_000) {
      if (gone) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => void kill(), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface ScenarioMessage {
  conversationId: number;
  messageId: number;
  /** Position of the message in its conversation (0-based): Chatwoot's order. */
  index: number;
  /** Unique text in the message content, to find it again in GLPI. */
  marker: string;
  body: string;
}

/**
 * `perConversation` incoming messages in each of `conversations` conversations, interleaved the
 * way a busy inbox sends them (message 0 of every conversation, then message 1, ...), each one
 * second after the previous in Chatwoot time. The conversation carries no embedded messages, so
 * the first message the worker handles becomes the ticket's content and the others followups.
 */
export function syncScenario(options: { conversations: number; perConversation: number; firstConversationId?: number; firstMessageId?: number; tag?: string }): ScenarioMessage[] {
  const { conversations, perConversation } = options;
  const firstConversation = options.firstConversationId ?? 4_000;
  const tag = options.tag ?? randomUUID().slice(0, 8);
  let messageId = options.firstMessageId ?? 60_000_000;
  const start = Date.parse('2026-05-28T09:00:00Z');
  const out: ScenarioMessage[] = [];
  for (let index = 0; index < perConversation; index += 1) {
    for (let c = 0; c < conversations; c += 1) {
      const conversationId = firstConversation + c;
      messageId += 1;
      const marker = `m-${tag}-c${conversationId}-i${index}`;
      const payload = structuredClone(messageTemplate) as Record<string, unknown> & { conversation: Record<string, unknown> };
      payload.id = messageId;
      payload.content = `${marker} text`;
      payload.created_at = new Date(start + out.length * 1_000).toISOString();
      payload.conversation = { ...payload.conversation, id: conversationId, messages: [] };
      out.push({ conversationId, messageId, index, marker, body: JSON.stringify(payload) });
    }
  }
  return out;
}

interface GlpiView {
  state: { tickets: Record<string, unknown>[] };
  followupsOf(ticketId: number): Record<string, unknown>[];
}

/**
 * What GLPI must hold after the scenario, whatever crashed or retried on the way: one ticket
 * per conversation, every message exactly once (as the ticket's content or as a followup), and
 * the timeline (followups by date) in Chatwoot's order. Returns the problems found.
 */
export function checkGlpiResult(sim: GlpiView, scenario: readonly ScenarioMessage[], decode: (text: string) => string): string[] {
  const problems: string[] = [];
  const byConversation = new Map<number, ScenarioMessage[]>();
  for (const m of scenario) byConversation.set(m.conversationId, [...(byConversation.get(m.conversationId) ?? []), m]);
  for (const [conversationId, messages] of byConversation) {
    const reference = `Chatwoot conversation #${conversationId}`;
    const tickets = sim.state.tickets.filter((t) => decode(String(t.content ?? '')).includes(reference));
    if (tickets.length !== 1) {
      problems.push(`conversation ${conversationId}: ${tickets.length} tickets`);
      continue;
    }
    const ticket = tickets[0] as { id: number; content?: unknown };
    const content = decode(String(ticket.content ?? ''));
    const followups = sim.followupsOf(ticket.id).map((f) => decode(String(f.content ?? '')));
    for (const m of messages) {
      // "-i1" must not match "-i10": the marker is followed by a space in the content.
      const needle = `${m.marker} `;
      const seen = (content.includes(needle) ? 1 : 0) + followups.filter((f) => f.includes(needle)).length;
      if (seen !== 1) problems.push(`conversation ${conversationId}: ${m.marker} is in GLPI ${seen} times`);
    }
    const order = followups.map((f) => messages.find((m) => f.includes(`${m.marker} `))?.index ?? -1);
    if (order.some((v, i) => i > 0 && v < (order[i - 1] as number))) problems.push(`conversation ${conversationId}: timeline out of order ${JSON.stringify(order)}`);
  }
  return problems;
}

export interface WorkerRig {
  redis: RedisChild;
  sim: GlpiSimulator;
  spoolDir: string;
  /** The sync queue, read through a connection of the test's own. */
  queue: Queue<SyncJobData>;
  /** Environment of a bridge process on this rig (one hook "acme"), plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/**
 * What the process-level worker tests share: a private redis-server, a GLPI simulator, a spool
 * directory, a queue inspector, and the environment of a tuned bridge process (see bridge-entry.ts).
 */
export async function startWorkerRig(options: { name: string; prefix: string; secret: string; tuning: string; glpiLatencyMs: number }): Promise<WorkerRig> {
  const redis = await RedisChild.start();
  const sim = await startGlpiSimulator({ latencyMs: options.glpiLatencyMs });
  const spoolDir = mkdtempSync(join(tmpdir(), `cgb-${options.name}-`));
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: inspector, prefix: redisKeys(options.prefix).bullPrefix });
  return {
    redis,
    sim,
    spoolDir,
    queue,
    env: (extra = {}) => ({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: options.prefix,
      SPOOL_DIR: spoolDir,
      WORKER_CONCURRENCY: '4',
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url,
      GLPI_USER_TOKEN: 'admin-user-token',
      CHATWOOT_WEBHOOK_SECRET: options.secret,
      CGB_TEST_WORKER_TUNING: options.tuning,
      ...extra,
    }),
    async close() {
      await queue.close();
      inspector.disconnect();
      await sim.close();
      await redis.stop();
      rmSync(spoolDir, { recursive: true, force: true });
    },
  };
}
