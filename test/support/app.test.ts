import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './app.js';

/**
 * On a busy machine a test listing thousands of jobs over the producer connection failed with
 * "Command timed out" (its 2 s command timeout is for answering Chatwoot, not for test reads).
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
    expect(t.redis.options.commandTimeout).toBe(2_000); // the app's own producer keeps it
    // BullMQ keeps the ioredis instance it was given as opts.connection.
    const client = t.queue.opts.connection as Redis;
    expect(client.options.commandTimeout).toBeUndefined();
    expect(client).not.toBe(t.redis);
  });
});
