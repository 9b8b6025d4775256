import { DEFAULTS } from '../../config/defaults.js';
import type { GlpiItem } from '../../glpi/types.js';
import { postOnce, type PostOutcome } from './chatwoot-post.js';
import type { ChangeAction, G2cContext } from './context.js';
import { glpiHtmlToText } from './glpi-text.js';
import type { ItemRecord } from './records.js';

interface SolutionChange {
  ticketId: number;
  conversationId: number;
  solution: GlpiItem;
  record: ItemRecord;
}

/**
 * A solution proposed in GLPI becomes one outgoing "Solution: ..." message. The bridge's own
 * solutions (written when an agent resolved the conversation in Chatwoot) are never sent back.
 * Resolving the conversation is the status use case's job (apply-status.ts): the ticket's status
 * says solved, whoever wrote the solution.
 */
export async function postGlpiSolution(ctx: G2cContext, change: SolutionChange): Promise<{ action: ChangeAction; reason?: string; outcome?: PostOutcome }> {
  const { solution, ticketId } = change;
  const item = `s${solution.id}` as const;
  if (change.record.state === 'posted') return { action: 'skipped', reason: 'already posted' };
  const authorId = Number(solution.users_id ?? 0);
  if (ctx.ownUserId !== undefined && authorId === ctx.ownUserId) {
    await ctx.records.markSkipped(ticketId, { [item]: 'own' });
    return { action: 'skipped', reason: 'own' };
  }
  const { text, truncated } = glpiHtmlToText(typeof solution.content === 'string' ? solution.content : '', DEFAULTS.glpiToChatwoot.maxMessageChars);
  const more = truncated ? `\n\n(cut: the full text is in GLPI ticket #${ticketId})` : '';
  const content = `Solution: ${text === '' ? `see GLPI ticket #${ticketId}` : text}${more}`;
  const outcome = await postOnce(ctx, { ticketId, conversationId: change.conversationId, item, content, private: false }, change.record);
  if (outcome.action === 'already') return { action: 'skipped', reason: 'already posted' };
  return { action: outcome.action === 'recovered' ? 'recovered' : 'posted', outcome };
}
