import type { ChatwootContact } from '../../chatwoot/events.js';
import { isGlpiError, isGlpiNotFound } from '../../errors/index.js';
import { findContactByEmail, findContactByPhone, findUserByEmail, findUserByLogin, findUserByPhone } from '../../glpi/finders.js';
import { normalizePhone } from '../../glpi/phone.js';
import type { GlpiInput } from '../../glpi/types.js';
import { bindingPolicyTag, bindingVerdict } from './binding.js';
import { throwIfAborted } from '../context.js';
import type { SyncContext } from './context.js';
import type { CustomerKind, CustomerRecord } from '../mapping-records.js';

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

/** `policy` of a record the bridge created: never subject to the binding policy. */
const CREATED = 'created';

export function kindOf(ctx: SyncContext): CustomerKind {
  return ctx.hook.glpi.syncType === 'user' ? 'user' : 'contact';
}

/** The stored record still answers for this hook's sync type (a refusal stands in for a user). */
export function fitsSyncType(ctx: SyncContext, stored: CustomerRecord): boolean {
  const kind = kindOf(ctx);
  return stored.kind === kind || (stored.kind === 'email-only' && kind === 'user');
}

/** A refusal stands until the binding settings change, or Chatwoot vouches for the contact when that is trusted. */
export function reconsider(ctx: SyncContext, stored: CustomerRecord, verified: boolean): boolean {
  return stored.kind === 'email-only' && (stored.policy !== bindingPolicyTag(ctx) || (verified && ctx.hook.customerBinding.trustVerified));
}

/**
 * The GLPI record for a contact: the stored mapping when there is one (no GLPI call), else found
 * by e-mail or phone (and bound only if the binding policy allows it), else created. Undefined
 * when the contact cannot be identified. `verified`: the event says Chatwoot verified the
 * contact's identity (hmac_verified).
 */
export async function resolveCustomer(
  ctx: SyncContext,
  contact: ChatwootContact,
  stored: CustomerRecord | undefined,
  verified: boolean,
): Promise<CustomerRecord | undefined> {
  if (stored !== undefined && fitsSyncType(ctx, stored)) {
    if (needsRecheck(ctx, stored)) {
      const rechecked = await recheckBinding(ctx, contact.id, stored, verified);
      if (rechecked !== undefined) return rechecked;
    } else if (!reconsider(ctx, stored, verified)) {
      return stored;
    }
  }
  const identity = identityOf(contact, ctx);
  if (!isIdentifiable(identity)) return undefined;
  return findOrCreate(ctx, contact.id, identity, verified);
}

/**
 * A user bound under other binding settings, or before bindings were checked at all (a mapping
 * from an older version, perhaps the result of the very impersonation this policy stops), is
 * checked once more before it is used again. Users the bridge created are not.
 */
function needsRecheck(ctx: SyncContext, stored: CustomerRecord): boolean {
  return stored.kind === 'user' && stored.policy !== CREATED && stored.policy !== bindingPolicyTag(ctx);
}

/** Undefined when the user is gone from GLPI: the caller resolves the contact again. */
async function recheckBinding(ctx: SyncContext, contactId: number, stored: CustomerRecord, verified: boolean): Promise<CustomerRecord | undefined> {
  const identity: Identity = { email: stored.email, phone: stored.phone, name: stored.name };
  let record: CustomerRecord;
  try {
    record = await bindExisting(ctx, contactId, 'user', stored.id, identity, verified);
  } catch (err) {
    if (!isGlpiNotFound(err)) throw err;
    await ctx.store.forgetCustomer(contactId);
    return undefined;
  }
  await ctx.store.setCustomer(contactId, record);
  return record;
}

export async function findOrCreate(ctx: SyncContext, contactId: number, identity: Identity, verified: boolean): Promise<CustomerRecord> {
  const kind = kindOf(ctx);
  const region = ctx.hook.phoneDefaultRegion;
  let found: number | undefined;
  if (identity.email !== undefined) {
    found = kind === 'user' ? await findUserByEmail(ctx.glpi, identity.email) : await findContactByEmail(ctx.glpi, identity.email);
  }
  if (found === undefined && identity.phone !== undefined) {
    found =
      kind === 'user'
        ? await findUserByPhone(ctx.glpi, identity.phone, region)
        : await findContactByPhone(ctx.glpi, identity.phone, region);
  }
  let record: CustomerRecord;
  if (found !== undefined) {
    record = await bindExisting(ctx, contactId, kind, found, identity, verified);
  } else {
    const created = kind === 'user' ? await createUser(ctx, contactId, identity) : { id: await createContact(ctx, contactId, identity), existing: false };
    if (created.existing) {
      record = await bindExisting(ctx, contactId, kind, created.id, identity, verified);
    } else {
      await ctx.store.markCreated(kind, created.id);
      ctx.logger.info({ contactId, glpiId: created.id, kind }, 'created GLPI requester for Chatwoot contact');
      record = { kind, id: created.id, ...identity, policy: CREATED };
    }
  }
  await ctx.store.setCustomer(contactId, record);
  return record;
}

/**
 * A GLPI record that carries the customer's e-mail, phone or login already exists: bound when the
 * binding policy allows, else the customer becomes an e-mail-only requester and the record is
 * never touched. Logged with ids only (the e-mail is the customer's claim, not a fact).
 */
export async function bindExisting(
  ctx: SyncContext,
  contactId: number,
  kind: CustomerKind,
  glpiId: number,
  identity: Identity,
  verified: boolean,
): Promise<CustomerRecord> {
  const verdict = await bindingVerdict(ctx, kind, glpiId, verified);
  ctx.hooks.onCustomerBinding?.(ctx.hook.id, verdict.bind ? 'bound' : 'refused', verdict.reason);
  if (verdict.bind) {
    ctx.logger.info({ contactId, glpiId, kind, reason: verdict.reason }, 'bound Chatwoot contact to an existing GLPI record');
    return { kind, id: glpiId, ...identity, policy: bindingPolicyTag(ctx) };
  }
  ctx.logger.warn(
    { contactId, glpiUserId: glpiId, reason: verdict.reason, policy: bindingPolicyTag(ctx) },
    'binding policy refused to bind Chatwoot contact to an existing GLPI user; the customer is an e-mail-only requester',
  );
  return { kind: 'email-only', id: 0, ...identity, policy: bindingPolicyTag(ctx) };
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

/** `existing`: the login was taken by a user the lookups did not find; that user is not ours. */
async function createUser(ctx: SyncContext, contactId: number, identity: Identity): Promise<{ id: number; existing: boolean }> {
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
    return { id: (await ctx.glpi.addItem('User', input)).id, existing: false };
  } catch (err) {
    // The login is taken by a user our lookups did not find (e.g. login = e-mail but the address
    // is not among its e-mails): that user is this customer, if the binding policy agrees.
    if (isGlpiError(err, 'ERROR_GLPI_ADD') && /exist/i.test(err.glpiMessage ?? '')) {
      const existing = await findUserByLogin(ctx.glpi, login);
      if (existing !== undefined) return { id: existing, existing: true };
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
