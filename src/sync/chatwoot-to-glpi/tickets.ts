import type { ChatwootContact, ChatwootConversation } from '../../chatwoot/events.js';
import { DEFAULTS } from '../../config/defaults.js';
import { isGlpiNotFound } from '../../errors/index.js';
import type { GlpiInput } from '../../glpi/types.js';
import { throwIfAborted } from '../context.js';
import { toGlpiDate } from '../glpi-time.js';
import { conversationRef, hasConversationRef } from '../markers.js';
import type { ConversationRecord, CustomerRecord } from '../mapping-records.js';
import { linkNotes, uploadContentAttachments } from './attachments.js';
import type { SyncContext } from './context.js';
import { resolveCustomer } from './customers.js';
import { ticketContent, ticketTitle, type ContentMessage } from './map-html.js';
import { contentMessages, type ChatMessage } from './map-message.js';

/** Search option of the ticket's description (content) in GLPI 10 and 11. */
const TICKET_CONTENT_OPTION = 21;

export interface TicketRequest {
  conversation: ChatwootConversation;
  /** The message_created that needs the ticket, when that is what arrived first. */
  trigger: ChatMessage | undefined;
  inboxName: string | undefined;
  accountId: number | undefined;
  record: ConversationRecord;
  /** The customer as the event tells it (contactOf): the ticket's requester. */
  contact: ChatwootContact | undefined;
  storedCustomer: CustomerRecord | undefined;
  /** Chatwoot verified the contact's identity (hmac_verified): may widen the binding policy. */
  verified: boolean;
}

export interface TicketResult {
  ticketId: number;
  created: boolean;
  /** Messages the ticket's description was built from (never posted again as followups). */
  contentIds: number[];
}

/**
 * The conversation's ticket: the recorded one, or a new one. Runs under the hook lock, so the
 * lookup-then-create cannot race with another job; an intent written before the creation lets
 * a rerun after a crash find the ticket instead of creating a second one.
 */
export async function ensureTicket(ctx: SyncContext, req: TicketRequest): Promise<TicketResult> {
  const conversationId = req.conversation.id;
  if (req.record.ticketId !== undefined) return { ticketId: req.record.ticketId, created: false, contentIds: [] };

  if (req.record.ticketIntent !== undefined) {
    const found = await findTicketByRef(ctx, conversationId);
    if (found !== undefined) {
      ctx.logger.warn({ conversationId, ticketId: found }, 'recovered a ticket created by an interrupted job');
      // The interrupted job may have stopped before it queued the write-back (queuing twice is harmless).
      await owedWriteBack(ctx, req, found);
      await ctx.store.setTicket(conversationId, found, req.record.ticketIntent.contentIds);
      return { ticketId: found, created: false, contentIds: req.record.ticketIntent.contentIds };
    }
  }

  const messages = contentMessages(req.conversation, req.trigger);
  const customer = await requesterFor(ctx, req);
  const tz = await ctx.timezone.offsetMin();
  const contentIds = messages.map((m) => m.id);
  const created = req.conversation.created_at ?? (req.trigger ? Date.parse(req.trigger.createdAt) / 1000 : ctx.now() / 1000);
  const content: ContentMessage[] = messages.map((m) => ({ id: m.id, authorName: m.senderName, text: m.text, attachments: m.attachments }));
  const input: GlpiInput = {
    name: ticketTitle(content, conversationId),
    content: ticketContent({
      hookId: ctx.hook.id,
      conversationId,
      messages: content,
      documentIds: new Map(),
      notes: linkNotes(ctx, messages),
      conversationUrl: conversationUrl(ctx, req.accountId, conversationId),
      inboxName: req.inboxName,
    }),
    type: ctx.hook.glpi.ticketType,
    entities_id: ctx.hook.glpi.entityId,
    ...(ctx.hook.glpi.categoryId !== undefined ? { itilcategories_id: ctx.hook.glpi.categoryId } : {}),
    date: toGlpiDate(created * 1000, tz),
    ...requesterInput(customer, req),
  };

  await ctx.store.setTicketIntent(conversationId, { at: ctx.now(), contentIds });
  throwIfAborted(ctx.signal);
  const { id: ticketId } = await ctx.glpi.addItem('Ticket', input);
  // Owed before the ticket is recorded: a job stopped in between reruns through the intent above,
  // which queues it again; once recorded, no rerun would.
  await owedWriteBack(ctx, req, ticketId);
  await ctx.store.setTicket(conversationId, ticketId, contentIds);
  ctx.logger.info({ conversationId, ticketId }, 'created GLPI ticket for Chatwoot conversation');

  await uploadContentAttachments(ctx, ticketId, messages);
  return { ticketId, created: true, contentIds };
}

