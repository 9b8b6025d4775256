import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conversationEvent, jobData, messageEvent } from '../support.js';
import { ACCOUNT_ID, startG2cHarness, type G2cHarness } from './support.js';

const publicPosts = (h: G2cHarness) =>
  h.chatwoot.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/messages') && (c.body as { private?: boolean }).private === false);

describe('GLPI -> Chatwoot: exactly once, never an echo', () => {
  let h: G2cHarness;
  beforeEach(async () => {
    h = await startG2cHarness();
  });
  afterEach(async () => {
    await h?.close();
  });

  it('a worker dying between the Chatwoot post and its record still gives exactly one message', async () => {
    const ticketId = await h.openConversation(601);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'Reboot the printer', is_private: 0 });
    // Chatwoot stores the message, and the bridge never learns its id: as for a worker killed mid-request.
    h.chatwoot.failAfterNext('drop', 1, '/conversations/601/messages');
    await expect(h.poll()).rejects.toMatchObject({ code: 'CHATWOOT_NETWORK_ERROR' });
    expect(h.outgoing(601)).toHaveLength(1);
    // A new worker process: nothing in memory, only Redis and what Chatwoot holds.
    const restarted = h.makePoller();
    await h.poll(restarted);
    await h.poll(restarted);
    expect(h.outgoing(601).map((m) => m.content)).toEqual(['Alex Martin (IT): Reboot the printer']);
    expect(publicPosts(h)).toHaveLength(1);
    // The recovery read the conversation instead of posting blindly.
    expect(h.chatwoot.calls.some((c) => c.method === 'GET' && c.path.includes('/conversations/601/messages'))).toBe(true);
  });

  it('a post Chatwoot stored but answered 502 (a proxy timing out) is found, not posted again', async () => {
    const ticketId = await h.openConversation(604);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'Power cycle it', is_private: 0 });
    h.chatwoot.failAfterNext(502, 1, '/conversations/604/messages');
    await expect(h.poll()).rejects.toMatchObject({ code: 'CHATWOOT_SERVER_ERROR' });
    // The same worker, retrying: the intent says "maybe posted", so it looks before posting.
    await h.poll();
    await h.poll();
    expect(h.outgoing(604).map((m) => m.content)).toEqual(['Alex Martin (IT): Power cycle it']);
    expect(publicPosts(h).filter((c) => c.path.includes('/conversations/604/'))).toHaveLength(1);
  });

  it('an intent whose post never reached Chatwoot is posted once on recovery', async () => {
    const ticketId = await h.openConversation(602);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'Check the cable', is_private: 0 });
    h.chatwoot.failNext(503, 1, '/conversations/602/messages');
    await expect(h.poll()).rejects.toThrow(/503/);
    expect(h.outgoing(602)).toHaveLength(0);
    await h.poll(h.makePoller());
    await h.poll();
    expect(h.outgoing(602).map((m) => m.content)).toEqual(['Alex Martin (IT): Check the cable']);
  });

  it('goes round the loop 50 times each way and counts every write', async () => {
    const ticketId = await h.openConversation(603);
    await h.feedEchoes();
    await h.poll();
    const glpiWrites = () => h.sim.count('POST') + h.sim.count('PUT');
    const baseGlpi = glpiWrites();
    const basePosts = publicPosts(h).length;

    // GLPI -> Chatwoot: a technician answers; the message's webhook comes back and must stop there.
    for (let round = 1; round <= 50; round += 1) {
      await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `answer ${round}`, is_private: 0 });
      await h.poll();
      const echoes = await h.feedEchoes();
      expect(echoes.every((o) => o.action === 'skipped')).toBe(true);
      await h.poll();
    }
    // The technician's 50 followups are the only GLPI writes; 50 messages, one each.
    expect(glpiWrites() - baseGlpi).toBe(50);
    expect(publicPosts(h).length - basePosts).toBe(50);
    expect(h.outgoing(603).map((m) => m.content)).toEqual(Array.from({ length: 50 }, (_, i) => `Alex Martin (IT): answer ${i + 1}`));

    // Chatwoot -> GLPI: the customer writes; the followup the bridge writes must not come back.
    const postsBefore = h.chatwoot.calls.filter((c) => c.method === 'POST').length;
    const glpiBefore = glpiWrites();
    for (let round = 1; round <= 50; round += 1) {
      const id = 70_000 + round;
      h.chatwoot.addMessage(ACCOUNT_ID, 603, { id, content: `customer ${round}` });
      await h.processor.process(jobData(messageEvent({ id: 603 }, { id, content: `customer ${round}`, createdAt: new Date().toISOString() })));
      await h.poll();
    }
    expect(glpiWrites() - glpiBefore).toBe(50);
    expect(h.chatwoot.calls.filter((c) => c.method === 'POST').length - postsBefore).toBe(0);
  });

  it('a status set on one side and reported back by the other ends after one step', async () => {
    const ticketId = await h.openConversation(604);
    await h.feedEchoes();
    await h.poll();
    const toggles = () => h.chatwoot.calls.filter((c) => c.path.endsWith('/toggle_status')).length;
    for (let round = 1; round <= 5; round += 1) {
      // GLPI side: pending, then back in progress. Each change: one toggle, its echo writes nothing to GLPI.
      const writes = h.sim.count('POST') + h.sim.count('PUT');
      await h.tech.updateItem('Ticket', ticketId, { status: 4 });
      await h.poll();
      await h.feedEchoes();
      await h.tech.updateItem('Ticket', ticketId, { status: 2 });
      await h.poll();
      await h.feedEchoes();
      expect(h.sim.count('POST') + h.sim.count('PUT') - writes).toBe(2);
      expect(toggles()).toBe(round * 2);
    }
    // Chatwoot side: the agent resolves; the bridge solves the ticket; the poll sees its own solution and agrees.
    const before = toggles();
    h.chatwoot.conversation(ACCOUNT_ID, 604)!.status = 'resolved';
    await h.processor.process(jobData(conversationEvent('conversation_status_changed', { id: 604, status: 'resolved', updatedAt: 1_900_000_000 })));
    expect(h.sim.state.tickets.find((t) => t.id === ticketId)?.status).toBe(5);
    await h.poll();
    await h.poll();
    expect(toggles()).toBe(before);
    expect(publicPosts(h).filter((c) => String((c.body as { content?: string }).content).startsWith('Solution'))).toHaveLength(0);
  });
});

describe('GLPI -> Chatwoot: hostile followup content', () => {
  let h: G2cHarness;
  beforeEach(async () => {
    h = await startG2cHarness({ version: '11.0.8' });
  });
  afterEach(async () => {
    await h?.close();
  });

  it('sends HTML/script, Markdown tricks and huge text as bounded plain text, one message each', async () => {
    const ticketId = await h.openConversation(701);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', {
      content: '<p>Hi<script>fetch("https://evil.example")</script> <img src=x onerror=alert(1)>[login](https://evil.example/phish)</p>',
      is_private: 0,
    });
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `<p>${'x'.repeat(200_000)}</p>`, is_private: 0 });
    await h.poll();
    const [first, second] = h.outgoing(701).map((m) => m.content ?? '');
    expect(first).toBe('Alex Martin (IT): Hi \\[login\\](https://evil.example/phish)');
    expect(second!.length).toBeLessThan(20_200);
    expect(second).toMatch(/\(cut: the full text is in GLPI ticket #\d+\)$/);
    expect(h.outgoing(701)).toHaveLength(2);
  });
});
