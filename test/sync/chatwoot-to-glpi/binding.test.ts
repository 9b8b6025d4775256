import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookConfig } from '../../../src/config/schema.js';
import { MappingStore } from '../../../src/sync/mapping-store.js';
import { at, contactEvent, HOOK_ID, jobData, messageEvent, startHarness, type ContactSpec, type SyncHarness } from '../support.js';

/** GLPI profile ids of a fresh install (same on 10.0.3 and 11.0.8). */
const SELF_SERVICE = 1;
const TECHNICIAN = 6;

type Json = Record<string, unknown>;

interface Account {
  id: number;
  login: string;
  email: string;
  phone: string;
}

let seq = 0;

/** A GLPI account the bridge did not create (a technician, or a customer registered by hand). */
async function addAccount(h: SyncHarness, profileId: number, label: string): Promise<Account> {
  seq += 1;
  const login = `${label}${seq}`;
  const email = `${login}@acme-it.example`;
  const phone = `+3361234${String(5000 + seq).padStart(4, '0')}`;
  const { id } = await h.glpi.addItem('User', {
    name: login,
    firstname: 'Tina',
    realname: 'Tech',
    mobile: phone,
    _useremails: [email],
    _profiles_id: profileId,
    _entities_id: 0,
  });
  return { id, login, email, phone };
}

/** Everything a contact_updated could have changed on a GLPI user. */
function userSnapshot(h: SyncHarness, userId: number): Json {
  const row = h.sim.state.users.find((u) => u.id === userId);
  const emails = h.sim.state.useremails.filter((e) => e.users_id === userId).map((e) => e.email);
  return { name: row?.name, firstname: row?.firstname, realname: row?.realname, mobile: row?.mobile, phone: row?.phone, emails };
}

function requestersOf(h: SyncHarness, ticketId: number | undefined): Json[] {
  return h.sim.state.ticketUsers
    .filter((tu) => tu.tickets_id === ticketId && tu.type === 1)
    .map((tu) => ({ users_id: tu.users_id, alternative_email: tu.alternative_email }));
}

function verifiedAs(event: Json, verified: boolean): Json {
  const conversation = event.conversation as { contact_inbox: Json; meta: Json };
  conversation.contact_inbox = { ...conversation.contact_inbox, hmac_verified: verified };
  conversation.meta = { ...conversation.meta, hmac_verified: verified };
  return event;
}

/** A first incoming message from this contact on a new conversation. */
function firstMessage(contact: ContactSpec, conversationId: number, verified = false): Json {
  return verifiedAs(messageEvent({ id: conversationId, contact }, { id: conversationId * 10, createdAt: at(0), content: 'hello' }), verified);
}

async function bindings(h: SyncHarness, result: 'bound' | 'refused', reason: string): Promise<number> {
  const metric = await h.metrics.customerBindings.get();
  return metric.values.find((v) => v.labels.result === result && v.labels.reason === reason)?.value ?? 0;
}

function withLogs(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { lines, logger };
}

