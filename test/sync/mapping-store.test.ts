import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { MappingStore } from '../../src/sync/mapping-store.js';
import { deletePrefix, recordingPipelines, testPrefix, testRedis } from '../support/redis.js';

describe('the mapping store context reads', () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(() => {
    redis = testRedis();
    prefix = testPrefix('mapping-store');
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('reads no message slot for a conversation event (no HGET on the messages hash)', async () => {
    const recorded = recordingPipelines(redis);
    const store = new MappingStore(recorded.redis, redisKeys(prefix), 'acme');
    await store.setTicket(58, 12, [9_001]);
    // A message recorded under id 0 must not leak into a conversation read either.
    await redis.hset(`${redisKeys(prefix).mapping('acme')}:msgs:58`, '0', 'c');

    const read = await store.readConversationContext(58, undefined);

    expect(read.conversation.ticketId).toBe(12);
    expect(read.customer).toBeUndefined();
    expect(recorded.commands.map(([name]) => name)).toEqual(['hgetall', 'get']);
    expect(recorded.commands.some(([, key]) => key?.includes(':msgs:'))).toBe(false);
  });

  it('still reads the slot and writes the first intent in the same pipeline for a message', async () => {
    const recorded = recordingPipelines(redis);
    const store = new MappingStore(recorded.redis, redisKeys(prefix), 'acme');

    const content = await store.readMessageContext(58, 9_001, undefined, undefined, 1_000);
    expect(content.slot).toEqual({ state: 'content' });
    expect(content.intentWritten).toBe(false);

    const fresh = await store.readMessageContext(58, 9_002, undefined, undefined, 1_000);
    expect(fresh.slot).toEqual({ state: 'none' });
    expect(fresh.intentWritten).toBe(true);
    expect(await redis.hget(`${redisKeys(prefix).mapping('acme')}:msgs:58`, '9002')).toMatch(/^\?/);
    expect(recorded.commands.filter(([name]) => name === 'hget').map(([, , field]) => field)).toEqual(['9001', '9002']);
  });
});
