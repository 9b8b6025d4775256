import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './app.js';

/**
 * On a busy machine a test listing thousands of jobs over the producer connection failed with
 * "Command timed out" (its 2 s command timeout is for answering Chatwoot, not for test reads), and
 * webhooks were spooled or /ready answered 503 because the test Redis took over 1.5 s to answer.
 */
describe('the test app', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reads the queue over a connection without the producer\'s short command timeout', async () => {
    // BullMQ keeps the ioredis instance it was given as opts.connection.
    const client = t.queue.opts.connection as Redis;
    expect(client.options.commandTimeout).toBeUndefined();
    expect(client).not.toBe(t.redis);
  });

  it('lets its producer wait for the test Redis as long as a busy machine needs, and no longer than a bound', () => {
    expect(t.redis.options.commandTimeout).toBe(10_000);
  });

  it('keeps the short production waits against an address where no Redis listens', async () => {
    const dead = await startTestApp({ redisUrl: 'redis://127.0.0.1:6399' });
    try {
      expect(dead.redis.options.commandTimeout).toBe(2_000);
    } finally {
      await dead.close();
    }
  });
});
