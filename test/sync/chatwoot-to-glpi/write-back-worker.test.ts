import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatwootApiClient, type ChatwootApiClient } from '../../../src/chatwoot/api-client.js';
import { createWriteBack, writeBackSeams, type WriteBack } from '../../../src/sync/chatwoot-to-glpi/write-back.js';
import { loadConfig } from '../../../src/config/load.js';
import type { ServiceConfig } from '../../../src/config/schema.js';
import { createGlpiClients, type GlpiClients } from '../../../src/glpi/registry.js';
import { redisKeys } from '../../../src/redis/keys.js';
import { type SyncJobData } from '../../../src/sync/job.js';
import { createEchoCheck } from '../../../src/sync/glpi-to-chatwoot/echo.js';
import { createSyncProcessor } from '../../../src/sync/runner/processor.js';
import type { SyncProcessor } from '../../../src/sync/use-case.js';
import { startChatwootApi, type ChatwootApiDouble } from '../../support/chatwoot-api/index.js';
import { gate } from '../../support/gate.js';
import { timingOutChatwoot } from '../../support/chatwoot-api/timing-out.js';
import { loadFixture } from '../../support/fixtures.js';
import { startGlpiSimulator, type GlpiSimulator } from '../../support/glpi-simulator/index.js';
import { deletePrefix, testPrefix, testRedis } from '../../support/redis.js';

/**
 * Write-back through the sync engine's seams (what the worker runs), not the WriteBack object
 * alone: the account id the webhook carries must reach it, and echo recognition must see the
 * note ids other processes stored in Redis.
 */

const TOKEN = 'multi-account-token';
const prefix = testPrefix('writeback-worker');
const redis = testRedis();
let sim: GlpiSimulator;
let chatwoot: ChatwootApiDouble;
let config: ServiceConfig;
let glpi: GlpiClients;
let cw: ChatwootApiClient;
let writeBack: WriteBack;
let processor: SyncProcessor;

function job(payload: Record<string, unknown>, deliveryId: string): SyncJobData {
  const conversation = payload.conversation as { id: number } | undefined;
  return {
    hookId: 'acme',
    event: String(payload.event),
    deliveryId,
    receivedAt: new Date().toISOString(),
    conversationId: conversation?.id ?? (payload.id as number),
    payload,
  };
}

beforeAll(async () => {
  sim = await startGlpiSimulator();
  // The bridge's Chatwoot user belongs to two accounts: the token alone cannot say which one.
  chatwoot = await startChatwootApi({
    tokens: { [TOKEN]: { id: 15, name: 'GLPI bridge', accounts: [{ id: 3, role: 'administrator' }, { id: 4, role: 'administrator' }] } },
  });
  config = loadConfig({
    REDIS_KEY_PREFIX: prefix,
    HOOK_ID: 'acme',
    GLPI_API_URL: sim.url,
    GLPI_USER_TOKEN: 'admin-user-token',
    CHATWOOT_WEBHOOK_SECRET: 'webhook-secret-value-1',
    CHATWOOT_BASE_URL: chatwoot.url,
    CHATWOOT_API_TOKEN: TOKEN,
    CHATWOOT_ACCOUNT_ID: '3',
  });
  glpi = createGlpiClients(config.hooks.values());
  cw = createChatwootApiClient(config.hooks.get('acme')!.chatwoot.api!);
  writeBack = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => cw, sleep: async () => undefined });
  processor = processorWith(writeBack);
});

/** The sync engine as the worker wires it, with this write-back in its seams. */
function processorWith(seams: WriteBack): SyncProcessor {
  return createSyncProcessor({
    redis,
    keys: redisKeys(prefix),
    hooks: config.hooks,
    glpiFor: (id) => glpi.get(id),
    logger: pino({ level: 'silent' }),
    ...writeBackSeams(seams),
    isOwnEcho: createEchoCheck(seams, redis, redisKeys(prefix)),
  });
}

