import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sign } from '../../src/chatwoot/signature.js';
import { loadFixture } from '../support/fixtures.js';

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

/** Chatwoot's signed headers for a body, with a distinct delivery id unless one is given. */
export function signedHeaders(secret: string, body: string | Buffer, delivery: string = randomUUID(), nowMs = Date.now()): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'x-chatwoot-delivery': delivery,
    'x-chatwoot-timestamp': String(ts),
    'x-chatwoot-signature': sign(secret, ts, body),
  };
}

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
  /** `tsx` runs src/server.ts (tests: always the current source); `dist` runs the build (benchmarks). */
  entry?: 'tsx' | 'dist';
  /** Keep output lines after start-up (default true; the benchmark drops them to measure nothing of its own). */
  keepLines?: boolean;
  startedMessage?: string;
}

export async function startBridgeProcess(env: Record<string, string>, options: BridgeProcessOptions = {}): Promise<BridgeProcess> {
  const startedMessage = options.startedMessage ?? 'chatwoot-glpi-bridge started';
  const port = env.PORT !== undefined && env.PORT !== '0' ? Number(env.PORT) : await freePort();
  const args = options.entry === 'dist' ? ['dist/server.js'] : ['--import', 'tsx', 'src/server.ts'];
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
