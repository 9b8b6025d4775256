import type { ItemKey } from './glpi-to-chatwoot/records.js';

/**
 * The marks the bridge leaves so that it knows its own writes again. In GLPI: a followup carries
 * its Chatwoot message id (recovery after a crash, and the GLPI -> Chatwoot direction skipping
 * the bridge's own followups), a ticket's description names its conversation (recovery of a
 * ticket creation). In Chatwoot: the `source_id` (and content_attributes) of the messages it
 * posts. Both directions read them, so they live here and not with either.
 */

/** Attribute that ties a followup to its Chatwoot message. */
export const MESSAGE_MARKER_ATTR = 'data-chatwoot-message-id';

export function messageMarker(messageId: number): string {
  return `${MESSAGE_MARKER_ATTR}="${messageId}"`;
}

/**
 * Looks for the marker in a followup's HTML as GLPI gives it back (the client reads it unencoded on
 * every version). Never entity-decoded first: the customer's own `data-chatwoot-message-id="7"`
 * is escaped to `&quot;7&quot;` in that HTML and must not pass for message 7's followup.
 */
export function hasMessageMarker(content: unknown, messageId: number): boolean {
  if (typeof content !== 'string') return false;
  return content.includes(messageMarker(messageId));
}

/**
 * Token that names the Chatwoot conversation inside the ticket's content. Plain text (letters,
 * digits, colons) so GLPI stores it unchanged and its search can find it when a ticket creation
 * must be recovered.
 */
export function conversationRef(hookId: string, conversationId: number): string {
  return `chatwoot:${hookId}:conversation:${conversationId}`;
}

export function hasConversationRef(content: unknown, hookId: string, conversationId: number): boolean {
  if (typeof content !== 'string') return false;
  const ref = conversationRef(hookId, conversationId);
  let at = content.indexOf(ref);
  while (at !== -1) {
    // `...:58` must not match `...:580`.
    if (!/\d/.test(content.charAt(at + ref.length))) return true;
    at = content.indexOf(ref, at + 1);
  }
  return false;
}

/**
 * Prefix of the `source_id` of every Chatwoot message the bridge posts. Two shapes follow it:
 *   write-back note         cgb-glpi:<hookId>:ticket:<ticketId>
 *   a GLPI item's message   cgb-glpi:<hookId>:ticket:<ticketId>:<f|s><itemId>
 * A customer writes the source_id of their messages on some channels (API inboxes) and the
 * content on all of them, so only the exact shape with the hook's own id counts (hook ids have no
 * colon), and only on outgoing messages (the callers check that).
 */
export const SOURCE_ID_PREFIX = 'cgb-glpi:';
/** content_attributes key holding a GLPI item's marker; channels that replace source_id keep it. */
export const ITEM_MARKER_ATTR = 'glpi_bridge';

const NOTE_TAIL = /^([^:]+):ticket:\d{1,18}$/;
const ITEM_TAIL = /^([^:]+):ticket:\d{1,18}:[fs]\d{1,18}$/;

/** The `source_id` of the write-back's note about a hook's ticket. */
export function noteSourceId(hookId: string, ticketId: number): string {
  return `${SOURCE_ID_PREFIX}${hookId}:ticket:${ticketId}`;
}

export function isNoteSourceIdOf(sourceId: string | null | undefined, hookId: string): boolean {
  return sourceId?.startsWith(SOURCE_ID_PREFIX) === true && NOTE_TAIL.exec(sourceId.slice(SOURCE_ID_PREFIX.length))?.[1] === hookId;
}

/** The marker of one GLPI item's message (content_attributes; behind SOURCE_ID_PREFIX in source_id). */
export function itemMarker(hookId: string, ticketId: number, item: ItemKey): string {
  return `${hookId}:ticket:${ticketId}:${item}`;
}

export function itemSourceId(marker: string): string {
  return `${SOURCE_ID_PREFIX}${marker}`;
}

export function isItemMarkerOf(marker: unknown, hookId: string): boolean {
  return typeof marker === 'string' && ITEM_TAIL.exec(marker)?.[1] === hookId;
}

export function isItemSourceIdOf(sourceId: string | null | undefined, hookId: string): boolean {
  return sourceId?.startsWith(SOURCE_ID_PREFIX) === true && isItemMarkerOf(sourceId.slice(SOURCE_ID_PREFIX.length), hookId);
}
