import { DEFAULTS } from '../../config/defaults.js';
import type { GlpiItem } from '../../glpi/types.js';
import { MESSAGE_MARKER_ATTR } from '../markers.js';
import { postOnce, type PostOutcome } from './chatwoot-post.js';
import type { ChangeAction, G2cContext } from './context.js';
import { downloadFollowupDocuments } from './followup-documents.js';
import { authorLabel, glpiHtmlToText } from './glpi-text.js';
import type { ItemRecord } from './records.js';

interface FollowupChange {
  ticketId: number;
  conversationId: number;
  followup: GlpiItem;
  record: ItemRecord;
  /** Followup ids the Chatwoot -> GLPI direction wrote (the customer's and agents' messages). */
  bridgeFollowupIds: ReadonlySet<number>;
  /** Whether a GLPI user is a requester of the ticket (read once per ticket, when first needed). */
  isRequester: (userId: number) => Promise<boolean>;
  /** The followup's document ids (one GLPI call per poll, shared; see followup-documents.ts). */
  documents: () => Promise<number[] | undefined>;
}

/**
 * A followup written in GLPI, once:
 * - by the bridge (its own user, a followup it recorded, or carrying its message marker): never sent back;
 * - private: not for the customer; a private note in Chatwoot when the hook says so;
 * - by the ticket's requester (GLPI portal, mail collector) or nobody (users_id 0): not shown as
 *   an agent's answer; a private note when the hook says so;
 * - anyone else (a technician): one outgoing message, sent by Chatwoot to the customer's channel.
 */
export async function postGlpiFollowup(ctx: G2cContext, change: FollowupChange): Promise<{ action: ChangeAction; reason?: string; outcome?: PostOutcome }> {
  const { followup, ticketId } = change;
  const item = `f${followup.id}` as const;
  const authorId = Number(followup.users_id ?? 0);
  const content = typeof followup.content === 'string' ? followup.content : '';
  const skip = async (reason: string) => {
    await ctx.records.markSkipped(ticketId, { [item]: reason });
    return { action: 'skipped' as const, reason };
  };

  if (change.record.state === 'posted') return { action: 'skipped', reason: 'already posted' };
  if ((ctx.ownUserId !== undefined && authorId === ctx.ownUserId) || change.bridgeFollowupIds.has(followup.id) || content.includes(`<div ${MESSAGE_MARKER_ATTR}="`)) {
    return skip('own');
  }
  const isPrivate = Number(followup.is_private ?? 0) === 1;
  const byRequester = !isPrivate && (authorId === 0 || (await change.isRequester(authorId)));
  if ((isPrivate || byRequester) && !ctx.hook.glpiToChatwoot.privateAsNotes) return skip(isPrivate ? 'private' : 'requester');

  const { text, truncated } = glpiHtmlToText(content, DEFAULTS.glpiToChatwoot.maxMessageChars);
  // A followup that is only an image or a file still has something to say.
  if (text === '' && ((await change.documents()) ?? []).length === 0) return skip('empty');
  const name = authorId > 0 ? await ctx.userName(authorId) : 'GLPI';
  const more = truncated ? `\n\n(cut: the full text is in GLPI ticket #${ticketId})` : '';
  const body = isPrivate || byRequester
    ? `GLPI ${isPrivate ? 'private followup' : "followup by the ticket's requester"} (${name}): ${text}${more}`
    : `${authorLabel(ctx.hook.glpiToChatwoot.authorFormat, name)}: ${text}${more}`;
  const outcome = await postOnce(
    ctx,
    {
      ticketId,
      conversationId: change.conversationId,
      item,
      content: body,
      private: isPrivate || byRequester,
      attachments: async () => downloadFollowupDocuments(ctx, ticketId, await change.documents()),
    },
    change.record,
  );
  if (outcome.action === 'already') return { action: 'skipped', reason: 'already posted' };
  const action: ChangeAction = outcome.action === 'recovered' ? 'recovered' : isPrivate || byRequester ? 'noted' : 'posted';
  return { action, outcome };
}
