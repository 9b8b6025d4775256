import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MappingStore } from '../../../src/sync/mapping-store.js';
import type { SyncProcessor } from '../../../src/sync/use-case.js';
import { loadFixture } from '../../support/fixtures.js';
import { glpiDecode } from '../../support/glpi-simulator/index.js';
import {
  HOOK_ID,
  MARIE,
  at,
  contactEvent,
  conversationEvent,
  jobData,
  messageEvent,
  startHarness,
  type ConversationSpec,
  type SyncHarness,
  purgeInGlpi,
} from '../support.js';

/** GLPI 10 stores text entity-encoded; compare what a person reads. */
const text = (value: unknown) => glpiDecode(String(value ?? ''));

let h: SyncHarness;
let nextConversation = 100;
let nextMessage = 50_000;
/** A conversation id no other test uses (the simulator and Redis are shared by the file). */
function conv(extra: Partial<ConversationSpec> = {}): ConversationSpec {
  nextConversation += 1;
  return { id: nextConversation, ...extra };
}
function msgId(): number {
  nextMessage += 1;
  return nextMessage;
}

beforeAll(async () => {
  h = await startHarness({ sim: { timezoneOffsetMin: 120 } });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.sim.clearFaults();
});

const purge = (itemtype: string, id: number) => purgeInGlpi(h.sim, itemtype, id);

const ticketsOf = (conversationId: number) =>
  h.sim.state.tickets.filter((t) => text(t.content).includes(`chatwoot:${HOOK_ID}:conversation:${conversationId})`));

describe('customers', () => {
  it('creates nothing in GLPI for an anonymous widget visitor', async () => {
    h.sim.resetCalls();
    const users = h.sim.state.users.length;
    const outcome = await h.run(loadFixture('contact_created'));
    expect(outcome.action).toBe('contact-not-identifiable');
    expect(h.sim.state.users.length).toBe(users);
    expect(h.sim.count()).toBe(0);
  });

  it('creates a GLPI user with names, e-mail, E.164 mobile and entity when none matches', async () => {
    const contact = { id: 7001, name: 'Élodie Martin-Roux', email: 'Elodie.MR@example.org', phone: '06 11 22 33 44' };
    const outcome = await h.run(contactEvent('contact_updated', contact, { email: [null, contact.email] }));
    expect(outcome.action).toBe('contact-resolved');
    const user = h.sim.state.users.find((u) => u.name === 'elodie.mr@example.org');
    expect(user).toMatchObject({ firstname: 'Élodie', realname: 'Martin-Roux', mobile: '+33611223344', entities_id: 0 });
    expect(h.sim.state.useremails.filter((e) => e.users_id === user?.id).map((e) => e.email)).toEqual(['elodie.mr@example.org']);
  });

  it('finds an existing GLPI user by e-mail instead of creating one', async () => {
    const { id } = await h.glpi.addItem('User', { name: 'jdoe', realname: 'Doe', _useremails: ['john.doe@example.com'] });
    const users = h.sim.state.users.length;
    await h.run(contactEvent('contact_updated', { id: 7002, name: 'John', email: 'JOHN.DOE@example.com' }, { email: [null, 'x'] }));
    expect(h.sim.state.users.length).toBe(users);
    expect(await h.redis.hget(`${h.keys.mapping(HOOK_ID)}:contact:7002`, 'id')).toBe(String(id));
  });

  it('finds an existing GLPI user by phone in any phone field and any formatting', async () => {
    const { id } = await h.glpi.addItem('User', { name: 'pbernard', realname: 'Bernard', phone2: '06.98.76.54.32' });
    const users = h.sim.state.users.length;
    await h.run(contactEvent('contact_updated', { id: 7003, name: 'Paul Bernard', phone: '+33 6 98 76 54 32' }, { phone_number: [null, 'x'] }));
    expect(h.sim.state.users.length).toBe(users);
    expect(await h.redis.hget(`${h.keys.mapping(HOOK_ID)}:contact:7003`, 'id')).toBe(String(id));
  });

  it('makes no GLPI call for contact_updated that only moves last_activity_at or custom attributes', async () => {
    h.sim.resetCalls();
    expect((await h.run(loadFixture('contact_updated.last_activity'))).action).toBe('skipped');
    expect((await h.run(loadFixture('contact_updated.integration_echo'))).action).toBe('skipped');
    expect(h.sim.count()).toBe(0);
  });

  it('updates the GLPI record when the e-mail or phone changes', async () => {
    const contact = { id: 7004, name: 'Zoé Lefèvre', email: 'zoe@example.org', phone: null };
    await h.run(contactEvent('contact_updated', contact, { email: [null, contact.email] }));
    const userId = Number(await h.redis.hget(`${h.keys.mapping(HOOK_ID)}:contact:7004`, 'id'));
    h.sim.resetCalls();
    const outcome = await h.run(
      contactEvent('contact_updated', { ...contact, email: 'zoe.lefevre@example.org', phone: '0611223355' }, { email: ['a', 'b'], phone_number: [null, 'c'] }),
    );
    expect(outcome.action).toBe('contact-updated');
    expect(h.sim.count('PUT', '/User/:id')).toBe(1);
    expect(h.sim.state.users.find((u) => u.id === userId)?.mobile).toBe('+33611223355');
    expect(h.sim.state.useremails.filter((e) => e.users_id === userId).map((e) => e.email)).toContain('zoe.lefevre@example.org');
  });
});

