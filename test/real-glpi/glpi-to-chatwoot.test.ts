import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatwootApiClient } from '../../src/chatwoot/api-client.js';
import { createWriteBack, writeBackSeams } from '../../src/sync/chatwoot-to-glpi/write-back.js';
import { loadConfig } from '../../src/config/load.js';
import type { HookConfig } from '../../src/config/schema.js';
import { createGlpiClient, type GlpiClientHandle } from '../../src/glpi/client.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { redisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createEchoCheck } from '../../src/sync/glpi-to-chatwoot/echo.js';
import { GLPI_POLL_EVENT } from '../../src/sync/glpi-to-chatwoot/poller.js';
import { createSyncProcessor } from '../../src/sync/runner/processor.js';
import type { SyncProcessor } from '../../src/sync/use-case.js';
import { startChatwootApi, type ChatwootApiDouble } from '../support/chatwoot-api/index.js';
import { deletePrefix, testPrefix, testRedis, waitFor } from '../support/redis.js';
import { jobData, messageEvent } from '../sync/support.js';

/**
 * The "not done until" story of issue #13 against a REAL GLPI (10.0.3 or 11.0.8, shared/real-glpi;
 * `. /tmp/real-glpi-<version>/env` first) and the Chatwoot API double: the bridge creates the ticket
 * from a Chatwoot conversation with the super-admin token, the technician answers through the GLPI
 * API with the technician token, and the double receives exactly one outgoing message within the
 * poll interval plus 5 s. Skipped without GLPI_TEST_URL. Everything it creates has unique names.
 */
const env = process.env;
const POLL_MS = 1_000;
const ACCOUNT = 3;

