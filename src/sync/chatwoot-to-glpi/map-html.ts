import type { ChatwootAttachment } from '../../chatwoot/events.js';
import { DEFAULTS } from '../../config/defaults.js';
import { attachmentName } from '../../chatwoot/attachments.js';
import { escapeHtml, safeHref } from '../../util/html.js';
import { conversationRef, messageMarker } from '../markers.js';

/**
 * Everything the sync writes into GLPI's rich-text fields. Customer text is data, never markup:
 * it is escaped here, once, and only this module builds HTML.
 */

/** Plain text to HTML paragraphs: blank lines split paragraphs, single newlines become <br>. */
export function textToHtml(text: string): string {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return paragraphs.map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`).join('');
}

function humanSize(bytes: number | null | undefined): string | undefined {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return undefined;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Why an attachment stays a link; `hideLink` when the link itself must not be made clickable. */
export interface AttachmentNote {
  reason: string;
  hideLink?: boolean;
}

/**
 * One list item per attachment: a link to Chatwoot's copy, and the GLPI document id when the file
 * was uploaded, or why it was not. Every attachment (up to `listMax`) gets a line, so none disappears
 * silently even when the upload
 * is impossible (no fetcher configured, Chatwoot unreachable, GLPI refusing the file type).
 */
function attachmentsHtml(
  attachments: readonly ChatwootAttachment[],
  documentIds: ReadonlyMap<number, number>,
  notes: ReadonlyMap<number, AttachmentNote> = new Map(),
  listMax: number = DEFAULTS.attachments.listMax,
): string {
  if (attachments.length === 0) return '';
  const items = attachments.slice(0, listMax).map((a) => {
    if (a.file_type === 'location') {
      const where = [a.fallback_title, a.coordinates_lat != null && a.coordinates_long != null ? `${a.coordinates_lat}, ${a.coordinates_long}` : undefined]
        .filter((s): s is string => typeof s === 'string' && s !== '')
        .join(' ');
      return `<li>Location: ${escapeHtml(where || 'shared location')}</li>`;
    }
    const name = escapeHtml(a.fallback_title ?? attachmentName(a));
    const note = notes.get(a.id);
    const href = note?.hideLink ? undefined : safeHref(a.data_url);
    const link = href === undefined ? name : `<a href="${escapeHtml(href)}">${name}</a>`;
    const doc = documentIds.get(a.id);
    const details = [a.content_type ?? a.file_type, humanSize(a.file_size), doc === undefined ? undefined : `GLPI document ${doc}`].filter(
      (s): s is string => typeof s === 'string' && s !== '',
    );
    const why = note === undefined ? '' : ` (not copied to GLPI: ${escapeHtml(note.reason)})`;
    return `<li>${link}${details.length > 0 ? ` (${escapeHtml(details.join(', '))})` : ''}${why}</li>`;
  });
  const unlisted = attachments.length - items.length;
  const more = unlisted > 0 ? `<li>and ${unlisted} more attachments, not listed</li>` : '';
  return `<p>Attachments:</p><ul>${items.join('')}${more}</ul>`;
}

export interface ContentMessage {
  id: number;
  authorName: string | undefined;
  text: string | null;
  attachments: readonly ChatwootAttachment[];
}

/** Ticket title: the first words the customer wrote, on one line; else a neutral title. */
export function ticketTitle(messages: readonly ContentMessage[], conversationId: number, maxChars = 100): string {
  const first = messages.map((m) => (m.text ?? '').replace(/\s+/g, ' ').trim()).find((t) => t !== '');
  if (first === undefined) return `Chatwoot conversation #${conversationId}`;
  if (first.length <= maxChars) return first;
  const cut = first.slice(0, maxChars - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > maxChars / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

interface TicketContentInput {
  hookId: string;
  conversationId: number;
  messages: readonly ContentMessage[];
  documentIds: ReadonlyMap<number, number>;
  /** Attachments whose link must not be clickable (see chatwoot/attachments.ts linkRefusal). */
  notes?: ReadonlyMap<number, AttachmentNote>;
  /** Link to the conversation in Chatwoot's UI, when the hook knows Chatwoot's address. */
  conversationUrl: string | undefined;
  inboxName: string | undefined;
}

export function ticketContent(input: TicketContentInput): string {
  const body = input.messages
    .map((m) => {
      const author = m.authorName ? `<p><strong>${escapeHtml(m.authorName)}</strong>:</p>` : '';
      const text = m.text && m.text.trim() !== '' ? textToHtml(m.text) : '';
      return `<div ${messageMarker(m.id)}>${author}${text}${attachmentsHtml(m.attachments, input.documentIds, input.notes)}</div>`;
    })
    .join('');
  const label = `Chatwoot conversation #${input.conversationId}`;
  const link = input.conversationUrl ? `<a href="${escapeHtml(input.conversationUrl)}">${escapeHtml(label)}</a>` : escapeHtml(label);
  const inbox = input.inboxName ? `, inbox ${escapeHtml(input.inboxName)}` : '';
  const reference = `<p>${link}${inbox} (${escapeHtml(conversationRef(input.hookId, input.conversationId))})</p>`;
  return `${body || '<p>(conversation without text yet)</p>'}${reference}`;
}

interface FollowupContentInput {
  messageId: number;
  text: string | null;
  /** Set when GLPI's author field cannot show who wrote it (contact mode, bots, unknown agents). */
  authorName: string | undefined;
  attachments: readonly ChatwootAttachment[];
  documentIds: ReadonlyMap<number, number>;
  /** Attachments that were refused or failed, with the reason printed next to them. */
  notes?: ReadonlyMap<number, AttachmentNote>;
  contentType: string | null;
}

export function followupContent(input: FollowupContentInput): string {
  const author = input.authorName ? `<p><strong>${escapeHtml(input.authorName)}</strong>:</p>` : '';
  const hasText = input.text !== null && input.text.trim() !== '';
  const text = hasText ? textToHtml(input.text ?? '') : '';
  const files = attachmentsHtml(input.attachments, input.documentIds, input.notes);
  // GLPI refuses a followup without content; a message with neither text nor files (a sticker,
  // an unsupported type) still gets a line saying what it was, rather than vanishing.
  const placeholder = !hasText && files === '' ? `<p>(${escapeHtml(input.contentType ?? 'empty')} message without text)</p>` : '';
  return `<div ${messageMarker(input.messageId)}>${author}${text}${files}${placeholder}</div>`;
}
