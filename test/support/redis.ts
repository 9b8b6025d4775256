import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Set by the leftover-keys globalSetup, so that it checks only the keys of its own run. */
export const TEST_RUN_ENV = 'CGB_TEST_RUN';

/** The prefix every key of one `vitest run` starts with (`cgbtest-` outside such a run). */
export function testRunPrefix(): string {
  const run = process.env[TEST_RUN_ENV];
  return run === undefined || run === '' ? 'cgbtest-' : `cgbtest-${run}-`;
}

/** A key prefix of its own for each test file, so files can run in parallel on one Redis. */
export function testPrefix(name: string): string {
  return `${testRunPrefix()}${name}-${randomUUID().slice(0, 8)}`;
}

export function testRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
}

/** Deletes every key under a prefix (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Polls `check` until it returns a value other than undefined; bounded by count, never by a fixed sleep. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, attempts = 2_400, everyMs = 50): Promise<T> {
  for (let i = 0; i < attempts; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The same connection, with the commands queued on its pipelines recorded (name and key). */
export function recordingPipelines(redis: Redis): { redis: Redis; commands: string[][] } {
  const commands: string[][] = [];
  const wrapped = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop !== 'pipeline') return Reflect.get(target, prop, receiver) as unknown;
      return () => {
        const pipeline = target.pipeline();
        return new Proxy(pipeline, {
          get(p, name, r) {
            const value = Reflect.get(p, name, r) as unknown;
            if (typeof value !== 'function' || name === 'exec' || typeof name !== 'string') return value;
            return (...args: unknown[]) => {
              commands.push([name, ...args.map(String)]);
              return (value as (...a: unknown[]) => unknown).apply(p, args);
            };
          },
        });
      };
    },
  });
  return { redis: wrapped, commands };
}