afterAll(async () => {
  await glpi.closeAll();
  await cw.close();
  await sim.close();
  await chatwoot.close();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe('write-back through the sync engine', () => {
  it('writes back into the hook\'s CHATWOOT_ACCOUNT_ID when the token belongs to several accounts', async () => {
    chatwoot.addConversation({ id: 58, account_id: 3 });
    const outcome = await processor.process(job(loadFixture('message_created.incoming'), 'wbw-incoming-1'));
    expect(outcome.action).toBe('ticket-created');

    expect(await writeBack.pending('acme')).toEqual([]);
    expect(chatwoot.conversation(3, 58)!.custom_attributes.glpi_ticket_id).toBe(outcome.ticketId);
    expect(chatwoot.conversation(3, 58)!.messages.filter((m) => m.private)).toHaveLength(1);
  });

  it('never writes back into the account a payload names when it is not the hook\'s', async () => {
    // The same display id exists in both accounts: conversation ids are per account.
    chatwoot.addConversation({ id: 671, account_id: 3 });
    chatwoot.addConversation({ id: 671, account_id: 4 });
    const hostile = loadFixture<Record<string, unknown>>('message_created.incoming');
    hostile.id = 990_061;
    hostile.account = { id: 4, name: 'Another account' };
    (hostile.conversation as { id: number }).id = 671;
    const outcome = await processor.process(job(hostile, 'wbw-other-account-1'));
    expect(outcome.ticketId).toBeDefined();
    expect(chatwoot.conversation(4, 671)!.custom_attributes.glpi_ticket_id).toBeUndefined();
    expect(chatwoot.conversation(3, 671)!.custom_attributes.glpi_ticket_id).toBeUndefined();
    expect(chatwoot.conversation(4, 671)!.messages.filter((m) => m.private)).toHaveLength(0);
    expect(await writeBack.pending('acme')).toEqual([]);
  });

  it('does not guess the account when CHATWOOT_ACCOUNT_ID is unset and the token belongs to several (CHATWOOT_ACCOUNT_UNKNOWN)', async () => {
    chatwoot.addConversation({ id: 59, account_id: 3 });
    const hook = config.hooks.get('acme')!;
    const unset = { ...hook, chatwoot: { ...hook.chatwoot, api: { ...hook.chatwoot.api!, accountId: undefined } } };
    const error = await writeBack.writeTicket(unset, { id: 59, accountId: 3 }, 99).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'CHATWOOT_ACCOUNT_UNKNOWN', message: expect.stringMatching(/no CHATWOOT_ACCOUNT_ID.*2 accounts \(3, 4\)/) as unknown });
    expect(chatwoot.conversation(3, 59)!.custom_attributes.glpi_ticket_id).toBeUndefined();
  });

  it("runs the Chatwoot calls after the hook's lock: the hook's next job does not wait for a slow Chatwoot", async () => {
    chatwoot.addConversation({ id: 672, account_id: 3 });
    chatwoot.addConversation({ id: 673, account_id: 3 });
    // Chatwoot answers the first write-back's first call only when the test says so.
    const atChatwoot = gate();
    const slow: ChatwootApiClient = {
      ...cw,
      async getConversation(accountId, id) {
        if (id === 672) await atChatwoot.pass();
        return cw.getConversation(accountId, id);
      },
    };
    const slowWriteBack = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => slow, sleep: async () => undefined });
    const runner = processorWith(slowWriteBack);
    const message = (conversationId: number, messageId: number) => {
      const payload = loadFixture<Record<string, unknown>>('message_created.incoming');
      payload.id = messageId;
      (payload.conversation as { id: number }).id = conversationId;
      return payload;
    };

    const first = runner.process(job(message(672, 990_672), 'wbw-slow-1'));
    await Promise.race([atChatwoot.reached, first]);
    // The first job has created its ticket and waits for Chatwoot: the same hook's next
    // conversation gets its ticket meanwhile (under the lock it would wait, then LOCK_BUSY).
    const second = await runner.process(job(message(673, 990_673), 'wbw-slow-2'));
    expect(second).toMatchObject({ action: 'followup-posted', ticketId: expect.any(Number) as unknown });
    expect(await slowWriteBack.pending('acme')).toEqual([expect.objectContaining({ conversationId: 672, code: 'WRITE_BACK_QUEUED' })]);

    atChatwoot.release();
    const outcome = await first;
    // Acknowledged only once written back.
    expect(outcome).toMatchObject({ action: 'followup-posted', ticketId: expect.any(Number) as unknown });
    expect(outcome.ticketId).not.toBe(second.ticketId);
    expect(chatwoot.conversation(3, 672)!.custom_attributes.glpi_ticket_id).toBe(outcome.ticketId);
    expect(chatwoot.conversation(3, 672)!.messages.filter((m) => m.private)).toHaveLength(1);
    expect(chatwoot.conversation(3, 673)!.custom_attributes.glpi_ticket_id).toBe(second.ticketId);
    expect(await slowWriteBack.pending('acme')).toEqual([]);
  });

  it('a write-back owed by a worker that died before making it is made once by the retry timer', async () => {
    chatwoot.addConversation({ id: 674, account_id: 3 });
    const hook = config.hooks.get('acme')!;
    // Under the lock the job stored what it owes, then its process died: the task never runs.
    const orphaned = await writeBackSeams(writeBack).onTicketCreated(hook, { id: 674, accountId: 3 }, 5151);
    expect(orphaned).toBeTypeOf('function');
    expect(await writeBack.pending('acme')).toEqual([expect.objectContaining({ conversationId: 674, ticketId: 5151, code: 'WRITE_BACK_QUEUED' })]);
    expect(chatwoot.conversation(3, 674)!.custom_attributes.glpi_ticket_id).toBeUndefined();

    const otherWorker = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => cw, sleep: async () => undefined });
    expect(await otherWorker.retryPending(hook)).toEqual({ done: 1, left: 0 });
    expect(chatwoot.conversation(3, 674)!.custom_attributes.glpi_ticket_id).toBe(5151);
    // The task running late (the worker was only paused) finds nothing left to do.
    await orphaned!();
    expect(chatwoot.conversation(3, 674)!.messages.filter((m) => m.private)).toHaveLength(1);
    expect(await writeBack.deliver(hook, { id: 674, accountId: 3 })).toEqual({ status: 'nothing-owed' });
  });

  it('a conversation whose ticket is replaced while its write-back is being made ends showing the new ticket', async () => {
    chatwoot.addConversation({ id: 676, account_id: 3 });
    const hook = config.hooks.get('acme')!;
    const target = { id: 676, accountId: 3 };
    // Process A is making the write-back of ticket 7001 and waits on Chatwoot.
    const atChatwoot = gate();
    const gated: ChatwootApiClient = {
      ...cw,
      async getConversation(accountId, id) {
        await atChatwoot.pass();
        return cw.getConversation(accountId, id);
      },
    };
    const processA = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => gated, sleep: async () => undefined });
    expect(await processA.queue(hook, target, 7001)).toBe(true);
    const first = processA.deliver(hook, target);
    await Promise.race([atChatwoot.reached, first]);
    // Meanwhile the ticket was closed in GLPI and process B's job gave the conversation ticket 7002.
    expect(await writeBack.queue(hook, target, 7002)).toBe(true);
    expect(await writeBack.deliver(hook, target)).toEqual({ status: 'claimed-elsewhere' });
    atChatwoot.release();
    expect(await first).toMatchObject({ status: 'done' });

    expect(chatwoot.conversation(3, 676)!.custom_attributes.glpi_ticket_id).toBe(7002);
    expect(chatwoot.conversation(3, 676)!.messages.filter((m) => m.private).map((m) => m.content)).toEqual([
      expect.stringContaining('GLPI ticket #7001 created') as unknown,
      expect.stringContaining('GLPI ticket #7002 created') as unknown,
    ]);
    expect(await writeBack.pending('acme')).toEqual([]);
  });

  it("does not wait for a Chatwoot that timed out on every new ticket: the next ones stay queued for the timer", async () => {
    chatwoot.addConversation({ id: 677, account_id: 3 });
    chatwoot.addConversation({ id: 678, account_id: 3 });
    const hook = config.hooks.get('acme')!;
    const hung = timingOutChatwoot(cw);
    const worker = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => hung.client, sleep: async () => undefined });
    const seams = writeBackSeams(worker);
    await (await seams.onTicketCreated(hook, { id: 677, accountId: 3 }, 8001))!();
    await (await seams.onTicketCreated(hook, { id: 678, accountId: 3 }, 8002))!();
    expect(hung.calls()).toBe(1);
    const parked = await worker.pending('acme');
    expect(parked.map((p) => [p.conversationId, p.code]).sort()).toEqual([
      [677, 'CHATWOOT_TIMEOUT'],
      [678, 'WRITE_BACK_QUEUED'],
    ]);
    // The retry timer (here another worker's, Chatwoot answering again) makes both.
    expect(await writeBack.retryPending(hook)).toEqual({ done: 2, left: 0 });
    expect(chatwoot.conversation(3, 677)!.custom_attributes.glpi_ticket_id).toBe(8001);
    expect(chatwoot.conversation(3, 678)!.custom_attributes.glpi_ticket_id).toBe(8002);
  });

  it('a rerun that finds the ticket an interrupted job created still writes it back', async () => {
    chatwoot.addConversation({ id: 679, account_id: 3 });
    const payload = loadFixture<Record<string, unknown>>('message_created.incoming');
    payload.id = 990_679;
    (payload.conversation as { id: number }).id = 679;
    // GLPI creates the ticket, but its answer is lost: the job fails before it records or owes anything.
    sim.failNext({ kind: 'status', status: 502, afterCommit: true }, 1, 'POST /Ticket');
    await expect(processor.process(job(payload, 'wbw-lost-answer-1'))).rejects.toMatchObject({ code: 'GLPI_SERVER_ERROR' });
    expect(chatwoot.conversation(3, 679)!.custom_attributes.glpi_ticket_id).toBeUndefined();

    const ticketsBefore = sim.state.tickets.length;
    const outcome = await processor.process(job(payload, 'wbw-lost-answer-1'));
    expect(sim.state.tickets.length).toBe(ticketsBefore);
    expect(chatwoot.conversation(3, 679)!.custom_attributes.glpi_ticket_id).toBe(outcome.ticketId);
    expect(chatwoot.conversation(3, 679)!.messages.filter((m) => m.private)).toHaveLength(1);
    expect(await writeBack.pending('acme')).toEqual([]);
  });

  it('owes nothing when the hook has no Chatwoot API (write-back off)', async () => {
    const off = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => undefined });
    expect(await writeBackSeams(off).onTicketCreated(config.hooks.get('acme')!, { id: 675, accountId: 3 }, 1)).toBeUndefined();
    expect(await off.pending('acme')).toEqual([]);
  });

  it('recognises the note another worker process posted (its id only in Redis, no source_id in the echo)', async () => {
    chatwoot.addConversation({ id: 60, account_id: 3 });
    // Another process wrote a ticket back: it remembers the note id locally and in Redis.
    const otherProcess = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => cw });
    expect(await otherProcess.writeTicket(config.hooks.get('acme')!, { id: 60, accountId: 3 }, 4242)).toMatchObject({ note: 'written' });
    const echo = chatwoot.emitted.find((e) => e.event === 'message_created' && (e.conversation as { id: number }).id === 60)!;
    const followupsBefore = sim.state.followups.length;
    const ticketsBefore = sim.state.tickets.length;

    const outcome = await processor.process(job({ ...echo, source_id: null }, 'wbw-echo-1'));
    expect(outcome).toMatchObject({ action: 'skipped', reason: 'own echo' });
    expect(sim.state.followups.length).toBe(followupsBefore);
    expect(sim.state.tickets.length).toBe(ticketsBefore);
  });
});
