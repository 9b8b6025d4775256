import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { createGlpiClient } from '../src/glpi/client.js';
import { SYNC_QUEUE_NAME } from '../src/queue/job.js';
import { redisKeys } from '../src/redis/keys.js';
import { startRuntime, type Runtime } from '../src/runtime.js';
import { startChatwootApi, type ChatwootApiDouble } from './support/chatwoot-api/index.js';
import { loadFixture } from './support/fixtures.js';
import { startGlpiSimulator, type GlpiSimulator } from './support/glpi-simulator/index.js';
import { testRedis, waitFor } from './support/redis.js';
import { serviceTestEnv } from './support/service-env.js';
import { glpiSignedHeaders, signedHeaders } from './support/signed-webhook.js';

const SECRET = 'runtime-test-secret';
const GLPI_SECRET = 'glpi-webhook-secret-0123456789';
const POLL_MS = 1_000;

/**
 * The whole service (ROLE=all) with GLPI -> Chatwoot on: the poll is a BullMQ job scheduled per
 * hook and run by the sync worker; a technician's answer reaches the Chatwoot double within the
 * poll interval plus 5 s; a GLPI 11 webhook only queues a poll.
 */
describe('GLPI -> Chatwoot in the running service (simulator 11.0.8, Chatwoot API double)', () => {
  let sim: GlpiSimulator;
  let chatwoot: ChatwootApiDouble;
  let runtime: Runtime;
  let service: ReturnType<typeof serviceTestEnv> | undefined;
  let inspect: ReturnType<typeof testRedis> | undefined;

  beforeAll(async () => {
    sim = await startGlpiSimulator({
      version: '11.0.8',
      userTokens: { 'admin-user-token': { userId: 2, profile: 'super-admin' }, 'tech-user-token': { userId: 4, profile: 'super-admin' } },
    });
    chatwoot = await startChatwootApi();
    chatwoot.addConversation({ id: 58, account_id: 3 });
    chatwoot.addConversation({ id: 59, account_id: 3 });
    service = serviceTestEnv('g2c-runtime', { url: sim.url });
    const config = loadConfig({
      ...service.env,
      CHATWOOT_WEBHOOK_SECRET: SECRET,
      CHATWOOT_BASE_URL: chatwoot.url,
      CHATWOOT_API_TOKEN: 'chatwoot-admin-token',
      GLPI_TO_CHATWOOT: 'true',
      GLPI_POLL_INTERVAL_MS: String(POLL_MS),
      GLPI_WEBHOOK_SECRET: GLPI_SECRET,
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0 });
    inspect = testRedis();
  });

  afterAll(async () => {
    await runtime?.close();
    await sim?.close();
    await chatwoot?.close();
    inspect?.disconnect();
    await service?.removeState();
  });

  it("sends a technician's followup to the conversation within the poll interval plus 5 s, once", async () => {
    const body = JSON.stringify(loadFixture('message_created.incoming'));
    const res = await request(`${runtime.address}/webhooks/chatwoot/default`, { method: 'POST', headers: signedHeaders(SECRET, body), body });
    await res.body.dump();
    expect(res.statusCode).toBe(202);
    const ticketId = await waitFor(() => sim.state.tickets[0]?.id, 'the ticket', 400);

    const tech = createGlpiClient({ baseUrl: sim.url, appToken: undefined, userToken: 'tech-user-token', entityId: 0, syncType: 'user', ticketType: 1, categoryId: undefined, defaultUserId: undefined, timeoutMs: 5_000, hookId: 'tech' });
    try {
      await tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: '<p>On my way</p>', is_private: 0 });
    } finally {
      await tech.close();
    }
    const outgoing = () => chatwoot.conversation(3, 58)!.messages.filter((m) => m.message_type === 1 && !m.private);
    await waitFor(() => (outgoing().length > 0 ? true : undefined), 'the outgoing message', (POLL_MS + 5_000) / 50);
    expect(outgoing().map((m) => m.content)).toEqual(['user4 (IT): On my way']);

    // A GLPI 11 webhook queues a poll (answered 202 at once); nothing is sent twice. The checks
    // wait for that poll to have run (its job, id glpi-nudge.default, removed on completion, and
    // GLPI searched again): right after the 202 a duplicate could not have been posted yet.
    const queueKey = `${redisKeys(service!.prefix).bullPrefix}:${SYNC_QUEUE_NAME}`;
    expect(await inspect!.exists(`${queueKey}:meta`)).toBe(1); // the key layout below is BullMQ's
    const nudgeJobKey = `${queueKey}:glpi-nudge.default`;
    const searchesBefore = sim.count('GET', '/search/Ticket');
    const glpiBody = '{\n    "event": "new"\n}';
    const nudge = await request(`${runtime.address}/webhooks/glpi/default`, { method: 'POST', headers: glpiSignedHeaders(GLPI_SECRET, glpiBody), body: glpiBody });
    await nudge.body.dump();
    expect(nudge.statusCode).toBe(202);
    await waitFor(async () => (sim.count('GET', '/search/Ticket') > searchesBefore && (await inspect!.exists(nudgeJobKey)) === 0 ? true : undefined), 'the nudged poll');
    const metrics = await request(`${runtime.address}/metrics`);
    const text = await metrics.body.text();
    expect(text).toMatch(/cgb_chatwoot_messages_posted_total\{hook="default",kind="followup"\} 1/);
    expect(outgoing()).toHaveLength(1);
  });

  it('the Chatwoot double reads a multipart message as Rails does: only `private` is cast, a content of "true" stays text', async () => {
    const post = async (fields: Record<string, string>) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append('attachments[]', new Blob([Buffer.from('x')], { type: 'text/plain' }), 'x.txt');
      const res = await fetch(`${chatwoot.url}/api/v1/accounts/3/conversations/59/messages`, { method: 'POST', headers: { api_access_token: 'chatwoot-admin-token' }, body: form });
      expect(res.status).toBe(200);
    };
    await post({ content: 'true', message_type: 'outgoing', private: 'false' });
    await post({ content: 'false', message_type: 'outgoing', private: 'true' });
    expect(chatwoot.conversation(3, 59)!.messages.map((m) => [m.content, m.private])).toEqual([
      ['true', false],
      ['false', true],
    ]);
  });
});
