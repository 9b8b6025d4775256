import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createChatwootApiClient, type ChatwootApiClient } from '../../../src/chatwoot/api-client.js';
import { parseChatwootEvent, type ChatwootEvent } from '../../../src/chatwoot/events.js';
import { createWriteBack, glpiRootUrl, ticketUrl, writeBackSeams, type WriteBack, type WriteBackResult } from '../../../src/sync/chatwoot-to-glpi/write-back.js';
import { loadConfig } from '../../../src/config/load.js';
import type { HookConfig } from '../../../src/config/schema.js';
import { ChatwootError, isTransient } from '../../../src/errors/index.js';
import type { SyncHooks } from '../../../src/sync/chatwoot-to-glpi/context.js';
import { startChatwootApi, type ChatwootApiDouble } from '../../support/chatwoot-api/index.js';
import { timingOutChatwoot } from '../../support/chatwoot-api/timing-out.js';
import { loadFixture } from '../../support/fixtures.js';
import { deletePrefix, testPrefix, testRedis } from '../../support/redis.js';
import { redisKeys } from '../../../src/redis/keys.js';
import { writeBackKeys } from '../../../src/sync/chatwoot-account.js';
import { createEchoCheck } from '../../../src/sync/glpi-to-chatwoot/echo.js';

const TOKEN = 'chatwoot-admin-token';
const redis = testRedis();
const prefix = testPrefix('writeback');
let double: ChatwootApiDouble;
let client: ChatwootApiClient;
let writeBack: WriteBack;
let hook: HookConfig;

function hookWith(env: Record<string, string>): HookConfig {
  const config = loadConfig({
    HOOK_ID: 'acme',
    GLPI_API_URL: 'https://glpi.acme-it.example/glpi/apirest.php',
    GLPI_USER_TOKEN: 'glpi-user-token-secret',
    CHATWOOT_WEBHOOK_SECRET: 'webhook-secret-value',
    ...env,
  });
  return config.hooks.get('acme')!;
}

/** The runtime's echo check (createEchoCheck) over a write-back, for a hook id. */
function isEcho(event: ChatwootEvent, hookId = 'acme', of: WriteBack = writeBack): Promise<boolean> {
  return createEchoCheck(of, redis, redisKeys(prefix))(event, { ...hook, id: hookId });
}

function parse(payload: unknown): ChatwootEvent {
  const parsed = parseChatwootEvent(payload);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.event;
}

/**
 * A new ticket's write-back as the sync makes it (writeBackSeams): queued, then delivered. Each
 * test gets a fresh write-back, so no earlier test's Chatwoot failure defers it.
 */
async function onTicketCreated(of: WriteBack, target: HookConfig, conversation: { id: number; accountId?: number }, ticketId: number): Promise<WriteBackResult> {
  if (!(await of.queue(target, conversation, ticketId))) return { status: 'disabled' };
  return of.deliver(target, conversation);
}

beforeAll(async () => {
  double = await startChatwootApi();
  hook = hookWith({ CHATWOOT_BASE_URL: double.url, CHATWOOT_API_TOKEN: TOKEN });
  client = createChatwootApiClient(hook.chatwoot.api!);
});