describe.skipIf(!env.GLPI_TEST_URL || !env.GLPI_TEST_TECH_TOKEN)(`GLPI ${env.GLPI_TEST_VERSION ?? '?'} (real) -> Chatwoot double`, () => {
  let redis: Redis;
  const prefix = testPrefix('real-g2c');
  const keys = redisKeys(prefix);
  const logger = pino({ level: 'silent' });
  let chatwoot: ChatwootApiDouble;
  let hook: HookConfig;
  let glpi: GlpiClientHandle;
  let tech: GlpiClientHandle;
  let processor: ReturnType<typeof createSyncProcessor>;
  let makePoller: () => SyncProcessor;
  const closers: (() => Promise<void>)[] = [];
  const conversationId = 40_000 + Math.floor(Math.random() * 50_000);
  let ticketId = 0;
  const unique = randomUUID().slice(0, 8);

  beforeAll(async () => {
    redis = testRedis();
    chatwoot = await startChatwootApi();
    chatwoot.addConversation({
      id: conversationId,
      account_id: ACCOUNT,
      contact: { id: conversationId, name: `G2C Customer ${unique}`, email: `g2c-${unique}@example.org`, phone_number: null },
    });
    hook = loadConfig({
      HOOK_ID: 'real',
      GLPI_API_URL: env.GLPI_TEST_URL,
      GLPI_APP_TOKEN: env.GLPI_TEST_APP_TOKEN,
      GLPI_USER_TOKEN: env.GLPI_TEST_USER_TOKEN,
      ALLOW_UNAUTHENTICATED: 'true',
      CHATWOOT_BASE_URL: chatwoot.url,
      CHATWOOT_API_TOKEN: 'chatwoot-admin-token',
      GLPI_TO_CHATWOOT: 'true',
      GLPI_POLL_INTERVAL_MS: String(POLL_MS),
    }).hooks.get('real')!;
    glpi = createGlpiClient({ ...hook.glpi, hookId: hook.id });
    tech = createGlpiClient({ ...hook.glpi, userToken: env.GLPI_TEST_TECH_TOKEN!, hookId: 'tech' });
    const client = createChatwootApiClient(hook.chatwoot.api!);
    closers.push(() => client.close(), () => glpi.close(), () => tech.close());
    const writeBack = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => client, logger, attempts: 1 });
    const seams = writeBackSeams(writeBack);
    const hooks = new Map([[hook.id, hook]]);
    processor = createSyncProcessor({
      redis, keys, hooks, glpiFor: () => glpi, logger, ...seams,
      // The one echo check the runtime wires (both directions).
    isOwnEcho: createEchoCheck(writeBack, redis, keys),
    });
    makePoller = () => createSyncProcessor({ redis, keys, hooks, glpiFor: () => glpi, glpiToChatwoot: { chatwootFor: () => client }, logger, metrics: createMetrics() });
    poller = makePoller();
    const created = await processor.process(
      jobData(messageEvent({ id: conversationId, contact: { id: conversationId, name: `G2C Customer ${unique}`, email: `g2c-${unique}@example.org` } }, { id: conversationId * 10, content: `Printer on fire ${unique}`, createdAt: new Date().toISOString() }), { hookId: 'real' }),
    );
    ticketId = created.ticketId!;
    // The first poll sets the cursor: what GLPI held before is history.
    await poll();
  });

  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await chatwoot?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });

  /**
   * The technician's followup with a file in one request (`uploadManifest` + `filename[0]`, as in
   * shared/reference/glpi-changes-observed.md section 1): GLPI links the document to the followup.
   */
  async function techFollowupWithFile(ticket: number, content: string, file: { name: string; type: string; data: Buffer }): Promise<void> {
    const base = env.GLPI_TEST_URL!.replace(/\/?$/, '/');
    const headers = { 'app-token': env.GLPI_TEST_APP_TOKEN ?? '' };
    const init = await fetch(`${base}initSession`, { headers: { ...headers, authorization: `user_token ${env.GLPI_TEST_TECH_TOKEN}` } });
    const session = ((await init.json()) as { session_token: string }).session_token;
    try {
      const form = new FormData();
      // A plain field: a part with a file name would be taken for an upload, not the manifest.
      form.append('uploadManifest', JSON.stringify({ input: { itemtype: 'Ticket', items_id: ticket, content, is_private: 0 } }));
      form.append('filename[0]', new Blob([file.data], { type: file.type }), file.name);
      const answer = await fetch(`${base}ITILFollowup`, { method: 'POST', headers: { ...headers, 'session-token': session }, body: form });
      expect(answer.status, await answer.clone().text()).toBe(201);
    } finally {
      await fetch(`${base}killSession`, { headers: { ...headers, 'session-token': session } });
    }
  }

  const pollData: SyncJobData = { hookId: 'real', event: GLPI_POLL_EVENT, deliveryId: 'poll:test', receivedAt: '', conversationId: undefined, payload: {} };
  let poller: SyncProcessor;
  const poll = (p: SyncProcessor = poller) => p.process(pollData);
  const outgoing = () => chatwoot.conversation(ACCOUNT, conversationId)!.messages.filter((m) => m.message_type === 1 && !m.private).map((m) => m.content);
  /** Polls every POLL_MS, as the scheduler does, until `n` outgoing messages are there (bounded: interval + 5 s). */
  const untilOutgoing = (n: number) =>
    waitFor(async () => {
      await poll();
      return outgoing().length >= n ? true : undefined;
    }, `${n} outgoing messages`, Math.ceil((POLL_MS + 5_000) / POLL_MS), POLL_MS);

  it("a technician's public followup gives exactly one outgoing message with its text", async () => {
    await tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `<p>We are <b>on it</b> &amp; will call ${unique}</p>`, is_private: 0 });
    await untilOutgoing(1);
    await poll();
    expect(outgoing()).toEqual([`tech (IT): We are on it & will call ${unique}`]);
  });

  it('a followup with a document (one multipart request, as GLPI UI users write it) gives one message with the same bytes', async () => {
    const before = outgoing().length;
    const bytes = Buffer.concat([Buffer.from(`report ${unique}\n`), randomBytes(2048)]);
    const name = `report-${unique}.txt`;
    await techFollowupWithFile(ticketId, `<p>See the report ${unique}</p>`, { name, type: 'text/plain', data: bytes });
    await untilOutgoing(before + 1);
    await poll();
    const posted = chatwoot.conversation(ACCOUNT, conversationId)!.messages.filter((m) => m.message_type === 1 && !m.private).slice(before);
    expect(posted.map((m) => m.content)).toEqual([`tech (IT): See the report ${unique}`]);
    const files = chatwoot.files.get(posted[0]!.id) ?? [];
    expect(files.map((f) => f.filename)).toEqual([name]);
    expect(files[0]!.data.equals(bytes)).toBe(true);
  });

  it("a private followup, the bridge's own followups and the requester's own followup give no message", async () => {
    const before = outgoing().length;
    await tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `internal ${unique}`, is_private: 1 });
    await glpi.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `by the bridge user ${unique}`, is_private: 0 });
    await processor.process(jobData(messageEvent({ id: conversationId }, { id: conversationId * 10 + 1, content: `customer again ${unique}`, createdAt: new Date().toISOString() }), { hookId: 'real' }));
    const requester = (await glpi.getSubItems('Ticket', ticketId, 'Ticket_User')).find((tu) => Number(tu.type) === 1);
    await glpi.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `requester by mail ${unique}`, users_id: Number(requester!.users_id) });
    // Several polls over more than two seconds: every pair settles, nothing is sent.
    for (let i = 0; i < 3; i += 1) {
      await poll();
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    expect(outgoing()).toHaveLength(before);
    // Then a public technician followup: it alone is sent (none of the above was merely late).
    await tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `<p>After the silent ones ${unique}</p>`, is_private: 0 });
    await untilOutgoing(before + 1);
    await poll();
    expect(outgoing().slice(before)).toEqual([`tech (IT): After the silent ones ${unique}`]);
  });

  it('a restart between the GLPI change and the Chatwoot post still gives exactly one message', async () => {
    const before = outgoing().length;
    await tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `after restart ${unique}`, is_private: 0 });
    // Chatwoot stores the message and the worker never hears back: it dies mid-request.
    chatwoot.failAfterNext('drop', 1, `/conversations/${conversationId}/messages`);
    await waitFor(async () => {
      try {
        await poll();
        return undefined;
      } catch (err) {
        expect(err).toMatchObject({ code: 'CHATWOOT_NETWORK_ERROR' });
        return true;
      }
    }, 'the dying poll to post', Math.ceil((POLL_MS + 5_000) / POLL_MS), POLL_MS);
    expect(chatwoot.calls.filter((c) => c.status === 0)).toHaveLength(1);
    poller = makePoller();
    await poll();
    await poll();
    expect(outgoing().slice(before)).toEqual([`tech (IT): after restart ${unique}`]);
  });

  it('a solution gives one "Solution:" message and one resolve', async () => {
    const before = outgoing().length;
    await tech.addItem('ITILSolution', { itemtype: 'Ticket', items_id: ticketId, content: `<p>Replaced the fuse ${unique}</p>` });
    await untilOutgoing(before + 1);
    await poll();
    expect(outgoing().slice(before)).toEqual([`Solution: Replaced the fuse ${unique}`]);
    const toggles = chatwoot.calls.filter((c) => c.path.endsWith('/toggle_status')).map((c) => (c.body as { status: string }).status);
    expect(toggles).toEqual(['resolved']);
  });
});
