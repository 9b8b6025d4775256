import type { ApiMessage, MessageFile } from '../../chatwoot/api-client.js';
import { throwIfAborted } from '../context.js';
import { ITEM_MARKER_ATTR, itemMarker, itemSourceId } from '../markers.js';
import type { G2cContext } from './context.js';
import type { ItemKey, ItemRecord } from './records.js';

interface PostRequest {
  ticketId: number;
  conversationId: number;
  item: ItemKey;
  content: string;
  private: boolean;
  /**
   * Files to post with the message, and lines to add to its text (documents not attached). Called
   * only when the message is about to be posted: never for one already posted or recovered.
   */
  attachments?: () => Promise<{ files: MessageFile[]; lines: string[] }>;
}

export type PostOutcome = { action: 'posted' | 'recovered'; messageId: number } | { action: 'already'; messageId: number };

/**
 * Posts one GLPI item as one Chatwoot message, exactly once. Chatwoot's API has no idempotency
 * key, so an intent is written first; finding one later means "the post may have happened": the
 * conversation's messages are read (the only time they are) and the marker looked for before
 * posting again. The marker travels twice: in `source_id` (which channels such as WhatsApp replace
 * with their own id once sent) and in `content_attributes`, which they keep.
 */
export async function postOnce(ctx: G2cContext, req: PostRequest, record: ItemRecord): Promise<PostOutcome> {
  if (record.state === 'posted') return { action: 'already', messageId: record.messageId };
  const marker = itemMarker(ctx.hook.id, req.ticketId, req.item);
  if (record.state === 'intent') {
    const found = await findByMarker(ctx, req.conversationId, marker);
    if (found !== undefined) {
      ctx.logger.warn({ ticketId: req.ticketId, item: req.item, messageId: found }, 'recovered a Chatwoot message posted by an interrupted poll');
      await ctx.records.markPosted(req.ticketId, req.item, found);
      return { action: 'recovered', messageId: found };
    }
  }
  // Downloads first, then the intent: the intent is written right before the one request that
  // carries text and files together, so recovery finds either the whole message or none of it.
  const extra = req.attachments === undefined ? { files: [], lines: [] } : await req.attachments();
  await ctx.records.markIntent(req.ticketId, req.item, ctx.now());
  throwIfAborted(ctx.signal);
  const { id } = await ctx.chatwoot.createMessage(ctx.accountId, req.conversationId, {
    content: extra.lines.length === 0 ? req.content : `${req.content}\n\n${extra.lines.join('\n')}`,
    private: req.private,
    ...(extra.files.length === 0 ? {} : { attachments: extra.files }),
    sourceId: itemSourceId(marker),
    contentAttributes: { [ITEM_MARKER_ATTR]: marker },
  });
  await ctx.records.markPosted(req.ticketId, req.item, id);
  return { action: 'posted', messageId: id };
}

async function findByMarker(ctx: G2cContext, conversationId: number, marker: string): Promise<number | undefined> {
  const messages = await ctx.chatwoot.listMessages(ctx.accountId, conversationId);
  const hit = messages.find((m) => hasMarker(m, marker));
  return hit?.id;
}

/** A message (API or webhook shape) that carries exactly this marker and is the bridge's kind (outgoing). */
function hasMarker(message: Pick<ApiMessage, 'source_id'> & Record<string, unknown>, marker: string): boolean {
  const attrs = message.content_attributes;
  const attr = typeof attrs === 'object' && attrs !== null ? (attrs as Record<string, unknown>)[ITEM_MARKER_ATTR] : undefined;
  return attr === marker || message.source_id === itemSourceId(marker);
}