afterAll(async () => {
  await client.close();
  await double.close();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

let conversationId = 100;
beforeEach(() => {
  writeBack = createWriteBack({ redis, keyPrefix: prefix, clientFor: (id) => (id === 'acme' ? client : undefined), sleep: async () => undefined });
  conversationId += 1;
  double.emitted.length = 0;
});
afterEach(() => {
  double.calls.length = 0;
});

describe('write-back of the GLPI ticket to Chatwoot', () => {
  it('derives the ticket link from the API URL', () => {
    expect(glpiRootUrl('https://glpi.acme-it.example/glpi/apirest.php/')).toBe('https://glpi.acme-it.example/glpi/');
    expect(ticketUrl('https://glpi.example.com/apirest.php/', 4521)).toBe('https://glpi.example.com/front/ticket.form.php?id=4521');
    expect(ticketUrl('https://glpi.example.com/api.php/v1/', 7)).toBe('https://glpi.example.com/front/ticket.form.php?id=7');
  });

  it('adds glpi_ticket_id to the attributes already there and posts a private note with the link', async () => {
    double.addConversation({ id: conversationId, account_id: 3, custom_attributes: { contract: 'gold', priority_level: 2 } });
    const result = await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 4521);

    expect(result).toMatchObject({ status: 'done', attribute: 'written', note: 'written' });
    const conversation = double.conversation(3, conversationId)!;
    expect(conversation.custom_attributes).toEqual({ contract: 'gold', priority_level: 2, glpi_ticket_id: 4521 });
    const note = conversation.messages.at(-1)!;
    expect(note.private).toBe(true);
    expect(note.content).toContain('#4521');
    expect(note.content).toContain('https://glpi.acme-it.example/glpi/front/ticket.form.php?id=4521');
    expect(double.calls.every((c) => c.token === TOKEN)).toBe(true);
  });

  it('writes nothing the second time (job retry or replay after success)', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 77);
    const writes = double.calls.filter((c) => c.method === 'POST').length;
    const again = await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 77);
    expect(again).toMatchObject({ status: 'done', attribute: 'already', note: 'already' });
    expect(double.calls.filter((c) => c.method === 'POST').length).toBe(writes);
    expect(double.conversation(3, conversationId)!.messages.filter((m) => m.private)).toHaveLength(1);
  });

  it('reads the account from the token profile when the event did not carry it', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    await onTicketCreated(writeBack, hook, { id: conversationId }, 12);
    expect(double.conversation(3, conversationId)!.custom_attributes.glpi_ticket_id).toBe(12);
  });

  it('is off for a hook without CHATWOOT_BASE_URL/CHATWOOT_API_TOKEN', async () => {
    const plain = hookWith({});
    expect(await onTicketCreated(writeBack, plain, { id: conversationId, accountId: 3 }, 1)).toEqual({ status: 'disabled' });
  });

  it('fails transiently on a Chatwoot 503 and, retried, writes only the missing note', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    double.failNext(503, 1, '/messages');
    const error = await writeBack.writeTicket(hook, { id: conversationId, accountId: 3 }, 31).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ChatwootError);
    expect((error as ChatwootError).code).toBe('CHATWOOT_SERVER_ERROR');
    expect(isTransient(error)).toBe(true);
    expect(double.conversation(3, conversationId)!.custom_attributes.glpi_ticket_id).toBe(31);

    const attributeWrites = () => double.calls.filter((c) => c.path.endsWith('/custom_attributes')).length;
    const before = attributeWrites();
    const retried = await writeBack.writeTicket(hook, { id: conversationId, accountId: 3 }, 31);
    expect(retried).toMatchObject({ attribute: 'already', note: 'written' });
    expect(attributeWrites()).toBe(before);
    expect(double.conversation(3, conversationId)!.messages.filter((m) => m.private)).toHaveLength(1);
  });

  it('retries a transient failure in place, never throwing into the sync', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    double.failNext(502, 2, `/conversations/${conversationId}`);
    const result = await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 41);
    expect(result).toMatchObject({ status: 'done', attribute: 'written', note: 'written' });
    expect(await writeBack.pending('acme')).toEqual([]);
  });

  it('parks at once a write-back Chatwoot did not answer in time (no second wait in the job)', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    const hanging = timingOutChatwoot(client);
    const slow = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => hanging.client, sleep: async () => undefined });
    expect(await onTicketCreated(slow, hook, { id: conversationId, accountId: 3 }, 71)).toMatchObject({ status: 'pending', code: 'CHATWOOT_TIMEOUT' });
    expect(hanging.calls()).toBe(1);
    // The timer's retry, once Chatwoot answers again, writes it.
    expect(await writeBack.retryPending(hook)).toEqual({ done: 1, left: 0 });
    expect(double.conversation(3, conversationId)!.custom_attributes.glpi_ticket_id).toBe(71);
  });

  it('parks a write-back Chatwoot keeps refusing, with code and advice, and completes it later', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    double.failNext(503, 3, `/conversations/${conversationId}`);
    const result = await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 51);
    expect(result).toMatchObject({ status: 'pending', code: 'CHATWOOT_SERVER_ERROR' });
    const parked = await writeBack.pending('acme');
    expect(parked).toEqual([expect.objectContaining({ conversationId, ticketId: 51, code: 'CHATWOOT_SERVER_ERROR' })]);
    expect(parked[0]!.advice).toMatch(/Chatwoot/);

    expect(await writeBack.retryPending(hook)).toEqual({ done: 1, left: 0 });
    expect(double.conversation(3, conversationId)!.custom_attributes.glpi_ticket_id).toBe(51);
  });

  it('drops pending entries nothing can deliver (not JSON, another shape, hostile values) without a Chatwoot call, and still delivers the readable one', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    const pendingKey = writeBackKeys(prefix).pending('acme');
    try {
      await redis.hset(pendingKey, '3:9001', '{"conversationId":', '3:9002', JSON.stringify({ conversationId: '../../accounts/1', ticketId: 5, code: 'X', at: 'now' }));
      await redis.hset(pendingKey, '3:9003', JSON.stringify({ accountId: 3, conversationId: 9003, ticketId: -4, code: 'X', at: 'now' }), '3:9004', 'null');
      await writeBack.queue(hook, { id: conversationId, accountId: 3 }, 61);
      expect(await writeBack.pending('acme')).toEqual([expect.objectContaining({ conversationId, ticketId: 61 })]);

      expect(await writeBack.retryPending(hook)).toEqual({ done: 1, left: 0 });
      expect(double.conversation(3, conversationId)!.custom_attributes.glpi_ticket_id).toBe(61);
      // Only the readable entry's conversation was asked for.
      const conversationCalls = double.calls.filter((c) => c.path.includes('/conversations/'));
      expect(conversationCalls.length).toBeGreaterThan(0);
      expect(conversationCalls.every((c) => c.path.includes(`/conversations/${conversationId}`))).toBe(true);
      expect(await redis.hlen(pendingKey)).toBe(0);
    } finally {
      await redis.del(pendingKey); // a failure here leaves nothing for the next test's retry
    }
  });

  it('two workers retrying the same parked write-back at once post the note once', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    double.failNext(503, 3, `/conversations/${conversationId}`);
    expect(await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 61)).toMatchObject({ status: 'pending' });

    // Each worker's retry waits before its first Chatwoot call until the other one got there too,
    // or has finished without calling Chatwoot: both orders of events are then played out.
    let arrived = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const gated: ChatwootApiClient = {
      ...client,
      async getConversation(accountId, id) {
        arrived += 1;
        if (arrived >= 2) open();
        await gate;
        return client.getConversation(accountId, id);
      },
    };
    const workerA = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => gated, sleep: async () => undefined });
    const workerB = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => gated, sleep: async () => undefined });
    const a = workerA.retryPending(hook);
    const b = workerB.retryPending(hook);
    void Promise.race([a, b]).catch(() => undefined).finally(open);
    const [resultA, resultB] = await Promise.all([a, b]);

    expect(resultA.done + resultB.done).toBe(1);
    expect(double.conversation(3, conversationId)!.messages.filter((m) => m.private)).toHaveLength(1);
    expect(double.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/messages'))).toHaveLength(1);
    expect(await writeBack.pending('acme')).toEqual([]);
  });

  it('reports a refused token as permanent, with advice, without printing the token', async () => {
    const badHook = hookWith({ CHATWOOT_BASE_URL: double.url, CHATWOOT_API_TOKEN: 'revoked-token-value' });
    const badClient = createChatwootApiClient(badHook.chatwoot.api!);
    const bad = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => badClient });
    double.addConversation({ id: conversationId, account_id: 3 });
    const error = (await bad.writeTicket(badHook, { id: conversationId, accountId: 3 }, 5).catch((err: unknown) => err)) as ChatwootError;
    // Through the seam: not retried (permanent), parked with the advice.
    const parked = await onTicketCreated(bad, badHook, { id: conversationId, accountId: 3 }, 5);
    expect(parked).toMatchObject({ status: 'pending', code: 'CHATWOOT_UNAUTHORIZED' });
    expect(double.calls.filter((c) => c.token === 'revoked-token-value').length).toBe(2);
    await redis.del(`${prefix}:writeback:acme:pending`);
    await badClient.close();
    expect(error.code).toBe('CHATWOOT_UNAUTHORIZED');
    expect(isTransient(error)).toBe(false);
    expect(error.advice).toContain('CHATWOOT_API_TOKEN');
    expect(error.message).not.toContain('revoked-token-value');
  });
});

