import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, type RedisKeys } from '../../src/redis/keys.js';
import { MappingStore } from '../../src/sync/mapping-store.js';
import { ReadAheadBoard } from '../../src/sync/read-ahead.js';
import { deletePrefix, recordingPipelines, testPrefix, testRedis } from '../support/redis.js';

// A job's context read sent while it waits for its turn (mapping-store.ts readMessageContextAhead,
// read-ahead.ts): used at the turn only while still true, read again otherwise, never trusted
// across another acquisition of the lock.

const HOOK = 'acme';
const AGENT = 'lucas.martin@acme-it.example';

describe('a context read sent ahead of the job turn', () => {
  let redis: Redis;
  let prefix: string;
  let keys: RedisKeys;
  let conversationId = 400;

  beforeAll(() => {
    redis = testRedis();
    prefix = testPrefix('read-ahead');
    keys = redisKeys(prefix);
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  /** A conversation of its own per test, with a ticket. */
  async function setup(board = new ReadAheadBoard()) {
    conversationId += 1;
    const recorded = recordingPipelines(redis);
    const store = (r: Redis = recorded.redis) => new MappingStore(r, keys, HOOK, { readAheads: board });
    await store(redis).setTicket(conversationId, 9_000 + conversationId, []);
    const conv = `${keys.mapping(HOOK)}:conv:${conversationId}`;
    const msgs = `${keys.mapping(HOOK)}:msgs:${conversationId}`;
    return { board, recorded, store, conv, msgs, conversationId };
  }

  /**
   * A job of message 1 that sends its read ahead, waits while `meanwhile` runs (what the jobs
   * ahead of it do), then reads at its turn: under the same acquisition of the lock unless
   * `turnLease` says the lock was taken again.
   */
  async function readAroundTurn(
    t: Awaited<ReturnType<typeof setup>>,
    meanwhile: () => Promise<unknown>,
    options: { contactId?: number; agent?: string; job?: MappingStore; turnLease?: object } = {},
  ) {
    const lease = {};
    const job = options.job ?? t.store();
    job.readMessageContextAhead(lease, t.conversationId, 1, options.contactId, options.agent, 1_000);
    await meanwhile();
    job.ownTurn(options.turnLease ?? lease);
    return job.readMessageContext(t.conversationId, 1, options.contactId, options.agent, 2_000);
  }

  /** Changes Redis behind the bridge's back (no process of it could, while it holds the lock): shows whether a read was made. */
  const behindItsBack = (key: string, field: string, value: string) => redis.hset(key, field, value);

  it('is used at the turn without a second read, intent included, when nothing wrote what it read', async () => {
    const t = await setup();
    const read = await readAroundTurn(
      t,
      async () => {
        // The job ahead in the line records its own message: another slot, not this read's.
        t.store(redis).recordFollowup(t.conversationId, 2, 77);
        await behindItsBack(t.conv, 'ticketId', '1');
      },
      { agent: AGENT },
    );

    expect(read.conversation.ticketId).toBe(9_000 + t.conversationId); // what the early read saw
    expect({ slot: read.slot, intentWritten: read.intentWritten }).toEqual({ slot: { state: 'none' }, intentWritten: true });
    expect(t.recorded.commands.filter(([name]) => name === 'hgetall')).toHaveLength(1);
    expect(await redis.hget(t.msgs, '1')).toMatch(/^\?\{"at":1000,"documentIds":\{\},"by":"[0-9a-f-]{36}"\}$/);
    expect(t.board.size).toBe(0);
  });

  it('is read again when a job ahead wrote the conversation (its ticket created), and its own intent is still known as its own', async () => {
    const board = new ReadAheadBoard();
    const t = await setup(board);
    await redis.hdel(t.conv, 'ticketId');
    // The job ahead creates the conversation's ticket while this one waits.
    const read = await readAroundTurn(t, () => t.store(redis).setTicket(t.conversationId, 555, []));

    expect(read.conversation.ticketId).toBe(555);
    // The slot holds the intent the early read wrote: this job's, so no look in GLPI is needed.
    expect({ slot: read.slot, intentWritten: read.intentWritten }).toEqual({ slot: { state: 'none' }, intentWritten: true });
    expect(t.recorded.commands.filter(([name]) => name === 'hgetall')).toHaveLength(2);
  });

  it('is read again when the message itself was recorded meanwhile (a copy of the delivery ran first)', async () => {
    const t = await setup();
    const read = await readAroundTurn(t, async () => t.store(redis).recordFollowup(t.conversationId, 1, 4242));

    expect(read.slot).toEqual({ state: 'followup', followupId: 4242 });
    expect(read.intentWritten).toBe(false);
  });

  it('is read again when the customer, the agent or the time zone it read were written', async () => {
    for (const write of [
      (s: MappingStore) => s.setCustomerChecked(31, 5),
      (s: MappingStore) => s.setAgentUser(' Lucas.Martin@ACME-it.example ', 12), // the same agent, written as Chatwoot may send it
      (s: MappingStore) => s.setTzOffset(120),
    ]) {
      const t = await setup();
      await readAroundTurn(t, () => write(t.store(redis)), { contactId: 31, agent: AGENT });
      expect(t.recorded.commands.filter(([name]) => name === 'hgetall'), 'conversation and contact, read twice').toHaveLength(4);
    }
  });

  it('is read again after every MappingStore write to what it read, and every store method is listed here as a write or not', async () => {
    // Each write aimed at what a job of message 1, contact 31 and the agent reads.
    const writes: Record<string, (s: MappingStore, conversationId: number) => Promise<unknown>> = {
      setTicketIntent: (s, c) => s.setTicketIntent(c, { at: 1, contentIds: [1] }),
      setTicket: (s, c) => s.setTicket(c, 77, []),
      forgetTicket: (s, c) => s.forgetTicket(c),
      setAgreedStatus: (s, c) => s.setAgreedStatus(c, 'solved'),
      setStatus: (s, c) => s.setStatus(c, 'pending', 5),
      setFollowupIntent: (s, c) => s.setFollowupIntent(c, 1, 5, {}),
      setFollowup: (s, c) => s.setFollowup(c, 1, 88),
      recordFollowup: async (s, c) => {
        s.recordFollowup(c, 1, 89);
        await s.settle();
      },
      setCustomer: (s) => s.setCustomer(31, { kind: 'user', id: 7, email: 'a@example.com', phone: undefined, name: "'; DROP TABLE --" }),
      setCustomerChecked: (s) => s.setCustomerChecked(31, 5),
      forgetCustomer: (s) => s.forgetCustomer(31),
      setAgentUser: (s) => s.setAgentUser(AGENT, 12),
      setTzOffset: (s) => s.setTzOffset(60),
    };
    // Reads, the job's own bookkeeping, and writes to keys no context read covers (the tickets map, the created sets).
    const others = ['constructor', 'touch', 'replicated', 'readMessageContext', 'readMessageContextAhead', 'readConversationContext', 'ownTurn', 'close'];
    others.push('getConversation', 'conversationsOf', 'indexExistingTickets', 'followupIdsOf', 'settle', 'getCustomer', 'markCreated', 'isCreated');
    // A new method fails here until it is put in one list: a write that does not report itself would let a stale read through.
    expect(Object.getOwnPropertyNames(MappingStore.prototype).sort()).toEqual([...Object.keys(writes), ...others].sort());
    for (const [name, write] of Object.entries(writes)) {
      const t = await setup();
      await readAroundTurn(t, () => write(t.store(redis), t.conversationId), { contactId: 31, agent: AGENT });
      expect(t.recorded.commands.filter(([command]) => command === 'hgetall'), `${name}: conversation and contact, read twice`).toHaveLength(4);
      expect(t.board.size).toBe(0);
    }
  });

  it('is never trusted under another acquisition of the lock: another process may have written in between', async () => {
    const t = await setup();
    // The lock was released and taken again: the turn comes under another acquisition.
    const read = await readAroundTurn(t, () => behindItsBack(t.conv, 'ticketId', '777'), { turnLease: {} });

    expect(read.conversation.ticketId).toBe(777);
    expect(read.intentWritten).toBe(true);
  });

  it('takes an intent another job wrote for the message as not its own (so GLPI is looked at before posting)', async () => {
    const t = await setup();
    // A copy of the delivery, in another process, wrote its intent first and died.
    await redis.hset(t.msgs, '1', '?{"at":900,"documentIds":{}}');
    const read = await readAroundTurn(t, async () => undefined, { turnLease: {} });

    expect(read.slot).toEqual({ state: 'intent', at: 900, documentIds: {} });
    expect(read.intentWritten).toBe(false);
  });

  it('is read again at the turn when Redis did not answer the early read', async () => {
    const t = await setup();
    let failNext = true;
    // The first pipeline fails as a dropped connection would; the next ones reach Redis.
    const flaky = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop !== 'pipeline') return Reflect.get(target, prop, receiver) as unknown;
        return () => {
          const pipeline = target.pipeline();
          if (failNext) {
            failNext = false;
            pipeline.exec = () => Promise.reject(new Error('Connection is closed.'));
          }
          return pipeline;
        };
      },
    });
    const read = await readAroundTurn(t, async () => undefined, { job: t.store(flaky) });

    expect(read.conversation.ticketId).toBe(9_000 + t.conversationId);
    expect({ slot: read.slot, intentWritten: read.intentWritten }).toEqual({ slot: { state: 'none' }, intentWritten: true });
    expect(await redis.hget(t.msgs, '1')).toBe('?{"at":2000,"documentIds":{}}');
    expect(t.board.size).toBe(0);
  });

  it('is not used for another message, and a job that ends without its turn leaves the board', async () => {
    const board = new ReadAheadBoard();
    const t = await setup(board);
    const lease = {};
    const job = t.store();
    job.readMessageContextAhead(lease, t.conversationId, 1, undefined, undefined, 1_000);
    job.ownTurn(lease);
    await behindItsBack(t.conv, 'ticketId', '888');
    const other = await job.readMessageContext(t.conversationId, 2, undefined, undefined, 2_000);
    expect(other.conversation.ticketId).toBe(888);

    const gaveUp = t.store();
    gaveUp.readMessageContextAhead(lease, t.conversationId, 3, undefined, undefined, 1_000);
    expect(board.size).toBe(1);
    gaveUp.close();
    expect(board.size).toBe(0);
  });

  it('sends nothing early without a board (a store outside the job runner), nor with REDIS_WAIT_REPLICAS', async () => {
    const t = await setup();
    const stores = [
      new MappingStore(t.recorded.redis, keys, HOOK),
      // A failover while the job waits could lose its intent; the replica wait at its turn would
      // run on the new connection and wait for nothing.
      new MappingStore(t.recorded.redis, keys, HOOK, { readAheads: t.board, replicaWait: { replicas: 1, timeoutMs: 100 } }),
    ];
    for (const job of stores) job.readMessageContextAhead({}, t.conversationId, 1, undefined, undefined, 1_000);
    expect(t.recorded.commands).toHaveLength(0);
    expect(t.board.size).toBe(0);
    expect(await redis.hget(t.msgs, '1')).toBeNull();
  });
});
