import { contactOf, identityVerified, type ConversationEvent } from '../../chatwoot/events.js';
import { isGlpiNotFound } from '../../errors/index.js';
import { emptyConversationRecord, type ConversationRecord } from '../mapping-records.js';
import type { UseCaseOutcome } from '../use-case.js';
import type { SyncContext } from './context.js';
import { syncStatus } from './status.js';
import { ensureTicket, type TicketRequest } from './tickets.js';

/**
 * conversation_created / conversation_updated / conversation_status_changed: the conversation has
 * its ticket (created from its first message when it has none yet), and the ticket's status
 * follows the conversation's. A ticket deleted in GLPI is replaced by a new one.
 */
export async function conversationChanged(ctx: SyncContext, event: ConversationEvent): Promise<UseCaseOutcome> {
  const contact = contactOf(event);
  const read = await ctx.store.readConversationContext(event.id, contact?.id);
  let record = read.conversation;
  const request: Omit<TicketRequest, 'record'> = {
    conversation: event,
    trigger: undefined,
    inboxName: undefined,
    accountId: undefined,
    contact,
    storedCustomer: read.customer,
    verified: identityVerified(event),
  };
  let ticket = await ensureTicket(ctx, { ...request, record });
  if (ticket.created || ticket.contentIds.length > 0) record = withTicket(record, ticket.ticketId);
  let status;
  try {
    status = await syncStatus(ctx, event, ticket.ticketId, record);
  } catch (err) {
    if (!isGlpiNotFound(err)) throw err;
    // The ticket was deleted in GLPI: forget it, give the conversation a new one, apply again.
    ctx.logger.warn({ ticketId: ticket.ticketId }, 'ticket is gone from GLPI; creating a new one');
    await ctx.store.forgetTicket(event.id);
    ticket = await ensureTicket(ctx, { ...request, record: emptyConversationRecord() });
    status = await syncStatus(ctx, event, ticket.ticketId, withTicket(emptyConversationRecord(), ticket.ticketId));
  }
  return { action: ticket.created ? 'ticket-created' : `status-${status}`, ticketId: ticket.ticketId };
}

/**
 * The record as ensureTicket left it in Redis, without reading it back: recording a ticket
 * (setTicket) sets its id and drops the intent, and touches nothing else of the record.
 */
function withTicket(record: ConversationRecord, ticketId: number): ConversationRecord {
  return { ...record, ticketId, ticketIntent: undefined };
}