describe('tickets', () => {
  it('conversation_created makes one ticket with requester, type, category, entity, escaped content and a reference back', async () => {
    const c = conv({
      contact: { id: 8001, name: 'Ana Souza', email: 'ana@example.org' },
      lastMessage: { id: msgId(), createdAt: at(0), content: 'Printer <b>broken</b> & <script>alert(1)</script>\n\nsecond paragraph' },
    });
    const outcome = await h.run(conversationEvent('conversation_created', c));
    expect(outcome.action).toBe('ticket-created');
    const [ticket, ...others] = ticketsOf(c.id);
    expect(others).toHaveLength(0);
    expect(ticket).toMatchObject({ type: 1, entities_id: 0 });
    expect(text(ticket?.name)).toContain('Printer <b>broken</b>');
    const content = text(ticket?.content);
    expect(content).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(content).not.toContain('<script>');
    expect(content).toContain(`Chatwoot conversation #${c.id}`);
    const requester = h.sim.state.ticketUsers.find((tu) => tu.tickets_id === ticket?.id && tu.type === 1);
    const user = h.sim.state.users.find((u) => u.id === requester?.users_id);
    expect(user?.name).toBe('ana@example.org');
  });

  it('uses the hook category and ticket type', async () => {
    const other = await startHarness({ glpi: { ticketType: 2, categoryId: 1 } });
    try {
      const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
      await other.run(conversationEvent('conversation_created', c));
      expect(other.sim.state.tickets.at(-1)).toMatchObject({ type: 2, itilcategories_id: 1 });
    } finally {
      await other.close();
    }
  });

  it('a message_created that arrives first creates the ticket; later events add neither a ticket nor a followup for it', async () => {
    const first = { id: msgId(), createdAt: at(0), content: 'first words' };
    const c = conv({ lastMessage: first });
    expect((await h.run(messageEvent(c, first))).action).toBe('ticket-created');
    expect((await h.run(conversationEvent('conversation_created', c))).action).toBe('status-unchanged');
    expect((await h.run(messageEvent(c, first))).action).toBe('skipped');
    const tickets = ticketsOf(c.id);
    expect(tickets).toHaveLength(1);
    expect(h.sim.followupsOf(tickets[0]!.id)).toHaveLength(0);
  });

  it('conversation_created delivered twice yields one ticket', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    await h.run(conversationEvent('conversation_created', c));
    await h.run(conversationEvent('conversation_created', c));
    expect(ticketsOf(c.id)).toHaveLength(1);
  });

  it('a worker dying between the ticket POST and its record does not make a second ticket on rerun', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    // What a worker that died mid-request looks like from the bridge's side: GLPI created the
    // ticket, the answer never arrived, so nothing recorded it.
    h.sim.failNext({ kind: 'status', status: 502, afterCommit: true }, 1, 'POST /Ticket');
    const payload = conversationEvent('conversation_created', c);
    await expect(h.run(payload)).rejects.toMatchObject({ transient: true });
    expect(ticketsOf(c.id)).toHaveLength(1);
    expect(await h.redis.hget(`${h.keys.mapping(HOOK_ID)}:conv:${c.id}`, 'ticketId')).toBeNull();
    await h.run(payload);
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(5) }));
    expect(ticketsOf(c.id)).toHaveLength(1);
  });

  it('creates the ticket again when the stored one was deleted in GLPI', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    await h.run(conversationEvent('conversation_created', c));
    const [old] = ticketsOf(c.id);
    h.sim.resetCalls();
    await purge('Ticket', old!.id);
    const outcome = await h.run(messageEvent(c, { id: msgId(), createdAt: at(9), content: 'still there?' }));
    // The simulator may reuse the purged id; what matters is that a new ticket was created.
    expect(h.sim.count('POST', '/Ticket')).toBe(1);
    expect(outcome.action).toBe('followup-posted');
    expect(h.sim.followupsOf(outcome.ticketId!).map((f) => text(f.content))).toEqual([expect.stringContaining('still there?')]);
    expect(ticketsOf(c.id)).toHaveLength(1);
  });

  it('opens a new ticket for the conversation when a message arrives after its ticket was closed in GLPI', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    await h.run(conversationEvent('conversation_created', c));
    const [old] = ticketsOf(c.id);
    old!.status = 6; // closed by a technician in GLPI
    h.sim.resetCalls();
    const outcome = await h.run(messageEvent(c, { id: msgId(), createdAt: at(20), content: 'one more thing' }));
    expect(outcome.ticketId).not.toBe(old!.id);
    expect(h.sim.count('POST', '/Ticket')).toBe(1);
    expect(old!.status).toBe(6);
    expect(h.sim.followupsOf(old!.id).map((f) => text(f.content)).join(' ')).not.toContain('one more thing');
    // The next message goes to the new ticket directly.
    h.sim.resetCalls();
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(21), content: 'and another' }));
    expect(h.sim.count('POST', '/Ticket')).toBe(0);
    expect(h.sim.followupsOf(outcome.ticketId!).map((f) => text(f.content)).join(' ')).toContain('and another');
  });

  it('makes a ticket without requester for a contact with neither e-mail nor phone, and no GLPI user', async () => {
    const users = h.sim.state.users.length;
    const c = conv({ contact: { id: 8002, name: 'silent-meadow-318' }, lastMessage: { id: msgId(), createdAt: at(0) } });
    await h.run(conversationEvent('conversation_created', c));
    const [ticket] = ticketsOf(c.id);
    expect(ticket).toBeDefined();
    expect(h.sim.state.users.length).toBe(users);
    expect(h.sim.state.ticketUsers.filter((tu) => tu.tickets_id === ticket?.id && tu.type === 1)).toHaveLength(0);
  });
});

