import { throwIfAborted } from '../context.js';
import type { ConversationStatusClass } from '../mapping-records.js';
import type { G2cContext } from './context.js';

/** GLPI ticket status (1 new, 2 assigned, 3 planned, 4 pending, 5 solved, 6 closed) as a class both sides share. */
function glpiStatusClass(status: number): ConversationStatusClass {
  if (status === 5 || status === 6) return 'solved';
  if (status === 4) return 'pending';
  return 'open';
}

const CHATWOOT_STATUS = { open: 'open', pending: 'pending', solved: 'resolved' } as const;

export type StatusApplied = 'unchanged' | 'resolved' | 'reopened' | 'pending';

/**
 * Brings the conversation's status in line with the ticket's: solved -> resolved, refused
 * solution or reopened -> open, pending -> pending; closed after solved stays resolved (same class).
 *
 * Compared with the status both sides last agreed on (the conversation record's `status`, which
 * the Chatwoot -> GLPI direction also writes): a change applied by one side and reported back by
 * the other finds them agreeing and stops after one step. Recorded after Chatwoot answered, so an
 * interrupted poll sets it again (toggle_status to the same status changes nothing).
 */
export async function applyGlpiStatus(
  ctx: G2cContext,
  change: { ticketId: number; conversationId: number; glpiStatus: number; agreed: ConversationStatusClass | undefined },
): Promise<StatusApplied> {
  const next = glpiStatusClass(change.glpiStatus);
  if ((change.agreed ?? 'open') === next) return 'unchanged';
  throwIfAborted(ctx.signal);
  await ctx.chatwoot.setStatus(ctx.accountId, change.conversationId, CHATWOOT_STATUS[next]);
  await ctx.store.setAgreedStatus(change.conversationId, next);
  return next === 'solved' ? 'resolved' : next === 'pending' ? 'pending' : 'reopened';
}
