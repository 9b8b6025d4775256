import type { ChatwootMessage } from '../../chatwoot/events.js';
import { findUserByEmail } from '../../glpi/finders.js';
import type { GlpiInput } from '../../glpi/types.js';
import { throwIfAborted } from '../context.js';
import type { SyncContext } from './context.js';
import { toGlpiDate } from '../glpi-time.js';
import { hasMessageMarker } from '../markers.js';
import { followupContent, type AttachmentNote } from './map-html.js';
import type { CustomerRecord, MessageSlot } from '../mapping-records.js';
import { uploadAttachment } from './attachments.js';

/** Who GLPI shows as a followup's author, and the name to print when GLPI cannot show it. */
interface Author {
  /** undefined: let GLPI use the token's user. */
  usersId: number | undefined;
  /** Printed at the top of the followup when `usersId` is not the real author. */
  displayName: string | undefined;
}

/**
 * Incoming: the customer's GLPI user (user mode). Agents: the GLPI user with the agent's e-mail
 * (cached in Redis, misses too), else the hook's default user, else the token's user.
 */
export async function authorFor(
  ctx: SyncContext,
  message: ChatwootMessage,
  customer: CustomerRecord | undefined,
  cachedAgentUserId: number | undefined,
): Promise<Author> {
  const name = message.sender?.name ?? undefined;
  if (message.message_type === 'incoming') {
    if (customer?.kind === 'user') return { usersId: customer.id, displayName: undefined };
    return { usersId: undefined, displayName: name ?? 'Customer' };
  }
  const fallback: Author = { usersId: ctx.hook.glpi.defaultUserId, displayName: name };
  const email = message.sender?.type === 'user' ? message.sender.email?.trim().toLowerCase() : undefined;
  if (!email) return fallback;
  let userId = cachedAgentUserId;
  if (userId === undefined) {
    userId = (await findUserByEmail(ctx.glpi, email)) ?? 0;
    await ctx.store.setAgentUser(email, userId === 0 ? undefined : userId);
  }
  return userId > 0 ? { usersId: userId, displayName: undefined } : fallback;
}

interface FollowupRequest {
  message: ChatwootMessage;
  ticketId: number;
  slot: MessageSlot;
  /** The context read wrote the first intent already (mapping-store readMessageContext). */
  intentWritten: boolean;
  author: Author;
}

export type FollowupOutcome = { action: 'posted' | 'recovered'; followupId: number } | { action: 'duplicate' | 'content' };

/**
 * Posts a message as exactly one followup. The record of a followup is written after GLPI
 * answered; a process dying in between would leave GLPI with a followup we do not know about.
 * So an intent is written first: finding one later (and only then) makes us read the ticket's
 * followups and look for the message's marker before posting. The steady state costs one GLPI
 * call (the POST) and no Redis round trip of its own: the intent came with the context read, and
 * the record is sent without waiting (the runner waits for it before the job is acknowledged).
 */
export async function postFollowup(ctx: SyncContext, req: FollowupRequest): Promise<FollowupOutcome> {
  const { message, ticketId, slot } = req;
  const conversationId = message.conversation.id;
  if (slot.state === 'followup') return { action: 'duplicate' };
  if (slot.state === 'content') return { action: 'content' };

  const documentIds: Record<string, number> = slot.state === 'intent' ? { ...slot.documentIds } : {};
  if (slot.state === 'intent') {
    const existing = await findFollowupByMarker(ctx, ticketId, message.id);
    if (existing !== undefined) {
      ctx.logger.warn({ conversationId, messageId: message.id, followupId: existing }, 'recovered a followup posted by an interrupted job');
      await ctx.store.setFollowup(conversationId, message.id, existing);
      return { action: 'recovered', followupId: existing };
    }
  }

  if (req.intentWritten && slot.state === 'none') await ctx.store.replicated();
  else await ctx.store.setFollowupIntent(conversationId, message.id, ctx.now(), documentIds);
  const notes = new Map<number, AttachmentNote>();
  if (ctx.hooks.fetchAttachment !== undefined && message.attachments.some((a) => documentIds[String(a.id)] === undefined)) {
    for (const attachment of message.attachments) {
      if (documentIds[String(attachment.id)] !== undefined) continue;
      const uploaded = await uploadAttachment(ctx, ticketId, attachment);
      if (uploaded === undefined) continue;
      if ('note' in uploaded) {
        notes.set(attachment.id, uploaded.note);
        continue;
      }
      documentIds[String(attachment.id)] = uploaded.documentId;
      // Remembered at once: a job stopped by shutdown in the middle of a message's files (the next
      // download is aborted) must not upload the ones before it again when it runs again.
      await ctx.store.setFollowupIntent(conversationId, message.id, ctx.now(), documentIds);
    }
  }

  const tz = await ctx.timezone.offsetMin();
  const input: GlpiInput = {
    itemtype: 'Ticket',
    items_id: ticketId,
    content: followupContent({
      messageId: message.id,
      text: message.content,
      authorName: req.author.displayName,
      attachments: message.attachments,
      documentIds: new Map(Object.entries(documentIds).map(([k, v]) => [Number(k), v])),
      notes,
      contentType: message.content_type,
    }),
    is_private: message.private ? 1 : 0,
    // The timeline is ordered by date: Chatwoot's time, in GLPI's local time, whatever order
    // the events arrive in.
    date: toGlpiDate(message.created_at, tz),
    ...(req.author.usersId !== undefined ? { users_id: req.author.usersId } : {}),
  };
  throwIfAborted(ctx.signal);
  const { id } = await ctx.glpi.addItem('ITILFollowup', input);
  ctx.store.recordFollowup(conversationId, message.id, id);
  return { action: 'posted', followupId: id };
}

async function findFollowupByMarker(ctx: SyncContext, ticketId: number, messageId: number): Promise<number | undefined> {
  const followups = await ctx.glpi.getSubItems('Ticket', ticketId, 'ITILFollowup');
  const matches = followups.filter((f) => hasMessageMarker(f.content, messageId)).map((f) => f.id);
  return matches.length === 0 ? undefined : Math.min(...matches);
}
