import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChatwootEvent } from '../../src/chatwoot/events.js';
import { main } from '../../src/cli/main.js';
import { jobIdFor } from '../../src/queue/job.js';
import { startChatwootApi, type ChatwootApiDouble } from '../support/chatwoot-api/index.js';
import { REDIS_URL, testPrefix } from '../support/redis.js';
import { queueFixture, type QueueFixture } from '../ops/support.js';

const TOKEN = 'chatwoot-admin-token';
let chatwoot: ChatwootApiDouble;
let fx: QueueFixture;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  chatwoot = await startChatwootApi();
  fx = await queueFixture(testPrefix('cli'));
  env = {
    REDIS_URL,
    REDIS_KEY_PREFIX: fx.prefix,
    HOOK_ID: 'acme',
    GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
    GLPI_USER_TOKEN: 'glpi-user-token-secret-1',
    CHATWOOT_WEBHOOK_SECRET: 'webhook-secret-value-1',
    CHATWOOT_BASE_URL: chatwoot.url,
    CHATWOOT_API_TOKEN: TOKEN,
  };
});
afterAll(async () => {
  await fx.close();
  await chatwoot.close();
});

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(args, { env, out: (t) => void out.push(t), err: (t) => void out.push(t) });
  const text = out.join('\n');
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain('glpi-user-token-secret-1');
  return { code, out: text };
}

async function jobsOf(conversationId: number) {
  const jobs = await fx.queue.getJobs(['waiting', 'completed', 'failed', 'active', 'delayed']);
  return jobs.filter((j) => (j.data).conversationId === conversationId);
}

describe('resync', () => {
  it('enqueues the conversation, its messages and its status as webhook events the worker accepts', async () => {
    await fx.stopWorker();
    chatwoot.addConversation({ id: 58, account_id: 3, status: 'resolved' });
    chatwoot.addMessage(3, 58, { id: 9801, content: 'Printer on fire' });
    chatwoot.addMessage(3, 58, { id: 9802, content: 'We are on it', message_type: 1 });
    chatwoot.addMessage(3, 58, { id: 9803, content: 'Assigned to Smith', message_type: 2 });
    chatwoot.addMessage(3, 58, { id: 9804, content: 'internal: call them', message_type: 1, private: true });
    chatwoot.addMessage(3, 58, { id: 9805, content: 'GLPI ticket #1 created', message_type: 1, private: true, source_id: 'cgb-glpi:acme:ticket:1' });

    const { code, out } = await run(['resync', '--hook', 'acme', '--conversation', '58']);
    expect(code).toBe(0);
    expect(out).toMatch(/conversation 58: 5 event\(s\) queued, 0 already queued or done, 2 skipped/);

    const jobs = await jobsOf(58);
    expect(jobs.map((j) => j.data.event).sort()).toEqual(['conversation_created', 'conversation_status_changed', 'message_created', 'message_created', 'message_created']);
    for (const job of jobs) {
      const parsed = parseChatwootEvent(job.data.payload);
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      expect(job.id).toBe(jobIdFor('acme', job.data.deliveryId));
      expect(job.data.hookId).toBe('acme');
    }
    const incoming = jobs.find((j) => j.data.deliveryId === 'resync:3:message:9801')!;
    const event = parseChatwootEvent(incoming.data.payload);
    expect(event.ok && event.event.event === 'message_created' && event.event.message_type).toBe('incoming');
    const note = jobs.find((j) => j.data.deliveryId === 'resync:3:message:9804')!;
    expect((note.data.payload as { private: boolean }).private).toBe(true);
  });

  it('adds nothing when run again', async () => {
    const before = (await jobsOf(58)).length;
    const { out } = await run(['resync', '--hook', 'acme', '--conversation', '58']);
    expect(out).toMatch(/0 event\(s\) queued, 5 already queued or done/);
    expect((await jobsOf(58)).length).toBe(before);
  });

  it('with --since, resyncs only conversations active since that date', async () => {
    const recent = chatwoot.addConversation({ id: 70, account_id: 3, last_activity_at: Date.parse('2026-06-02T10:00:00Z') / 1000 });
    chatwoot.addMessage(3, recent.id, { id: 9901, content: 'hello', created_at: Date.parse('2026-06-02T10:00:00Z') / 1000 });
    chatwoot.addConversation({ id: 71, account_id: 3, last_activity_at: Date.parse('2026-01-01T10:00:00Z') / 1000 });
    // Conversation 58 (added above) is also recent in the double's clock; it must be "already".
    const { code, out } = await run(['resync', '--hook', 'acme', '--since', '2026-06-01', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(out) as { conversations: { conversationId: number; queued: number }[] };
    const ids = result.conversations.map((c) => c.conversationId);
    expect(ids).toContain(70);
    expect(ids).not.toContain(71);
    // conversation_created, the message, and the status event (always sent, so a missed reopen is repaired).
    expect(result.conversations.find((c) => c.conversationId === 70)!.queued).toBe(3);
  });

  it('explains what is missing', async () => {
    expect((await run(['resync', '--hook', 'acme'])).code).toBe(2);
    expect((await run(['resync', '--conversation', '5'])).code).toBe(2);
    const unknown = await run(['resync', '--hook', 'acme', '--conversation', '999']);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/CHATWOOT_BASE_URL|no such account or conversation/);
  });
});

describe('failed, replay, status commands', () => {
  it('prints failed events with reason and advice, replays them, and counts per hook', async () => {
    const fresh = await queueFixture(fx.prefix);
    try {
      const jobId = await fresh.failJob('acme', 'cli-delivery-1', "GLPI POST /Ticket answered 400 ERROR_GLPI_ADD: You don't have permission to perform this action.", { conversationId: 77 });
      await fresh.stopWorker();
      const failed = await run(['failed', '--hook', 'acme']);
      expect(failed.code).toBe(0);
      expect(failed.out).toContain(jobId);
      expect(failed.out).toMatch(/conversation 77/);
      expect(failed.out).toMatch(/reason: GLPI POST \/Ticket answered 400 ERROR_GLPI_ADD/);
      expect(failed.out).toMatch(/advice: .*rights/);

      const status = await run(['status', '--json']);
      expect((JSON.parse(status.out) as { hooks: Record<string, { failed: number }> }).hooks.acme!.failed).toBe(1);

      expect((await run(['replay'])).code).toBe(2);
      const replayed = await run(['replay', '--job', jobId]);
      expect(replayed.code).toBe(0);
      expect(replayed.out).toContain(`replayed 1 event(s)`);
      expect(await fx.queue.getJobState(jobId)).toBe('waiting');
      expect((await run(['replay', '--job', jobId])).code).toBe(1);
      expect((await run(['failed', '--hook', 'acme'])).out).toBe('no failed events');
      expect((await run(['failed', '--hook', 'nope'])).code).toBe(2);
    } finally {
      await fresh.close();
    }
  });
});
