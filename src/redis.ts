import { Redis, type RedisOptions } from 'ioredis';

/**
 * Three kinds of connection, because they must fail differently:
 * - `producer`: the HTTP path. Fails fast when Redis is away (no offline queue, one retry) so the
 *   receiver can spool to disk and still answer Chatwoot within its 5 s timeout.
 * - `worker`: BullMQ workers block on Redis and must never give up (`maxRetriesPerRequest: null`).
 * - `command`: short commands from the CLI and the worker's own state (mappings, locks).
 */
export type RedisRole = 'producer' | 'worker' | 'command';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const base: RedisOptions = {
    connectionName: `cgb-${role}`,
    // Reconnect forever with a capped delay; failures surface per command, not as a dead client.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  };
  const byRole: Record<RedisRole, RedisOptions> = {
    producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 2_000 },
    worker: { maxRetriesPerRequest: null },
    command: { maxRetriesPerRequest: 3, connectTimeout: 5_000 },
  };
  const client = new Redis(url, { ...base, ...byRole[role], ...extra });
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
  client.on('error', () => undefined);
  return client;
}

/** Resolves true once the client is ready, false after `timeoutMs` (the caller decides what that means). */
export function waitForReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