describe('followups', () => {
  async function ticketFor(c: ConversationSpec): Promise<number> {
    await h.run(conversationEvent('conversation_created', c));
    return ticketsOf(c.id)[0]!.id;
  }

  it('posts incoming, outgoing and private messages once each, private ones private, activity skipped', async () => {
    const first = { id: msgId(), createdAt: at(0) };
    const c = conv({ lastMessage: first });
    const ticketId = await ticketFor(c);
    const incoming = { id: msgId(), createdAt: at(10), content: 'it still fails' };
    const outgoing = { id: msgId(), createdAt: at(20), type: 'outgoing' as const, content: 'on my way' };
    const note = { id: msgId(), createdAt: at(30), type: 'outgoing' as const, private: true, content: 'internal: toner' };
    const activity = { id: msgId(), createdAt: at(40), type: 'activity' as const, content: 'Conversation was resolved' };
    for (const m of [incoming, outgoing, note, activity, incoming]) await h.run(messageEvent(c, m));
    const followups = h.sim.followupsOf(ticketId);
    expect(followups.map((f) => text(f.content))).toEqual([
      expect.stringContaining('it still fails'),
      expect.stringContaining('on my way'),
      expect.stringContaining('internal: toner'),
    ]);
    expect(followups.map((f) => Number(f.is_private))).toEqual([0, 0, 1]);
  });

  it('keeps Chatwoot order in the timeline whatever order the events arrive in, with dates in GLPI local time', async () => {
    const first = { id: msgId(), createdAt: at(0) };
    const c = conv({ lastMessage: first });
    const ticketId = await ticketFor(c);
    const ms = [1, 2, 3, 4].map((n) => ({ id: msgId(), createdAt: at(n * 60), content: `step ${n}` }));
    for (const m of [ms[2]!, ms[0]!, ms[3]!, ms[1]!, ms[2]!]) await h.run(messageEvent(c, m));
    const followups = h.sim.followupsOf(ticketId);
    expect(followups.map((f) => /step \d/.exec(text(f.content))?.[0])).toEqual(['step 1', 'step 2', 'step 3', 'step 4']);
    // at(60) = 09:15:05 UTC; the simulated GLPI runs at UTC+2.
    expect(followups[0]?.date).toBe('2026-05-28 11:15:05');
  });

  it('a worker dying between the followup POST and its record costs no duplicate on rerun', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    const ticketId = await ticketFor(c);
    const m = { id: msgId(), createdAt: at(10), content: 'exactly once please' };
    h.sim.failNext({ kind: 'status', status: 502, afterCommit: true }, 1, 'POST /ITILFollowup');
    await expect(h.run(messageEvent(c, m))).rejects.toMatchObject({ transient: true });
    expect(h.sim.followupsOf(ticketId)).toHaveLength(1);
    h.sim.resetCalls();
    const outcome = await h.run(messageEvent(c, m));
    expect(outcome.action).toBe('followup-recovered');
    expect(h.sim.count('POST', '/ITILFollowup')).toBe(0);
    expect(h.sim.followupsOf(ticketId)).toHaveLength(1);
    await h.run(messageEvent(c, m));
    expect(h.sim.followupsOf(ticketId)).toHaveLength(1);
  });

  it('a GLPI failure on the followup POST is retried later without loss or duplicate', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    const ticketId = await ticketFor(c);
    const m = { id: msgId(), createdAt: at(10), content: 'after the outage' };
    h.sim.failNext({ kind: 'status', status: 503 }, 1, '/ITILFollowup');
    await expect(h.run(messageEvent(c, m))).rejects.toMatchObject({ code: 'GLPI_SERVER_ERROR', transient: true });
    await h.run(messageEvent(c, m));
    expect(h.sim.followupsOf(ticketId).filter((f) => text(f.content).includes('after the outage'))).toHaveLength(1);
  });

  it('carries attachments as links, and as GLPI documents when a fetcher is configured', async () => {
    const fixture = loadFixture<Record<string, unknown>>('message_created.attachment');
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    const ticketId = await ticketFor(c);
    const asLink = { ...fixture, id: msgId(), conversation: { ...(fixture.conversation as object), id: c.id } };
    await h.run(asLink);
    const linked = h.sim.followupsOf(ticketId).at(-1);
    expect(text(linked?.content)).toContain('capture-erreur.png');
    expect(text(linked?.content)).toContain('https://chat.acme-it.example/rails/active_storage/blobs/redirect/');

    const uploading = h.makeProcessor({
      fetchAttachment: async () => ({ file: { filename: 'capture-erreur.png', contentType: 'image/png', data: new Uint8Array([137, 80, 78, 71]) } }),
    });
    const asDocument = { ...fixture, id: msgId(), conversation: { ...(fixture.conversation as object), id: c.id } };
    await uploading.process(jobData(asDocument));
    const doc = h.sim.state.documentItems.find((di) => di.itemtype === 'Ticket' && di.items_id === ticketId);
    expect(doc).toBeDefined();
    expect(text(h.sim.followupsOf(ticketId).at(-1)?.content)).toContain(`GLPI document ${String(doc?.documents_id)}`);
  });

  it('costs one GLPI call per message on a known conversation in steady state', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    await ticketFor(c);
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(5) }));
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(6), type: 'outgoing' }));
    h.sim.resetCalls();
    const counted: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      counted.push((await h.run(messageEvent(c, { id: msgId(), createdAt: at(10 + i), type: i % 2 === 0 ? 'incoming' : 'outgoing' }))).glpiCalls);
    }
    expect(h.sim.count()).toBe(10);
    // The job's own count agrees with what GLPI saw.
    expect(counted).toEqual(Array.from({ length: 10 }, () => 1));
    expect(h.sim.count('POST', '/ITILFollowup')).toBe(10);
  });
});

