/**
 * The marks the bridge leaves in GLPI so that it knows its own writes again: a followup carries
 * its Chatwoot message id (recovery after a crash, and the GLPI -> Chatwoot direction skipping
 * the bridge's own followups), a ticket's description names its conversation (recovery of a
 * ticket creation). Both directions read them, so they live here and not with either.
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
