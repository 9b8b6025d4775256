import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '../../support/fixtures.js';
import { at, HOOK_ID, messageEvent, startHarness, type ContactSpec, type SyncHarness } from '../support.js';

describe('the ticket requester', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('comes from the incoming message sender when the conversation payload has no meta.sender', async () => {
    const payload = loadFixture<{ conversation: { meta?: unknown } }>('message_created.incoming');
    delete payload.conversation.meta;
    const outcome = await h.run(payload);
    const customer = h.sim.state.users.find((u) => u.realname === 'Dupont');
    expect(customer).toBeDefined();
    const requesters = h.sim.state.ticketUsers.filter((tu) => tu.tickets_id === outcome.ticketId && tu.type === 1);
    expect(requesters.map((r) => r.users_id)).toEqual([customer?.id]);
  });
});

/**
 * A stored GLPI user is checked to still exist before a new ticket names it, once per customer
 * per hour rather than once per conversation (issue #14: it was 49 of the bench's 55 extra calls).
 */
describe('the stored requester check', () => {
  let h: SyncHarness;
  let nowMs = Date.parse('2026-06-01T10:00:00.000Z');
  const HOUR_MS = 60 * 60_000;
  let nextConversation = 8100;
  let nextMessage = 81_000;
  let nextContact = 8800;

  beforeAll(async () => {
    h = await startHarness({ deps: { clock: () => nowMs } });
  });
  afterAll(async () => {
    await h.close();
  });

  const customer = (): ContactSpec => {
    nextContact += 1;
    return { id: nextContact, name: `Requester ${nextContact}`, email: `requester.${nextContact}@example.org` };
  };
  /** A new conversation of `contact` whose first message opens its ticket; the ticket's requesters. */
  async function openConversation(contact: ContactSpec): Promise<number[]> {
    nextConversation += 1;
    nextMessage += 1;
    const outcome = await h.run(messageEvent({ id: nextConversation, contact }, { id: nextMessage, createdAt: at(0) }));
    expect(outcome.ticketId).toBeDefined();
    return h.sim.state.ticketUsers.filter((tu) => tu.tickets_id === outcome.ticketId && tu.type === 1).map((tu) => Number(tu.users_id));
  }
  const contactKey = (contact: ContactSpec) => `${h.keys.mapping(HOOK_ID)}:contact:${contact.id}`;
  async function purgeUser(id: number): Promise<void> {
    const init = await fetch(`${h.sim.url}initSession`, { headers: { authorization: 'user_token admin-user-token' } });
    const { session_token: token } = (await init.json()) as { session_token: string };
    const res = await fetch(`${h.sim.url}User/${id}?force_purge=true`, { method: 'DELETE', headers: { 'session-token': token } });
    expect(res.status).toBeLessThan(300);
  }

  it('reads the user from GLPI once for several conversations of one customer', async () => {
    const marie = customer();
    const [userId] = await openConversation(marie); // creates the user: nothing to check
    expect(userId).toBeGreaterThan(0);
    h.sim.resetCalls();
    for (let i = 0; i < 4; i += 1) {
      nowMs += 60_000;
      expect(await openConversation(marie)).toEqual([userId]);
    }
    expect(h.sim.count('GET', '/User/:id')).toBe(1);
    expect(h.sim.count('POST', '/Ticket')).toBe(4);
  });

  it('checks again after an hour, and resolves the customer again when the user was purged', async () => {
    const paul = customer();
    const [first] = await openConversation(paul);
    await openConversation(paul); // checked now
    await purgeUser(first!);
    nowMs += HOUR_MS + 1;
    h.sim.resetCalls();
    const [second] = await openConversation(paul);
    expect(h.sim.count('GET', '/User/:id')).toBe(1);
    expect(h.sim.count('POST', '/User')).toBe(1);
    expect(second).toBeGreaterThan(0);
    expect(h.sim.state.users.find((u) => u.id === second)?.realname).toBe(String(paul.id));
  });

  it('does not trust a check time ahead of the clock or that is not a number (a forged or skewed record)', async () => {
    const eve = customer();
    const [userId] = await openConversation(eve);
    for (const forged of [String(nowMs + 10 * HOUR_MS), 'NaN', '-1e400', '1e400', ' ', 'checked']) {
      await h.redis.hset(contactKey(eve), 'checkedAt', forged);
      h.sim.resetCalls();
      expect(await openConversation(eve)).toEqual([userId]);
      expect(h.sim.count('GET', '/User/:id'), `checkedAt=${forged}`).toBe(1);
    }
  });
});
