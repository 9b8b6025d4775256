import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { listFailed, replay } from '../../src/ops/queue-ops.js';
import { jobIdFor } from '../../src/queue/job.js';
import { redisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createSyncQueue } from '../../src/queue/producer.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { startChatwootApi, type ChatwootApiDouble } from '../support/chatwoot-api/index.js';
import { loadFixture } from '../support/fixtures.js';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { REDIS_URL, deletePrefix, testPrefix, testRedis, waitFor } from '../support/redis.js';

/**
 * The whole operations loop against the worker exactly as the service wires it (startRuntime,
 * ROLE=worker): an event fails for a missing GLPI right, `failed` says so with advice, the right
 * is granted, `replay` runs it again, the ticket is created once and written back to Chatwoot,
 * and the write-back's echoes are recognised.
 */

describe('replay after the missing right is granted', () => {
  const prefix = testPrefix('replay');
  let sim: GlpiSimulator;
  let chatwoot: ChatwootApiDouble;
  let runtime: Runtime;
  const command = createRedis(REDIS_URL, 'command');
  const keys = redisKeys(prefix);
  const queue = createSyncQueue(command, keys);

  beforeAll(async () => {
    await waitForReady(command, 5_000);
    sim = await startGlpiSimulator();
    chatwoot = await startChatwootApi();
    chatwoot.addConversation({ id: 58, account_id: 3 });
    const config = loadConfig({
      ROLE: 'worker',
      HOST: '127.0.0.1',
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url,
      GLPI_USER_TOKEN: 'admin-user-token',
      CHATWOOT_WEBHOOK_SECRET: 'webhook-secret-value-1',
      CHATWOOT_BASE_URL: chatwoot.url,
      CHATWOOT_API_TOKEN: 'chatwoot-admin-token',
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0 });
  });

  afterAll(async () => {
    await runtime?.close();
    await queue.close();
    await sim?.close();
    await chatwoot?.close();
    command.disconnect();
    const cleaner = testRedis();
    await deletePrefix(cleaner, prefix);
    cleaner.disconnect();
  });

  it('fails with the right named, then succeeds once granted, creating one ticket written back to Chatwoot', async () => {
    sim.setRight('super-admin', 'Ticket', 'create', false);
    const payload = loadFixture('conversation_created');
    const data: SyncJobData = { hookId: 'acme', event: 'conversation_created', deliveryId: 'e2e-delivery-1', receivedAt: new Date().toISOString(), conversationId: 58, payload };
    const jobId = jobIdFor('acme', data.deliveryId);
    await queue.add(data.event, data, { jobId });
    await waitFor(async () => ((await queue.getJobState(jobId)) === 'failed' ? true : undefined), 'the job to fail');

    const { events } = await listFailed(queue, { hookId: 'acme' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ jobId, event: 'conversation_created', conversationId: 58 });
    expect(events[0]!.advice ?? '').toMatch(/right|permission|Profiles/i);
    expect(sim.state.tickets).toHaveLength(0);

    sim.setRight('super-admin', 'Ticket', 'create', true);
    expect((await replay(queue, { jobId })).replayed).toEqual([jobId]);
    await waitFor(async () => ((await queue.getJobState(jobId)) === 'completed' ? true : undefined), 'the replayed job to complete');

    expect(sim.state.tickets).toHaveLength(1);
    const ticketId = sim.state.tickets[0]!.id;
    expect((await listFailed(queue, { hookId: 'acme' })).total).toBe(0);
    await waitFor(() => (chatwoot.conversation(3, 58)!.custom_attributes.glpi_ticket_id === ticketId ? true : undefined), 'the write-back');
    const note = chatwoot.conversation(3, 58)!.messages.find((m) => m.private);
    expect(note?.content).toContain(`front/ticket.form.php?id=${ticketId}`);

    // The webhooks the write-back caused go through the worker and change nothing in GLPI.
    const followupsBefore = sim.state.followups.length;
    for (const [i, echo] of chatwoot.emitted.entries()) {
      const echoData: SyncJobData = { hookId: 'acme', event: String(echo.event), deliveryId: `e2e-echo-${i}`, receivedAt: new Date().toISOString(), conversationId: 58, payload: echo };
      const echoId = jobIdFor('acme', echoData.deliveryId);
      await queue.add(echoData.event, echoData, { jobId: echoId });
      await waitFor(async () => ((await queue.getJobState(echoId)) === 'completed' ? true : undefined), 'the echo job');
    }
    expect(sim.state.followups.length).toBe(followupsBefore);
    expect(sim.state.tickets).toHaveLength(1);
  });
});
