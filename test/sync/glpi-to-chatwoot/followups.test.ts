import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobData, messageEvent } from '../support.js';
import { ACCOUNT_ID, startG2cHarness, TECH_USER, type G2cHarness } from './support.js';

describe.each(['10.0.3', '11.0.8'] as const)('GLPI %s -> Chatwoot: followups and solutions', (version) => {
  let h: G2cHarness;
  beforeEach(async () => {
    h = await startG2cHarness({ version });
  });
  afterEach(async () => {
    await h?.close();
  });

  it("sends a technician's public followup as exactly one outgoing message, with the author's name", async () => {
    const ticketId = await h.openConversation(501);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: '<p>Hello, we are <b>on it</b> &amp; will call</p>', is_private: 0 });
    await h.poll();
    await h.poll();
    expect(h.outgoing(501)).toEqual([expect.objectContaining({ content: 'Alex Martin (IT): Hello, we are on it & will call' })]);
    const posted = h.chatwoot.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/messages') && (c.body as { private?: boolean }).private === false);
    expect(posted).toHaveLength(1);
  });

  it('sends nothing for private followups, the requester\'s followups and the bridge\'s own followups', async () => {
    const ticketId = await h.openConversation(502);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'internal note: customer is VIP', is_private: 1 });
    await h.glpi.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'written by the bridge user', is_private: 0 });
    // The customer and an agent write in Chatwoot: the bridge writes both into GLPI as followups
    // (the customer's authored by the requester's GLPI user, the agent's by the technician's).
    await h.feedEchoes();
    await h.processor.process(jobData(messageEvent({ id: 502 }, { id: 50_201, content: 'It smells of smoke', createdAt: new Date().toISOString() })));
    h.sim.state.useremails.push({ id: 900, users_id: TECH_USER, email: 'alex@acme.example', is_default: 1, is_dynamic: 0 });
    await h.processor.process(
      jobData(messageEvent({ id: 502 }, { id: 50_202, type: 'outgoing', content: 'Unplug it please', createdAt: new Date().toISOString(), agent: { id: 12, name: 'Alex', email: 'alex@acme.example' } })),
    );
    // The agent's message is authored by the technician in GLPI: only the bridge's records tell it apart.
    expect(h.sim.followupsOf(ticketId).map((f) => f.users_id)).toEqual([TECH_USER, 2, expect.any(Number), TECH_USER]);
    await h.requesterFollowup(ticketId, { content: 'Any news? (by e-mail, through the mail collector)' });
    await h.poll();
    await h.poll();
    expect(h.outgoing(502)).toEqual([]);
    expect(h.chatwoot.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/messages') && (c.body as { private?: boolean }).private === false)).toHaveLength(0);
  });

  it('turns private and requester followups into private notes when GLPI_PRIVATE_AS_NOTES is on', async () => {
    await h.close();
    h = await startG2cHarness({ version, env: { GLPI_PRIVATE_AS_NOTES: 'true' } });
    const ticketId = await h.openConversation(503);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'internal: VIP', is_private: 1 });
    await h.requesterFollowup(ticketId, { content: 'Any news?' });
    await h.poll();
    const messages = h.chatwoot.conversation(ACCOUNT_ID, 503)?.messages ?? [];
    const notes = messages.filter((m) => m.private && /^GLPI (private followup|followup by)/.test(m.content ?? ''));
    expect(notes.map((m) => m.content)).toEqual([
      'GLPI private followup (Alex Martin): internal: VIP',
      "GLPI followup by the ticket's requester (Marie Dupont): Any news?",
    ]);
    expect(h.outgoing(503)).toEqual([]);
  });

  it('sends a solution as one "Solution:" message and resolves the conversation once; a refusal reopens it', async () => {
    const ticketId = await h.openConversation(504);
    await h.poll();
    await h.tech.addItem('ITILSolution', { itemtype: 'Ticket', items_id: ticketId, content: '<p>Replaced the fuse.</p>' });
    await h.poll();
    await h.poll();
    expect(h.outgoing(504).map((m) => m.content)).toEqual(['Solution: Replaced the fuse.']);
    const toggles = () => h.chatwoot.calls.filter((c) => c.path.endsWith('/toggle_status')).map((c) => (c.body as { status: string }).status);
    expect(toggles()).toEqual(['resolved']);
    expect(h.chatwoot.conversation(ACCOUNT_ID, 504)?.status).toBe('resolved');

    // The resolve comes back as conversation_status_changed: it must not touch GLPI again.
    h.sim.resetCalls();
    await h.feedEchoes();
    expect(h.sim.count('POST') + h.sim.count('PUT')).toBe(0);

    await h.requesterFollowup(ticketId, { content: 'Still burning', add_reopen: 1 });
    await h.poll();
    expect(toggles()).toEqual(['resolved', 'open']);
    expect(h.chatwoot.conversation(ACCOUNT_ID, 504)?.status).toBe('open');
  });

  it('maps GLPI pending to pending and a closed ticket stays resolved', async () => {
    const ticketId = await h.openConversation(505);
    await h.poll();
    await h.tech.updateItem('Ticket', ticketId, { status: 4 });
    await h.poll();
    expect(h.chatwoot.conversation(ACCOUNT_ID, 505)?.status).toBe('pending');
    await h.tech.updateItem('Ticket', ticketId, { status: 5 });
    await h.poll();
    await h.tech.updateItem('Ticket', ticketId, { status: 6 });
    await h.poll();
    const toggles = h.chatwoot.calls.filter((c) => c.path.endsWith('/toggle_status')).map((c) => (c.body as { status: string }).status);
    expect(toggles).toEqual(['pending', 'resolved']);
  });

  it('costs one GLPI call when nothing changed, and ignores tickets the bridge did not create', async () => {
    const ticketId = await h.openConversation(506);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'first answer', is_private: 0 });
    await h.poll();
    const other = await h.tech.addItem('Ticket', { name: 'Not from Chatwoot', content: 'x' });
    await h.tech.addSubItem('Ticket', other.id, 'ITILFollowup', { content: 'unrelated', is_private: 0 });
    // Every second already over: the steady state, without waiting for the clock in a test.
    h.setClockSkew(60_000);
    await h.poll();
    h.sim.resetCalls();
    await h.poll();
    await h.poll();
    // Each poll: one search; the unrelated ticket's followups are never read.
    expect(h.sim.calls.map((c) => `${c.method} ${c.endpoint}`).filter((e) => !e.includes('Session'))).toEqual(['GET /search/Ticket', 'GET /search/Ticket']);
    expect(h.outgoing(506)).toHaveLength(1);
  });

  it('never misses a followup made in the same second as the cursor (>= plus remembered pairs)', async () => {
    const a = await h.openConversation(507);
    const b = await h.openConversation(508);
    await h.poll();
    await h.tech.addSubItem('Ticket', a, 'ITILFollowup', { content: 'answer A', is_private: 0 });
    await h.poll();
    // Same second (1 s resolution) as A's date_mod, after the poll read it.
    const aRow = h.sim.state.tickets.find((t) => t.id === a)!;
    await h.tech.addSubItem('Ticket', b, 'ITILFollowup', { content: 'answer B', is_private: 0 });
    const bRow = h.sim.state.tickets.find((t) => t.id === b)!;
    bRow.date_mod = aRow.date_mod;
    await h.poll();
    expect(h.outgoing(507).map((m) => m.content)).toEqual(['Alex Martin (IT): answer A']);
    expect(h.outgoing(508).map((m) => m.content)).toEqual(['Alex Martin (IT): answer B']);
  });

  it('follows tickets created before the reverse map existed, from the first poll on', async () => {
    const ticketId = await h.openConversation(510);
    // As an older bridge version left it: the conversation record, no reverse map entry.
    await h.redis.del(`${h.keys.mapping(h.hook.id)}:tickets`);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'answer on an old ticket', is_private: 0 });
    await h.poll();
    expect(h.outgoing(510).map((m) => m.content)).toEqual(['Alex Martin (IT): answer on an old ticket']);
  });

  it('does not send what GLPI held before the direction was switched on', async () => {
    const ticketId = await h.openConversation(509);
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'old answer', is_private: 0 });
    const old = h.sim.state.followups.find((f) => String(f.content).includes('old answer'))!;
    old.date_creation = '2020-01-01 00:00:00';
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'new answer', is_private: 0 });
    await h.poll();
    expect(h.outgoing(509).map((m) => m.content)).toEqual(['Alex Martin (IT): new answer']);
  });
});
