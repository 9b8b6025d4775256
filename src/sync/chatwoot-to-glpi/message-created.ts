import { contactOf, identityVerified, type MessageEvent } from '../../chatwoot/events.js';
import { isGlpiError, isGlpiNotFound } from '../../errors/index.js';
import { emptyConversationRecord } from '../mapping-records.js';
import type { MappingStore } from '../mapping-store.js';
import type { UseCaseOutcome } from '../use-case.js';
import type { SyncContext } from './context.js';
import { resolveCustomer } from './customers.js';
import { authorFor, postFollowup, type FollowupOutcome } from './followups.js';
import { toChatMessage } from './map-message.js';
import { GLPI_STATUS } from './status.js';
import { ensureTicket, type TicketRequest, type TicketResult } from './tickets.js';

/**
 * message_created: the message becomes exactly one followup of the conversation's ticket (or the
 * ticket's description, when it is what creates the ticket). Reads everything it needs from
 * Redis in one round trip; the steady state costs one GLPI call, the POST. A ticket deleted or
 * closed in GLPI is replaced by a new one for the conversation.
 */
export async function messageCreated(ctx: SyncContext, event: MessageEvent): Promise<UseCaseOutcome> {
  const conversationId = event.conversation.id;
  const contact = contactOf(event);
  const read = await ctx.store.readMessageContext(conversationId, event.id, contact?.id, agentEmailOf(event), ctx.now());
  if (read.slot.state === 'followup') return { action: 'skipped', reason: 'already posted', followupId: read.slot.followupId };
  if (read.slot.state === 'content') return { action: 'skipped', reason: 'used as ticket content' };

  const request: Omit<TicketRequest, 'record'> = {
    conversation: event.conversation,
    trigger: toChatMessage(event),
    inboxName: event.inbox?.name ?? undefined,
    accountId: event.account?.id,
    contact,
    storedCustomer: read.customer,
    verified: identityVerified(event),
  };
  let ticket: TicketResult = await ensureTicket(ctx, { ...request, record: read.conversation });
  if (ticket.contentIds.includes(event.id)) return { action: ticket.created ? 'ticket-created' : 'skipped', ticketId: ticket.ticketId };

  // The customer record was read with the context; only a first contact costs GLPI calls here.
  const customer =
    event.message_type === 'incoming' && contact !== undefined ? await resolveCustomer(ctx, contact, read.customer, request.verified) : read.customer;
  const author = await authorFor(ctx, event, customer, read.agentUserId);
  try {
    const outcome = await postFollowup(ctx, { message: event, ticketId: ticket.ticketId, slot: read.slot, intentWritten: read.intentWritten, author });
    return {
      action: outcome.action === 'posted' || outcome.action === 'recovered' ? `followup-${outcome.action}` : 'skipped',
      ticketId: ticket.ticketId,
      ...followupIdOf(outcome),
    };
  } catch (err) {
    // GLPI answers a followup on a deleted or a closed ticket with ERROR_GLPI_ADD ("permission"),
    // not 404: only then is the ticket looked up. A missing ticket is replaced; so is a closed one
    // (closed is final in ITIL: a new message after closure is a new ticket for the conversation).
    if (!isGlpiError(err) || err.transient) throw err;
    const state = await ticketState(ctx, ticket.ticketId);
    if (state === 'open') throw err;
    ctx.logger.warn({ ticketId: ticket.ticketId, state }, `ticket is ${state} in GLPI; creating a new one for the conversation`);
    await ctx.store.forgetTicket(conversationId);
    ticket = await ensureTicket(ctx, { ...request, record: emptyConversationRecord() });
    if (ticket.contentIds.includes(event.id)) return { action: 'ticket-created', ticketId: ticket.ticketId };
    const outcome = await postFollowup(ctx, { message: event, ticketId: ticket.ticketId, slot: { state: 'none' }, intentWritten: false, author });
    return { action: 'followup-posted', ticketId: ticket.ticketId, ...followupIdOf(outcome) };
  }
}

/** messageCreated's context read, sent while the job waits for its turn (read-ahead.ts). */
export function readMessageContextAhead(store: MappingStore, event: MessageEvent, lease: object, now: number): void {
  store.readMessageContextAhead(lease, event.conversation.id, event.id, contactOf(event)?.id, agentEmailOf(event), now);
}

/** The agent whose GLPI user authors an outgoing message's followup. */
function agentEmailOf(event: MessageEvent): string | undefined {
  return event.message_type !== 'incoming' && event.sender?.type === 'user' && event.sender.email ? event.sender.email : undefined;
}

function followupIdOf(outcome: FollowupOutcome): { followupId?: number } {
  return 'followupId' in outcome ? { followupId: outcome.followupId } : {};
}

async function ticketState(ctx: SyncContext, ticketId: number): Promise<'gone' | 'closed' | 'open'> {
  try {
    const ticket = await ctx.glpi.getItem('Ticket', ticketId);
    return Number(ticket.status) === GLPI_STATUS.closed ? 'closed' : 'open';
  } catch (err) {
    if (isGlpiNotFound(err)) return 'gone';
    throw err;
  }
}