describe('authors', () => {
  it('incoming followups carry the customer; agents their GLPI user by e-mail (cached), else the default user', async () => {
    const agent = { id: 31, name: 'Chloé Petit', email: 'chloe.petit@acme-it.example' };
    const { id: agentUserId } = await h.glpi.addItem('User', { name: 'cpetit', realname: 'Petit', _useremails: [agent.email] });
    const c = conv({ contact: { id: 9001, name: 'Iris Blanc', email: 'iris@example.org' }, lastMessage: { id: msgId(), createdAt: at(0) } });
    await h.run(conversationEvent('conversation_created', c));
    const ticketId = ticketsOf(c.id)[0]!.id;
    const customerId = Number(await h.redis.hget(`${h.keys.mapping(HOOK_ID)}:contact:9001`, 'id'));

    await h.run(messageEvent(c, { id: msgId(), createdAt: at(1) }));
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(2), type: 'outgoing', agent }));
    h.sim.resetCalls();
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(3), type: 'outgoing', agent }));
    expect(h.sim.count('GET', '/search/User')).toBe(0);

    const withDefault = h.makeProcessor({
      hooks: new Map([[HOOK_ID, { ...h.hook, glpi: { ...h.hook.glpi, defaultUserId: 5 } }]]),
    });
    const stranger = { id: 77, name: 'Night Shift', email: 'night@acme-it.example' };
    await withDefault.process(jobData(messageEvent(c, { id: msgId(), createdAt: at(4), type: 'outgoing', agent: stranger })));
    await h.run(messageEvent(c, { id: msgId(), createdAt: at(5), type: 'outgoing', agent: stranger }));

    const authors = h.sim.followupsOf(ticketId).map((f) => f.users_id);
    // Token user of 'admin-user-token' is GLPI user 2.
    expect(authors).toEqual([customerId, agentUserId, agentUserId, 5, 2]);
  });
});