/** Write-back: only what is owed is stored here, under the lock; the Chatwoot calls run after it. */
async function owedWriteBack(ctx: SyncContext, req: TicketRequest, ticketId: number): Promise<void> {
  if (!ctx.hooks.onTicketCreated) return;
  try {
    const writeBack = await ctx.hooks.onTicketCreated(ctx.hook, { ...req.conversation, accountId: req.accountId }, ticketId);
    if (writeBack !== undefined) ctx.afterLock(writeBack);
  } catch (err) {
    // The ticket exists; a write-back that could not be queued must not make the job retry.
    ctx.logger.warn({ conversationId: req.conversation.id, ticketId, err: { message: (err as Error).message } }, 'the write-back to Chatwoot could not be queued');
  }
}

function conversationUrl(ctx: SyncContext, accountId: number | undefined, conversationId: number): string | undefined {
  const api = ctx.hook.chatwoot.api;
  if (api === undefined || accountId === undefined) return undefined;
  return `${api.baseUrl.replace(/\/+$/, '')}/app/accounts/${accountId}/conversations/${conversationId}`;
}

/** A check within DEFAULTS.mappings.requesterCheckTtlMs; a time ahead of this worker's clock (skew, or a forged record) does not count. */
function recentlyChecked(ctx: SyncContext, stored: CustomerRecord): boolean {
  const age = ctx.now() - (stored.checkedAt ?? Number.NaN);
  return age >= 0 && age < DEFAULTS.mappings.requesterCheckTtlMs;
}

async function requesterFor(ctx: SyncContext, req: TicketRequest): Promise<CustomerRecord | undefined> {
  const contact = req.contact;
  if (contact === undefined) return undefined;
  let stored = req.storedCustomer;
  if (stored !== undefined && stored.kind === 'user' && !recentlyChecked(ctx, stored)) {
    // A requester id that GLPI no longer has would silently give a ticket without requester, so
    // a stored user is checked before it is used for a new ticket, once per customer per window.
    try {
      await ctx.glpi.getItem('User', stored.id);
      await ctx.store.setCustomerChecked(contact.id, ctx.now());
    } catch (err) {
      if (!isGlpiNotFound(err)) throw err;
      ctx.logger.warn({ contactId: contact.id, glpiUserId: stored.id }, 'stored GLPI user is gone; resolving the contact again');
      await ctx.store.forgetCustomer(contact.id);
      stored = undefined;
    }
  }
  return resolveCustomer(ctx, contact, stored, req.verified);
}

function requesterInput(customer: CustomerRecord | undefined, req: TicketRequest): GlpiInput {
  if (customer?.kind === 'user') return { _users_id_requester: customer.id };
  // GLPI Contacts cannot be ticket actors, and a refused binding must not name the GLPI user
  // that owns the address: the requester is then the e-mail-only requester.
  const email = customer?.email ?? req.contact?.email?.trim().toLowerCase();
  if (email !== undefined && email.includes('@')) {
    return { _users_id_requester: 0, _users_id_requester_notif: { use_notification: 1, alternative_email: email } };
  }
  return {};
}

/** The ticket a previous, interrupted job created for this conversation, if any. */
async function findTicketByRef(ctx: SyncContext, conversationId: number): Promise<number | undefined> {
  const ref = conversationRef(ctx.hook.id, conversationId);
  const result = await ctx.glpi.search('Ticket', {
    criteria: [{ field: TICKET_CONTENT_OPTION, searchtype: 'contains', value: ref }],
    forcedisplay: [TICKET_CONTENT_OPTION],
    range: [0, 49],
  });
  const ids: number[] = [];
  for (const row of result.rows) {
    const id = Number(row['2']);
    if (!Number.isSafeInteger(id) || id <= 0) continue;
    let content = row[String(TICKET_CONTENT_OPTION)];
    // The search may hand back a shortened or stripped description: read the ticket itself then.
    if (!hasConversationRef(content, ctx.hook.id, conversationId)) content = (await ctx.glpi.getItem('Ticket', id)).content;
    if (hasConversationRef(content, ctx.hook.id, conversationId)) ids.push(id);
  }
  return ids.length === 0 ? undefined : Math.min(...ids);
}

