import type { ChatwootContact, ContactEvent } from '../chatwoot/events.js';
import { isGlpiError, isGlpiNotFound } from '../glpi/errors.js';
import { findContactByEmail, findContactByPhone, findUserByEmail, findUserByLogin, findUserByPhone } from '../glpi/finders.js';
import { normalizePhone } from '../glpi/phone.js';
import type { GlpiInput } from '../glpi/types.js';
import { throwIfAborted, type SyncContext } from './context.js';
import type { CustomerKind, CustomerRecord } from './mapping-store.js';

/**
 * Chatwoot contacts as GLPI requesters. Identity is the e-mail, then the phone (E.164, matched
 * against every phone field of GLPI whatever its formatting), then the stored mapping; a contact
 * with neither e-mail nor phone is never created in GLPI (widget visitors named "silent-meadow-318").
 */

export interface Identity {
  email: string | undefined;
  phone: string | undefined;
  name: string | undefined;
}

export function identityOf(contact: ChatwootContact, ctx: Pick<SyncContext, 'hook'>): Identity {
  const email = contact.email?.trim().toLowerCase() || undefined;
  const phone = normalizePhone(contact.phone_number, ctx.hook.phoneDefaultRegion);
  const name = contact.name?.trim() || undefined;
  return { email: email?.includes('@') ? email : undefined, phone, name };
}

export function isIdentifiable(identity: Identity): boolean {
  return identity.email !== undefined || identity.phone !== undefined;
}

/** "Marie Dupont" -> firstname Marie, realname Dupont; one word is a last name. */
export function splitName(name: string | undefined): { firstname: string | undefined; realname: string | undefined } {
  const parts = (name ?? '').trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length === 0) return { firstname: undefined, realname: undefined };
  if (parts.length === 1) return { firstname: undefined, realname: parts[0] };
  return { firstname: parts[0], realname: parts.slice(1).join(' ') };
}

function kindOf(ctx: SyncContext): CustomerKind {
  return ctx.hook.glpi.syncType === 'user' ? 'user' : 'contact';
}

/**
 * The GLPI record for a contact: the stored mapping when there is one (no GLPI call), else found
 * by e-mail or phone, else created. Undefined when the contact cannot be identified.
 */
export async function resolveCustomer(
  ctx: SyncContext,
  contact: ChatwootContact,
  stored: CustomerRecord | undefined,
): Promise<CustomerRecord | undefined> {
  const kind = kindOf(ctx);
  if (stored !== undefined && stored.kind === kind) return stored;
  const identity = identityOf(contact, ctx);
  if (!isIdentifiable(identity)) return undefined;
  return findOrCreate(ctx, contact.id, identity);
}

async function findOrCreate(ctx: SyncContext, contactId: number, identity: Identity): Promise<CustomerRecord> {
  const kind = kindOf(ctx);
  const region = ctx.hook.phoneDefaultRegion;
  let id: number | undefined;
  if (identity.email !== undefined) {
    id = kind === 'user' ? await findUserByEmail(ctx.glpi, identity.email) : await findContactByEmail(ctx.glpi, identity.email);
  }
  if (id === undefined && identity.phone !== undefined) {
    id =
      kind === 'user'
        ? await findUserByPhone(ctx.glpi, identity.phone, region)
        : await findContactByPhone(ctx.glpi, identity.phone, region);
  }
  if (id === undefined) {
    id = kind === 'user' ? await createUser(ctx, contactId, identity) : await createContact(ctx, contactId, identity);
    ctx.logger.info({ contactId, glpiId: id, kind }, 'created GLPI requester for Chatwoot contact');
  }
  const record: CustomerRecord = { kind, id, ...identity };
  await ctx.store.setCustomer(contactId, record);
  return record;
}

/**
 * Characters GLPI 10 accepts in a login (10.0.3 answers "The login is not valid" to `+`, `&`, `/`;
 * 11.0.8 takes them). Plus-addressed e-mails are common, so an e-mail outside this set gets a login
 * of the bridge's own; it stays the user's e-mail, which is how the customer is found again.
 */