describe('status', () => {
  it('resolved solves once for the duplicate pair, pending/snoozed set pending, reopened puts it back in progress', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) }, updatedAt: 1000 });
    await h.run(conversationEvent('conversation_created', c));
    const ticketId = ticketsOf(c.id)[0]!.id;
    const status = () => h.sim.state.tickets.find((t) => t.id === ticketId)?.status;

    const resolved = { ...c, status: 'resolved' as const, updatedAt: 2000 };
    await h.run(conversationEvent('conversation_status_changed', resolved));
    await h.run(conversationEvent('conversation_updated', resolved, [{ status: { previous_value: 'open', current_value: 'resolved' } }]));
    expect(h.sim.state.solutions.filter((s) => s.items_id === ticketId)).toHaveLength(1);
    expect(status()).toBe(5);

    await h.run(conversationEvent('conversation_status_changed', { ...c, status: 'open', updatedAt: 3000 }));
    expect(status()).toBe(2);
    await h.run(conversationEvent('conversation_status_changed', { ...c, status: 'snoozed', updatedAt: 4000 }));
    expect(status()).toBe(4);
    await h.run(conversationEvent('conversation_status_changed', { ...c, status: 'open', updatedAt: 5000 }));
    await h.run(conversationEvent('conversation_status_changed', { ...c, status: 'pending', updatedAt: 6000 }));
    expect(status()).toBe(4);
    // A late, older snapshot changes nothing.
    await h.run(conversationEvent('conversation_updated', { ...c, status: 'resolved', updatedAt: 2500 }));
    expect(status()).toBe(4);
    expect(h.sim.state.solutions.filter((s) => s.items_id === ticketId)).toHaveLength(1);
  });

  it('applies the status of a conversation whose event creates its ticket, without reading the record back', async () => {
    const reads = vi.spyOn(MappingStore.prototype, 'getConversation');
    try {
      const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) }, status: 'resolved', updatedAt: 1000 });
      expect((await h.run(conversationEvent('conversation_created', c))).action).toBe('ticket-created');
      const [ticket] = ticketsOf(c.id);
      expect(ticket?.status).toBe(5);
      expect(await h.redis.hgetall(`${h.keys.mapping(HOOK_ID)}:conv:${c.id}`)).toEqual({ ticketId: String(ticket!.id), status: 'solved', statusAt: '1000' });

      // The ticket deleted in GLPI: the replacement gets the status too, still without a read back.
      await purge('Ticket', ticket!.id);
      h.sim.resetCalls();
      const outcome = await h.run(conversationEvent('conversation_status_changed', { ...c, status: 'pending', updatedAt: 2000 }));
      expect(h.sim.count('POST', '/Ticket')).toBe(1);
      expect(h.sim.state.tickets.find((t) => t.id === outcome.ticketId)?.status).toBe(4);
      expect(await h.redis.hgetall(`${h.keys.mapping(HOOK_ID)}:conv:${c.id}`)).toEqual({ ticketId: String(outcome.ticketId), status: 'pending', statusAt: '2000' });
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
  });

  it('conversation_updated without a status change makes no GLPI call', async () => {
    const c = conv({ lastMessage: { id: msgId(), createdAt: at(0) } });
    await h.run(conversationEvent('conversation_created', c));
    h.sim.resetCalls();
    await h.run(conversationEvent('conversation_updated', { ...c, updatedAt: 99_999 }, [{ assignee_id: { previous_value: null, current_value: 12 } }]));
    expect(h.sim.count()).toBe(0);
  });
});

describe('contact sync type', () => {
  let hc: SyncHarness;
  let p: SyncProcessor;
  beforeAll(async () => {
    hc = await startHarness({ glpi: { syncType: 'contact' } });
    p = hc.processor;
  });
  afterAll(async () => {
    await hc?.close();
  });

  it('creates a GLPI Contact and tickets with the e-mail-only requester', async () => {
    await p.process(jobData(contactEvent('contact_updated', MARIE, { email: [null, MARIE.email] })));
    expect(hc.sim.state.contacts.at(-1)).toMatchObject({ name: 'Dupont', firstname: 'Marie', email: 'marie.dupont@example.org', mobile: '+33612345678' });
    expect(hc.sim.state.users.some((u) => u.name === 'marie.dupont@example.org')).toBe(false);
    await p.process(jobData(loadFixture('conversation_created')));
    const ticket = hc.sim.state.tickets.at(-1);
    const requester = hc.sim.state.ticketUsers.find((tu) => tu.tickets_id === ticket?.id && tu.type === 1);
    expect(requester).toMatchObject({ users_id: 0, alternative_email: 'marie.dupont@example.org' });
  });
});
