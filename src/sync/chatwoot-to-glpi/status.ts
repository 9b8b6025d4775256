import type { ChatwootConversation, ConversationStatus } from '../../chatwoot/events.js';
import { isGlpiError } from '../../errors/index.js';
import { throwIfAborted } from '../context.js';
import type { SyncContext } from './context.js';
import { escapeHtml } from '../../util/html.js';
import type { ConversationRecord, ConversationStatusClass } from '../mapping-records.js';

/** GLPI ticket statuses the sync sets (CommonITILObject). */
export const GLPI_STATUS = { assigned: 2, pending: 4, solved: 5, closed: 6 } as const;

function statusClass(status: ConversationStatus): ConversationStatusClass {
  switch (status) {
    case 'resolved':
      return 'solved';
    case 'pending':
    case 'snoozed':
      return 'pending';
    default:
      return 'open';
  }
}

type StatusOutcome = 'unchanged' | 'stale' | 'solved' | 'pending' | 'reopened';

/**
 * Brings the ticket's status in line with the conversation's. Compared with the last status
 * applied, so the pair conversation_status_changed + conversation_updated that Chatwoot sends for
 * one change reaches GLPI once; snapshots older than the last one applied (events arrive out of
 * order, and bodies are built late) are ignored by the conversation's `updated_at`.
 */
export async function syncStatus(
  ctx: SyncContext,
  conversation: ChatwootConversation,
  ticketId: number,
  record: ConversationRecord,
): Promise<StatusOutcome> {
  const at = conversation.updated_at ?? 0;
  if (record.statusAt !== undefined && at < record.statusAt) return 'stale';
  const previous = record.status ?? 'open';
  const next = statusClass(conversation.status);
  if (previous === next) {
    if (record.statusAt === undefined || at > record.statusAt) await ctx.store.setStatus(conversation.id, next, at);
    return 'unchanged';
  }
  throwIfAborted(ctx.signal);
  let outcome: StatusOutcome;
  if (next === 'solved') {
    await solve(ctx, conversation, ticketId);
    outcome = 'solved';
  } else if (next === 'pending') {
    await ctx.glpi.updateItem('Ticket', ticketId, { status: GLPI_STATUS.pending });
    outcome = 'pending';
  } else {
    // Back in progress; from Solved this also moves GLPI's proposed solution out of the way.
    await ctx.glpi.updateItem('Ticket', ticketId, { status: GLPI_STATUS.assigned });
    outcome = 'reopened';
  }
  await ctx.store.setStatus(conversation.id, next, at);
  return outcome;
}

async function solve(ctx: SyncContext, conversation: ChatwootConversation, ticketId: number): Promise<void> {
  const who = conversation.meta?.assignee?.name;
  const content = `<p>Resolved in Chatwoot (conversation #${conversation.id}${who ? `, by ${escapeHtml(who)}` : ''}).</p>`;
  try {
    await ctx.glpi.addItem('ITILSolution', { itemtype: 'Ticket', items_id: ticketId, content });
  } catch (err) {
    // GLPI refuses a second solution ("already solved"): a rerun after a crash between the
    // solution and its record lands here. Check the ticket rather than parse translated text.
    if (!isGlpiError(err, 'ERROR_GLPI_ADD')) throw err;
    const ticket = await ctx.glpi.getItem('Ticket', ticketId);
    if (Number(ticket.status) < GLPI_STATUS.solved) throw err;
  }
}

