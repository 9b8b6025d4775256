import type { ContactEvent } from '../../chatwoot/events.js';
import { findContactByEmail, findUserByEmail } from '../../glpi/finders.js';
import { isGlpiNotFound } from '../../errors/index.js';
import type { GlpiInput } from '../../glpi/types.js';
import { throwIfAborted } from '../context.js';
import type { CustomerKind, CustomerRecord } from '../mapping-records.js';
import type { UseCaseOutcome } from '../use-case.js';
import type { SyncContext } from './context.js';
import { bindExisting, findOrCreate, fitsSyncType, identityOf, isIdentifiable, kindOf, reconsider, splitName, type Identity } from './customers.js';

/**
 * contact_created / contact_updated: a Chatwoot contact's identity (name, e-mail, phone) reaches
 * its GLPI User or Contact. contact_updated also fires on every incoming message
 * (last_activity_at) and on the bridge's own custom-attribute writes: only a change of name,
 * e-mail or phone reaches GLPI, and only a record the bridge created is ever modified.
 */
export async function contactChanged(ctx: SyncContext, event: ContactEvent): Promise<UseCaseOutcome> {
  return { action: `contact-${await syncContact(ctx, event)}` };
}

const IDENTITY_ATTRIBUTES = ['name', 'email', 'phone_number'] as const;

/** contact_updated fires on every incoming message and on attribute writes: only these changes matter. */
export function changesIdentity(event: ContactEvent): boolean {
  return event.event === 'contact_created' || IDENTITY_ATTRIBUTES.some((a) => a in event.changed_attributes);
}

type ContactOutcome =
  | 'ignored'
  | 'not-identifiable'
  | 'unchanged'
  | 'resolved'
  | 'updated'
  | 'remapped'
  /** The new identity belongs to a GLPI user the binding policy keeps from this contact. */
  | 'refused'
  /** The GLPI record was not created by the bridge: the change is remembered, GLPI is left alone. */
  | 'kept';

async function syncContact(ctx: SyncContext, event: ContactEvent): Promise<ContactOutcome> {
  if (!changesIdentity(event)) return 'ignored';
  const identity = identityOf(event, ctx);
  const kind = kindOf(ctx);
  const stored = await ctx.store.getCustomer(event.id);
  // Contact events never carry hmac_verified: nothing here is vouched for by Chatwoot.
  const verified = false;
  if (stored === undefined || !fitsSyncType(ctx, stored)) {
    if (!isIdentifiable(identity)) return 'not-identifiable';
    const record = await findOrCreate(ctx, event.id, identity, verified);
    return record.kind === 'email-only' ? 'refused' : 'resolved';
  }
  const same = stored.email === identity.email && stored.phone === identity.phone && stored.name === identity.name;
  if (same && !reconsider(ctx, stored, verified)) return 'unchanged';

  if (stored.kind === 'email-only') {
    // No GLPI record is this customer's yet: decide again with the new identity.
    if (!isIdentifiable(identity)) {
      await ctx.store.forgetCustomer(event.id);
      return 'not-identifiable';
    }
    const record = await findOrCreate(ctx, event.id, identity, verified);
    return record.kind === 'email-only' ? 'refused' : 'resolved';
  }

  // Identity is the e-mail first: a new address that already belongs to another GLPI record
  // means the customer is that record (e.g. a phone-only visitor who then gave a known e-mail),
  // if the binding policy lets this contact be bound to it.
  if (identity.email !== undefined && identity.email !== stored.email) {
    const owner = kind === 'user' ? await findUserByEmail(ctx.glpi, identity.email) : await findContactByEmail(ctx.glpi, identity.email);
    if (owner !== undefined && owner !== stored.id) {
      const record = await bindExisting(ctx, event.id, kind, owner, identity, verified);
      await ctx.store.setCustomer(event.id, record);
      return record.kind === 'email-only' ? 'refused' : 'remapped';
    }
  }
  if (!(await ctx.store.isCreated(kind, stored.id))) {
    ctx.logger.info({ contactId: event.id, glpiId: stored.id, kind }, 'GLPI record was not created by the bridge; left unchanged');
    await ctx.store.setCustomer(event.id, { ...stored, ...identity });
    return 'kept';
  }
  try {
    await updateRecord(ctx, kind, stored, identity);
  } catch (err) {
    if (!isGlpiNotFound(err)) throw err;
    // Deleted in GLPI: forget it and resolve again, as for a new contact.
    await ctx.store.forgetCustomer(event.id);
    if (!isIdentifiable(identity)) return 'not-identifiable';
    const record = await findOrCreate(ctx, event.id, identity, verified);
    return record.kind === 'email-only' ? 'refused' : 'resolved';
  }
  await ctx.store.setCustomer(event.id, { ...stored, ...identity });
  return 'updated';
}

async function updateRecord(ctx: SyncContext, kind: CustomerKind, stored: CustomerRecord, identity: Identity): Promise<void> {
  const input: GlpiInput = {};
  if (identity.name !== stored.name && identity.name !== undefined) {
    const { firstname, realname } = splitName(identity.name);
    if (kind === 'user') Object.assign(input, { firstname: firstname ?? '', realname });
    else Object.assign(input, { firstname: firstname ?? '', name: realname });
  }
  if (identity.phone !== stored.phone && identity.phone !== undefined) input.mobile = identity.phone;
  if (identity.email !== stored.email && identity.email !== undefined) {
    // Users: the array form of _useremails adds an address (the object form crashes GLPI 10 on
    // update, see the observed API reference); the old address stays as a secondary one.
    if (kind === 'user') input._useremails = [identity.email];
    else input.email = identity.email;
  }
  if (Object.keys(input).length === 0) return;
  throwIfAborted(ctx.signal);
  await ctx.glpi.updateItem(kind === 'user' ? 'User' : 'Contact', stored.id, input);
}
