import type { ChatwootAttachment, ChatwootConversation, ChatwootMessage, ChatwootPushMessage } from '../../chatwoot/events.js';

/**
 * How many of the earliest known chat messages make up the ticket's description. One: a
 * conversation payload carries only its latest message, so a later message that happens to
 * arrive first would otherwise jump ahead of the ones before it in the description.
 */
const MAX_CONTENT_MESSAGES = 1;

/** A chat message as the sync sees it, whichever of Chatwoot's two encodings it came in. */
export interface ChatMessage {
  id: number;
  messageType: 'incoming' | 'outgoing' | 'activity' | 'template';
  private: boolean;
  createdAt: string;
  text: string | null;
  contentType: string | null;
  senderName: string | undefined;
  attachments: readonly ChatwootAttachment[];
}

/** The same view of a message from a webhook's top level or from `conversation.messages[]` (the schemas already unify their encodings). */
export function toChatMessage(m: ChatwootPushMessage | ChatwootMessage): ChatMessage {
  return {
    id: m.id,
    messageType: m.message_type,
    private: m.private,
    createdAt: m.created_at,
    text: m.content,
    contentType: m.content_type,
    senderName: m.sender?.name ?? undefined,
    attachments: m.attachments,
  };
}

/** Messages the customer and agents see (not activity, not private notes). */
function isChatMessage(m: ChatMessage): boolean {
  return !m.private && (m.messageType === 'incoming' || m.messageType === 'outgoing' || m.messageType === 'template');
}

/** First chat messages known for the conversation, oldest first. */
export function contentMessages(conversation: ChatwootConversation, trigger: ChatMessage | undefined): ChatMessage[] {
  const byId = new Map<number, ChatMessage>();
  for (const m of conversation.messages.map(toChatMessage)) byId.set(m.id, m);
  if (trigger !== undefined) byId.set(trigger.id, trigger);
  return [...byId.values()]
    .filter(isChatMessage)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id)
    .slice(0, MAX_CONTENT_MESSAGES);
}

