import { randomInt } from 'node:crypto';
import { loadFixture } from '../support/fixtures.js';

/**
 * Chatwoot webhook bodies for one customer and one conversation, built from the recorded
 * fixtures with this run's own ids, e-mail, phone and texts. A real GLPI keeps what earlier runs
 * created, so nothing here may collide with them: ids and the e-mail are random per run, and the
 * phone too (the bridge matches an unknown e-mail's contact by phone next).
 */
export interface StoryCustomer {
  contactId: number;
  name: string;
  email: string;
  /** E.164 */
  phone: string;
}

export interface StoryMessage {
  id: number;
  kind: 'incoming' | 'outgoing' | 'private';
  text: string | null;
  /** ISO time in Chatwoot. */
  createdAt: string;
  attachments?: StoryAttachment[];
}

export interface StoryAttachment {
  id: number;
  url: string;
  contentType: string;
  fileSize: number;
}

type Json = Record<string, unknown>;

/** `emailLocal` replaces the e-mail's local part prefix (a customer may choose `o'brien&co`). */
export function storyCustomer(tag: string, name: string, emailLocal = 'cgb-e2e'): StoryCustomer {
  return {
    contactId: randomInt(100_000_000, 900_000_000),
    name,
    email: `${emailLocal}-${tag}@example.com`,
    phone: `+336${String(randomInt(10_000_000, 99_999_999))}`,
  };
}

export class ConversationStory {
  readonly conversationId = randomInt(100_000_000, 900_000_000);
  /** Chatwoot time of the conversation's start; messages are some minutes later. */
  readonly startedAtS = Math.floor(Date.now() / 1000) - 3_600;
  private nextMessageId = randomInt(100_000_000, 900_000_000);

  constructor(readonly customer: StoryCustomer) {}

  /** A message `minutesIn` minutes after the conversation started. */
  message(kind: StoryMessage['kind'], text: string | null, minutesIn: number, attachments: StoryAttachment[] = []): StoryMessage {
    this.nextMessageId += 1;
    return { id: this.nextMessageId, kind, text, createdAt: new Date((this.startedAtS + minutesIn * 60) * 1000).toISOString(), attachments };
  }

  private sender(): Json {
    const c = this.customer;
    return { additional_attributes: {}, custom_attributes: {}, email: c.email, id: c.contactId, identifier: null, name: c.name, phone_number: c.phone, thumbnail: '', blocked: false, type: 'contact' };
  }

  contactCreated(): Json {
    const body = loadFixture('contact_created');
    const c = this.customer;
    return { ...body, id: c.contactId, name: c.name, email: c.email, phone_number: c.phone };
  }

  /** A conversation event carrying no messages, with `status` as of `updatedAtS`. */
  conversation(event: 'conversation_created' | 'conversation_status_changed', status: 'open' | 'resolved', updatedAtS: number): Json {
    const body = loadFixture<Json & { meta: Json; contact_inbox: Json }>(event === 'conversation_created' ? 'conversation_created' : 'conversation_status_changed');
    return {
      ...body,
      id: this.conversationId,
      status,
      messages: [],
      created_at: this.startedAtS,
      updated_at: updatedAtS,
      meta: { ...body.meta, sender: this.sender(), assignee: null },
      contact_inbox: { ...body.contact_inbox, contact_id: this.customer.contactId },
    };
  }

  messageCreated(m: StoryMessage): Json {
    const fixture = m.kind === 'incoming' ? 'message_created.incoming' : m.kind === 'outgoing' ? 'message_created.outgoing' : 'message_created.private_note';
    const body = loadFixture<Json & { conversation: Json & { meta: Json } }>(fixture);
    const attachments = (m.attachments ?? []).map((a) => ({
      id: a.id,
      message_id: m.id,
      file_type: 'file',
      account_id: 3,
      extension: a.url.split('.').pop() ?? null,
      content_type: a.contentType,
      data_url: a.url,
      thumb_url: '',
      file_size: a.fileSize,
      width: null,
      height: null,
    }));
    return {
      ...body,
      id: m.id,
      content: m.text,
      created_at: m.createdAt,
      private: m.kind === 'private',
      attachments,
      ...(m.kind === 'incoming' ? { sender: { ...this.sender(), account: body.account } } : {}),
      conversation: {
        ...body.conversation,
        id: this.conversationId,
        messages: [],
        created_at: this.startedAtS,
        meta: { ...body.conversation.meta, sender: this.sender() },
      },
    };
  }
}