const GLPI_LOGIN = /^[\p{L}\p{N}'@.\-_ ]+$/u;

/** The e-mail when GLPI takes it as a login, else a login of the bridge's own namespace. */
export function loginFor(contactId: number, identity: Identity): string {
  if (identity.email !== undefined && GLPI_LOGIN.test(identity.email)) return identity.email;
  if (identity.phone !== undefined) return `chatwoot-${identity.phone.replace(/^\+/, '')}`;
  return `chatwoot-contact-${contactId}`;
}

async function createUser(ctx: SyncContext, contactId: number, identity: Identity): Promise<number> {
  const login = loginFor(contactId, identity);
  const { firstname, realname } = splitName(identity.name);
  const input: GlpiInput = {
    name: login,
    ...(firstname !== undefined ? { firstname } : {}),
    realname: realname ?? login,
    ...(identity.email !== undefined ? { _useremails: [identity.email] } : {}),
    ...(identity.phone !== undefined ? { mobile: identity.phone } : {}),
    entities_id: ctx.hook.glpi.entityId,
    _entities_id: ctx.hook.glpi.entityId,
    comment: `Created by chatwoot-glpi-bridge from Chatwoot contact ${contactId}`,
  };
  throwIfAborted(ctx.signal);
  try {
    return (await ctx.glpi.addItem('User', input)).id;
  } catch (err) {
    // The login is taken by a user our lookups did not find (e.g. login = e-mail but the address
    // is not among its e-mails): that user is this customer.
    if (isGlpiError(err, 'ERROR_GLPI_ADD') && /exist/i.test(err.glpiMessage ?? '')) {
      const existing = await findUserByLogin(ctx.glpi, login);
      if (existing !== undefined) return existing;
    }
    throw err;
  }
}

async function createContact(ctx: SyncContext, contactId: number, identity: Identity): Promise<number> {
  const { firstname, realname } = splitName(identity.name);
  const input: GlpiInput = {
    name: realname ?? identity.email ?? identity.phone ?? `Chatwoot contact ${contactId}`,
    ...(firstname !== undefined ? { firstname } : {}),
    ...(identity.email !== undefined ? { email: identity.email } : {}),
    ...(identity.phone !== undefined ? { mobile: identity.phone } : {}),
    entities_id: ctx.hook.glpi.entityId,
    comment: `Created by chatwoot-glpi-bridge from Chatwoot contact ${contactId}`,
  };
  throwIfAborted(ctx.signal);
  return (await ctx.glpi.addItem('Contact', input)).id;
}

const IDENTITY_ATTRIBUTES = ['name', 'email', 'phone_number'] as const;

/** contact_updated fires on every incoming message and on attribute writes: only these changes matter. */
export function changesIdentity(event: ContactEvent): boolean {
  return event.event === 'contact_created' || IDENTITY_ATTRIBUTES.some((a) => a in event.changed_attributes);
}

export type ContactOutcome = 'ignored' | 'not-identifiable' | 'unchanged' | 'resolved' | 'updated' | 'remapped';

/**
 * contact_created / contact_updated. contact_updated fires on every incoming message
 * (last_activity_at) and on the bridge's own custom-attribute writes: only a change of name,
 * e-mail or phone reaches GLPI.
 */
export async function syncContactEvent(ctx: SyncContext, event: ContactEvent): Promise<ContactOutcome> {
  if (!changesIdentity(event)) return 'ignored';
  const identity = identityOf(event, ctx);
  const stored = await ctx.store.getCustomer(event.id);
  if (stored === undefined || stored.kind !== kindOf(ctx)) {
    if (!isIdentifiable(identity)) return 'not-identifiable';
    await findOrCreate(ctx, event.id, identity);
    return 'resolved';
  }
  if (stored.email === identity.email && stored.phone === identity.phone && stored.name === identity.name) return 'unchanged';

  // Identity is the e-mail first: a new address that already belongs to another GLPI record
  // means the customer is that record (e.g. a phone-only visitor who then gave a known e-mail).
  if (identity.email !== undefined && identity.email !== stored.email) {
    const kind = kindOf(ctx);
    const owner = kind === 'user' ? await findUserByEmail(ctx.glpi, identity.email) : await findContactByEmail(ctx.glpi, identity.email);
    if (owner !== undefined && owner !== stored.id) {
      await ctx.store.setCustomer(event.id, { kind, id: owner, ...identity });
      return 'remapped';
    }
  }
  try {
    await updateRecord(ctx, stored, identity);
  } catch (err) {
    if (!isGlpiNotFound(err)) throw err;
    // Deleted in GLPI: forget it and resolve again, as for a new contact.
    await ctx.store.forgetCustomer(event.id);
    if (!isIdentifiable(identity)) return 'not-identifiable';
    await findOrCreate(ctx, event.id, identity);
    return 'resolved';
  }
  await ctx.store.setCustomer(event.id, { ...stored, ...identity });
  return 'updated';
}

async function updateRecord(ctx: SyncContext, stored: CustomerRecord, identity: Identity): Promise<void> {
  const input: GlpiInput = {};
  if (identity.name !== stored.name && identity.name !== undefined) {
    const { firstname, realname } = splitName(identity.name);
    if (stored.kind === 'user') Object.assign(input, { firstname: firstname ?? '', realname });
    else Object.assign(input, { firstname: firstname ?? '', name: realname });
  }
  if (identity.phone !== stored.phone && identity.phone !== undefined) input.mobile = identity.phone;
  if (identity.email !== stored.email && identity.email !== undefined) {
    // Users: the array form of _useremails adds an address (the object form crashes GLPI 10 on
    // update, see the observed API reference); the old address stays as a secondary one.
    if (stored.kind === 'user') input._useremails = [identity.email];
    else input.email = identity.email;
  }
  if (Object.keys(input).length === 0) return;
  throwIfAborted(ctx.signal);
  await ctx.glpi.updateItem(stored.kind === 'user' ? 'User' : 'Contact', stored.id, input);
}
