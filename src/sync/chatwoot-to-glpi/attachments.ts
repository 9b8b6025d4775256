import type { ChatwootAttachment } from '../../chatwoot/events.js';
import { linkRefusal } from '../../chatwoot/attachments.js';
import { JobAbortedError } from '../../errors/index.js';
import { isGlpiError } from '../../errors/index.js';
import { throwIfAborted } from '../context.js';
import { attachmentBudget } from '../attachment-budget.js';
import type { SyncContext } from './context.js';
import type { AttachmentNote } from './map-html.js';
import type { ChatMessage } from './map-message.js';

/**
 * Chatwoot attachments copied into GLPI as Documents of the ticket, within the job's attachment
 * budget; a file that is not copied stays a link, with the reason printed next to it.
 */

/** Attachments of the description whose link points inside the network: named, not linked. */
export function linkNotes(ctx: SyncContext, messages: readonly ChatMessage[]): Map<number, AttachmentNote> {
  const notes = new Map<number, AttachmentNote>();
  for (const attachment of messages.flatMap((m) => m.attachments)) {
    const refusal = linkRefusal(attachment.data_url, ctx.hook.attachments);
    if (refusal !== undefined) notes.set(attachment.id, { reason: refusal.refused, hideLink: true });
  }
  return notes;
}

/**
 * Files of the messages in the description, uploaded as documents of the ticket when a fetcher
 * is configured. Best effort: the description already links every file.
 */
export async function uploadContentAttachments(ctx: SyncContext, ticketId: number, messages: readonly ChatMessage[]): Promise<void> {
  if (ctx.hooks.fetchAttachment === undefined) return;
  for (const m of messages) {
    for (const attachment of m.attachments) {
      try {
        await uploadAttachment(ctx, ticketId, attachment);
      } catch (err) {
        if (err instanceof JobAbortedError) throw err;
        ctx.logger.warn({ ticketId, attachmentId: attachment.id, err: { message: (err as Error).message } }, 'attachment kept as a link only');
      }
    }
  }
}

/**
 * Uploads one attachment as a Document of the ticket: its document id, or why it stays a link
 * (undefined when there is nothing to say: no fetcher, a location). Only the job's abort and
 * transient GLPI errors throw.
 */
export async function uploadAttachment(
  ctx: SyncContext,
  ticketId: number,
  attachment: ChatwootAttachment,
): Promise<{ documentId: number } | { note: AttachmentNote } | undefined> {
  if (ctx.hooks.fetchAttachment === undefined || attachment.file_type === 'location' || attachment.data_url === null) return undefined;
  const budget = attachmentBudget(ctx);
  const allowance = budget.next();
  if ('refused' in allowance) return { note: { reason: allowance.refused } };
  const download = await ctx.hooks.fetchAttachment(ctx.hook, attachment, { signal: ctx.signal, ...allowance });
  if ('refused' in download) {
    // The reason goes to GLPI; the log line is for whoever runs the bridge.
    ctx.logger.warn({ attachmentId: attachment.id, reason: download.refused, detail: download.detail }, 'attachment not downloaded; linking it');
    return { note: { reason: download.refused, ...(download.hideLink ? { hideLink: true } : {}) } };
  }
  const file = download.file;
  budget.spend(file.data.byteLength);
  throwIfAborted(ctx.signal);
  try {
    const { id } = await ctx.glpi.uploadDocument(file, { itemtype: 'Ticket', items_id: ticketId, entities_id: ctx.hook.glpi.entityId });
    return { documentId: id };
  } catch (err) {
    // GLPI refusing this file (type not allowed, too big) is permanent for the file, not for the
    // message: keep the link and go on. Anything transient is retried with the job.
    if (isGlpiError(err) && !err.transient) {
      ctx.logger.warn({ attachmentId: attachment.id, code: err.code }, 'GLPI refused the attachment; linking it');
      return { note: { reason: refusalReason(err.code) } };
    }
    throw err;
  }
}

/**
 * A GLPI refusal of an uploaded file, for the people reading the ticket. With
 * `_only_if_upload_succeed` GLPI answers every refused file with ERROR_GLPI_ADD "File ... not
 * found." and no reason; the reasons it refuses one (observed on 10.0.3 and 11.0.8) are these.
 */
function refusalReason(code: string): string {
  if (code === 'ERROR_GLPI_ADD') {
    return `GLPI refused the file: its type is not one GLPI accepts, its content does not match its name, or it is empty (${code})`;
  }
  return `GLPI refused the file (${code})`;
}