describe('binding customers to GLPI accounts (default policy: self-service)', () => {
  let h: SyncHarness;
  const logs = withLogs();
  beforeAll(async () => {
    h = await startHarness({ deps: { logger: logs.logger } });
  });
  afterAll(async () => {
    await h.close();
  });

  it("a customer typing a technician's e-mail gets an e-mail-only ticket and cannot rename, re-phone or re-mail the technician", async () => {
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    const before = userSnapshot(h, tech.id);
    // Hostile spelling of the technician's address: case and spaces do not matter to the lookup.
    const attacker: ContactSpec = { id: 66001, name: 'Pwned By Attacker', email: `  ${tech.email.toUpperCase()} ` };

    const outcome = await h.run(firstMessage(attacker, 6601));
    expect(outcome.action).toBe('ticket-created');
    expect(requestersOf(h, outcome.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
    // No user was created for the address either: it is the technician's.
    expect(h.sim.state.useremails.filter((e) => e.email === tech.email)).toHaveLength(1);

    const second = await h.run(messageEvent({ id: 6601, contact: attacker }, { id: 66011, createdAt: at(5), content: 'more' }));
    const followup = h.sim.state.followups.find((f) => f.id === second.followupId);
    expect(followup?.users_id).not.toBe(tech.id);

    const renamed: ContactSpec = { ...attacker, name: 'Pwned Again', phone: '+33699999999' };
    const update = await h.run(contactEvent('contact_updated', renamed, { name: ['a', 'b'], phone_number: [null, renamed.phone] }));
    expect(update.action).toBe('contact-refused');
    const remailed: ContactSpec = { ...renamed, email: `attacker${seq}@evil.example` };
    await h.run(contactEvent('contact_updated', remailed, { email: ['a', 'b'] }));

    expect(userSnapshot(h, tech.id)).toEqual(before);
    expect(await bindings(h, 'refused', 'staff-profile')).toBeGreaterThanOrEqual(1);
    const refusal = logs.lines.find((l) => l.includes('binding policy refused'));
    expect(refusal).toBeDefined();
    expect(JSON.parse(refusal as string)).toMatchObject({ level: 40, contactId: attacker.id, glpiUserId: tech.id, reason: 'staff-profile' });
    // Ids only: neither the claimed address nor the name reach the log line.
    expect(refusal).not.toContain(tech.email);
    expect(refusal).not.toContain('Pwned');
  });

  it("a customer whose own account was created by the bridge cannot switch it to a technician's e-mail", async () => {
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    const before = userSnapshot(h, tech.id);
    const contact: ContactSpec = { id: 66002, name: 'Eve Sneaky', email: `eve${seq}@customer.example` };
    await h.run(contactEvent('contact_updated', contact, { email: [null, contact.email] }));
    const own = h.sim.state.useremails.find((e) => e.email === contact.email)?.users_id as number;
    expect(own).toBeGreaterThan(0);

    const outcome = await h.run(contactEvent('contact_updated', { ...contact, email: tech.email }, { email: [contact.email, tech.email] }));
    expect(outcome.action).toBe('contact-refused');
    const ticket = await h.run(firstMessage({ ...contact, email: tech.email }, 6602));
    expect(requestersOf(h, ticket.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
    expect(userSnapshot(h, tech.id)).toEqual(before);
    // Her own account did not get the technician's address added either.
    expect(h.sim.state.useremails.filter((e) => e.users_id === own).map((e) => e.email)).toEqual([contact.email]);
  });

  it("a phone-only customer with a technician's number is not bound to the technician", async () => {
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    // The same number written another way.
    const national = `0${tech.phone.slice(3, 4)} ${tech.phone.slice(4, 6)} ${tech.phone.slice(6, 8)} ${tech.phone.slice(8, 10)} ${tech.phone.slice(10)}`;
    const outcome = await h.run(firstMessage({ id: 66003, name: 'Phony', phone: national }, 6603));
    expect(requestersOf(h, outcome.ticketId).some((r) => r.users_id === tech.id)).toBe(false);
  });

  it('a self-service account is still bound: requester and followup author, but never modified', async () => {
    const customer = await addAccount(h, SELF_SERVICE, 'client');
    const before = userSnapshot(h, customer.id);
    const contact: ContactSpec = { id: 66004, name: 'Claire Client', email: customer.email };
    const outcome = await h.run(firstMessage(contact, 6604));
    expect(requestersOf(h, outcome.ticketId)).toEqual([{ users_id: customer.id, alternative_email: '' }]);
    const second = await h.run(messageEvent({ id: 6604, contact }, { id: 66041, createdAt: at(5) }));
    expect(h.sim.state.followups.find((f) => f.id === second.followupId)?.users_id).toBe(customer.id);
    expect(await bindings(h, 'bound', 'self-service')).toBeGreaterThanOrEqual(1);

    const update = await h.run(contactEvent('contact_updated', { ...contact, name: 'Renamed Client', phone: '+33688888888' }, { name: ['a', 'b'] }));
    expect(update.action).toBe('contact-kept');
    expect(userSnapshot(h, customer.id)).toEqual(before);
  });

  it('a user the bridge created is still updated on contact_updated', async () => {
    const contact: ContactSpec = { id: 66005, name: 'Zoé Lefèvre', email: `zoe${seq}@customer.example`, phone: '+33611220005' };
    await h.run(contactEvent('contact_updated', contact, { email: [null, contact.email] }));
    const id = h.sim.state.useremails.find((e) => e.email === contact.email)?.users_id as number;
    const changed: ContactSpec = { ...contact, name: 'Zoé Martin', email: `zoe.martin${seq}@customer.example`, phone: '+33611220006' };
    const outcome = await h.run(contactEvent('contact_updated', changed, { name: ['a', 'b'], email: ['a', 'b'], phone_number: ['a', 'b'] }));
    expect(outcome.action).toBe('contact-updated');
    expect(userSnapshot(h, id)).toMatchObject({ firstname: 'Zoé', realname: 'Martin', mobile: '+33611220006' });
    expect(userSnapshot(h, id).emails).toContain(changed.email);
  });

  it('a mapping stored before the bridge recorded what it created is treated as not created', async () => {
    const legacy = await addAccount(h, SELF_SERVICE, 'legacy');
    const before = userSnapshot(h, legacy.id);
    const store = new MappingStore(h.redis, h.keys, HOOK_ID);
    await store.setCustomer(66006, { kind: 'user', id: legacy.id, email: legacy.email, phone: undefined, name: 'Old Name' });
    const outcome = await h.run(contactEvent('contact_updated', { id: 66006, name: 'New Name', email: legacy.email }, { name: ['a', 'b'] }));
    expect(outcome.action).toBe('contact-kept');
    expect(userSnapshot(h, legacy.id)).toEqual(before);
  });

  it('a mapping to a technician stored by an older version is checked again before its next ticket', async () => {
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    const client = await addAccount(h, SELF_SERVICE, 'client');
    const store = new MappingStore(h.redis, h.keys, HOOK_ID);
    // What the impersonation left behind before the upgrade: no policy, not in the created set.
    await store.setCustomer(66008, { kind: 'user', id: tech.id, email: tech.email, phone: undefined, name: 'Pwned By Attacker' });
    await store.setCustomer(66009, { kind: 'user', id: client.id, email: client.email, phone: undefined, name: 'Claire' });
    const refused = await h.run(firstMessage({ id: 66008, name: 'Pwned By Attacker', email: tech.email }, 6608));
    expect(requestersOf(h, refused.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
    const kept = await h.run(firstMessage({ id: 66009, name: 'Claire', email: client.email }, 6609));
    expect(requestersOf(h, kept.ticketId)).toEqual([{ users_id: client.id, alternative_email: '' }]);
    // Checked once: the next message of a rechecked contact reads no profile again.
    h.sim.resetCalls();
    await h.run(messageEvent({ id: 6609, contact: { id: 66009, name: 'Claire', email: client.email } }, { id: 66091, createdAt: at(5) }));
    expect(h.sim.count('GET', '/User/:id/Profile_User')).toBe(0);
  });

  it('hmac_verified does not bind to a technician unless the hook trusts it', async () => {
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    const outcome = await h.run(firstMessage({ id: 66007, name: 'Verified?', email: tech.email }, 6607, true));
    expect(requestersOf(h, outcome.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
  });
});

describe('binding policy settings', () => {
  const harnesses: SyncHarness[] = [];
  async function harness(binding: Partial<HookConfig['customerBinding']>): Promise<SyncHarness> {
    const h = await startHarness({ binding });
    harnesses.push(h);
    return h;
  }
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  it('trustVerified: a contact Chatwoot verified is bound to the account, an unverified one is not', async () => {
    const h = await harness({ trustVerified: true });
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    const unverified = await h.run(firstMessage({ id: 67001, name: 'Not Verified', email: tech.email }, 6701, false));
    expect(requestersOf(h, unverified.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
    // The same contact, now verified, is decided again.
    const verified = await h.run(firstMessage({ id: 67001, name: 'Not Verified', email: tech.email }, 6702, true));
    expect(requestersOf(h, verified.ticketId)).toEqual([{ users_id: tech.id, alternative_email: '' }]);
    expect(await bindings(h, 'bound', 'verified')).toBe(1);
    // Bound, still not the bridge's to modify.
    const before = userSnapshot(h, tech.id);
    await h.run(contactEvent('contact_updated', { id: 67001, name: 'Pwned By Attacker', email: tech.email, phone: '+33677777777' }, { name: ['a', 'b'] }));
    expect(userSnapshot(h, tech.id)).toEqual(before);
  });

  it('created-only: a self-service account is refused, an account the bridge created is bound', async () => {
    const h = await harness({ policy: 'created-only' });
    const customer = await addAccount(h, SELF_SERVICE, 'client');
    const refused = await h.run(firstMessage({ id: 67101, name: 'Claire', email: customer.email }, 6711));
    expect(requestersOf(h, refused.ticketId)).toEqual([{ users_id: 0, alternative_email: customer.email }]);
    expect(await bindings(h, 'refused', 'not-created')).toBe(1);

    // One person, two Chatwoot contacts (widget, then e-mail channel): the second finds the first's user.
    const email = `paul${seq}@customer.example`;
    const first = await h.run(firstMessage({ id: 67102, name: 'Paul', email }, 6712));
    const created = requestersOf(h, first.ticketId)[0]?.users_id;
    expect(created).toBeGreaterThan(0);
    const second = await h.run(firstMessage({ id: 67103, name: 'Paul', email }, 6713));
    expect(requestersOf(h, second.ticketId)).toEqual([{ users_id: created, alternative_email: '' }]);
  });

  it('any: binds to every account (the old behaviour), yet still modifies none it did not create', async () => {
    const h = await harness({ policy: 'any' });
    const tech = await addAccount(h, TECHNICIAN, 'tech');
    const before = userSnapshot(h, tech.id);
    const outcome = await h.run(firstMessage({ id: 67201, name: 'Anyone', email: tech.email }, 6721));
    expect(requestersOf(h, outcome.ticketId)).toEqual([{ users_id: tech.id, alternative_email: '' }]);
    await h.run(contactEvent('contact_updated', { id: 67201, name: 'Pwned By Attacker', email: tech.email, phone: '+33677777777' }, { name: ['a', 'b'] }));
    expect(userSnapshot(h, tech.id)).toEqual(before);
  });

  it('a refusal is decided again when the policy changes', async () => {
    const strict = await harness({ policy: 'self-service' });
    const tech = await addAccount(strict, TECHNICIAN, 'tech');
    const refused = await strict.run(firstMessage({ id: 67301, name: 'Later', email: tech.email }, 6731));
    expect(requestersOf(strict, refused.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
    const loose = strict.makeProcessor({ hooks: new Map([[HOOK_ID, { ...strict.hook, customerBinding: { policy: 'any', trustVerified: false } }]]) });
    const bound = await loose.process(jobData(firstMessage({ id: 67301, name: 'Later', email: tech.email }, 6732)));
    expect(requestersOf(strict, bound.ticketId)).toEqual([{ users_id: tech.id, alternative_email: '' }]);
  });
});

describe('when the bridge cannot tell staff from customers', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it("refuses the binding if the token's profile may not read Profiles, and the ticket still gets the e-mail requester", async () => {
    const customer = await addAccount(h, SELF_SERVICE, 'client');
    h.sim.setRight('super-admin', 'Profile', 'read', false);
    const outcome = await h.run(firstMessage({ id: 69001, name: 'Claire', email: customer.email }, 6901));
    expect(outcome.action).toBe('ticket-created');
    expect(requestersOf(h, outcome.ticketId)).toEqual([{ users_id: 0, alternative_email: customer.email }]);
    expect(await bindings(h, 'refused', 'profiles-unreadable')).toBe(1);
  });

  it('a hostile hmac_verified that is not a boolean neither fails the event nor counts as verified', async () => {
    const h2 = await startHarness({ binding: { trustVerified: true } });
    try {
      const tech = await addAccount(h2, TECHNICIAN, 'tech');
      const event = firstMessage({ id: 69002, name: 'Tricky', email: tech.email }, 6902);
      const conversation = event.conversation as { contact_inbox: Json; meta: Json };
      conversation.contact_inbox.hmac_verified = 'true';
      conversation.meta.hmac_verified = { $ne: false };
      const outcome = await h2.run(event);
      expect(outcome.action).toBe('ticket-created');
      expect(requestersOf(h2, outcome.ticketId)).toEqual([{ users_id: 0, alternative_email: tech.email }]);
    } finally {
      await h2.close();
    }
  });
});

describe('contact mode: GLPI Contacts the bridge did not create', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness({ glpi: { syncType: 'contact' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('an existing Contact is used but never modified; a Contact the bridge created is updated', async () => {
    const { id: existing } = await h.glpi.addItem('Contact', { name: 'Vendor', firstname: 'Victor', email: 'victor@vendor.example', mobile: '+33600000001' });
    const before = { ...h.sim.state.contacts.find((c) => c.id === existing) };
    await h.run(contactEvent('contact_updated', { id: 68001, name: 'Victor Vendor', email: 'victor@vendor.example' }, { email: [null, 'x'] }));
    const kept = await h.run(
      contactEvent('contact_updated', { id: 68001, name: 'Pwned By Attacker', email: 'victor@vendor.example', phone: '+33699999998' }, { name: ['a', 'b'] }),
    );
    expect(kept.action).toBe('contact-kept');
    expect(h.sim.state.contacts.find((c) => c.id === existing)).toEqual(before);

    await h.run(contactEvent('contact_updated', { id: 68002, name: 'Nina New', email: 'nina@customer.example' }, { email: [null, 'x'] }));
    const created = h.sim.state.contacts.find((c) => c.email === 'nina@customer.example');
    const updated = await h.run(
      contactEvent('contact_updated', { id: 68002, name: 'Nina Renamed', email: 'nina@customer.example', phone: '+33611110002' }, { name: ['a', 'b'] }),
    );
    expect(updated.action).toBe('contact-updated');
    expect(h.sim.state.contacts.find((c) => c.id === created?.id)).toMatchObject({ name: 'Renamed', mobile: '+33611110002' });
  });
});