describe('recognising the echoes of our own writes', () => {
  it('recognises the conversation_updated and message_created webhooks the write-back causes', async () => {
    double.addConversation({ id: conversationId, account_id: 3, custom_attributes: { contract: 'gold' } });
    await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 4521);
    expect(double.emitted.map((e) => e.event)).toEqual(['conversation_updated', 'message_created']);
    for (const payload of double.emitted) {
      const event = parse(payload);
      expect(writeBack.isOwnEcho(event, hook)).toBe(true);
    }
    for (const payload of double.emitted) expect(await isEcho(parse(payload))).toBe(true);
  });

  it('recognises our note by its remembered id when source_id did not survive, also in another process', async () => {
    double.addConversation({ id: conversationId, account_id: 3 });
    await onTicketCreated(writeBack, hook, { id: conversationId, accountId: 3 }, 88);
    const echo = parse({ ...double.emitted.find((e) => e.event === 'message_created')!, source_id: null });
    expect(writeBack.isOwnEcho(echo, 'acme')).toBe(true);
    // Another worker process: no memory of it, but Redis has the id.
    const otherProcess = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => client });
    expect(otherProcess.isOwnEcho(echo, 'acme')).toBe(false);
    expect(await isEcho(echo, 'acme', otherProcess)).toBe(true);
    // The same message id under another hook is not ours.
    expect(await isEcho(echo, 'other-hook', otherProcess)).toBe(false);
  });

  it('never drops a customer message as an echo because its source_id imitates our marker', async () => {
    const incoming = loadFixture<Record<string, unknown>>('message_created.incoming');
    for (const sourceId of ['cgb-glpi:acme:ticket:1', 'cgb-glpi:', 'cgb-glpi:acme:ticket:1:x']) {
      expect(await isEcho(parse({ ...incoming, source_id: sourceId })), sourceId).toBe(false);
    }
    // Only an outgoing private note with this hook's exact marker is ours.
    const note = { ...loadFixture<Record<string, unknown>>('message_created.private_note'), message_type: 'outgoing', private: true };
    expect(await isEcho(parse({ ...note, source_id: 'cgb-glpi:acme:ticket:12' }))).toBe(true);
    expect(await isEcho(parse({ ...note, source_id: 'cgb-glpi:acme-2:ticket:12' }))).toBe(false);
    expect(await isEcho(parse({ ...note, source_id: 'cgb-glpi:acme:ticket:12' }), 'other-hook')).toBe(false);
    expect(await isEcho(parse({ ...note, private: false, source_id: 'cgb-glpi:acme:ticket:12' }))).toBe(false);
  });

  it('recognises the contact_updated echo of a glpi_* custom attribute write', async () => {
    expect(await isEcho(parse(loadFixture('contact_updated.integration_echo')))).toBe(true);
  });

  it('lets real changes through', async () => {
    for (const name of [
      'conversation_updated',
      'conversation_updated.labels',
      'conversation_updated.status_resolved',
      'message_created.incoming',
      'message_created.outgoing',
      'contact_updated',
      'contact_updated.last_activity',
    ]) {
      expect(await isEcho(parse(loadFixture(name))), name).toBe(false);
    }
    // An agent's private note, even one that mentions GLPI, is synced.
    expect(await isEcho(parse(loadFixture('message_created.private_note')))).toBe(false);
  });

  it('treats a custom-attribute change that also touches someone else\'s key as real', async () => {
    const event = parse({
      ...loadFixture<Record<string, unknown>>('conversation_updated'),
      changed_attributes: [
        { custom_attributes: { previous_value: { contract: 'gold' }, current_value: { contract: 'silver', glpi_ticket_id: 9 } } },
        { updated_at: { previous_value: 'a', current_value: 'b' } },
      ],
    });
    expect(await isEcho(event)).toBe(false);
  });
});

describe('fits the sync engine seams', () => {
  it('plugs into SyncHooks as is', () => {
    const hooks: SyncHooks = { ...writeBackSeams(writeBack) };
    expect(typeof hooks.onTicketCreated).toBe('function');
  });
});
