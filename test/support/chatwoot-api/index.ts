import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real local HTTP double of the Chatwoot application API (the part the bridge uses: profile,
 * conversations, messages, custom attributes; shared/reference/chatwoot-webhooks.md section 5),
 * with Chatwoot's quirks that matter: custom_attributes POST replaces the whole set, message
 * pagination by `after=` (100 per page, ascending), and every write produces the webhook Chatwoot
 * would send for it (`emitted`), so tests can feed the echo back to the bridge.
 */

export interface DoubleUser {
  id: number;
  name: string;
  accounts: { id: number; role: 'administrator' | 'agent' }[];
}

export interface DoubleContact {
  id: number;
  name: string | null;
  email: string | null;
  phone_number: string | null;
}

/** A file posted with a message (multipart `attachments[]`), kept with its bytes. */
export interface DoubleFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface DoubleMessage {
  id: number;
  content: string | null;
  inbox_id: number;
  conversation_id: number;
  /** 0 incoming, 1 outgoing, 2 activity, 3 template. */
  message_type: 0 | 1 | 2 | 3;
  content_type: string;
  content_attributes: Record<string, unknown>;
  /** Epoch seconds. */
  created_at: number;
  private: boolean;
  source_id: string | null;
  sender: Record<string, unknown> | null;
  /** As Chatwoot lists them (absent when none); the bytes are in `files`. */
  attachments?: Record<string, unknown>[];
}

export interface DoubleConversation {
  id: number;
  account_id: number;
  inbox_id: number;
  status: 'open' | 'resolved' | 'pending' | 'snoozed';
  custom_attributes: Record<string, unknown>;
  additional_attributes: Record<string, unknown>;
  labels: string[];
  contact: DoubleContact;
  messages: DoubleMessage[];
  created_at: number;
  last_activity_at: number;
}

export interface DoubleCall {
  method: string;
  path: string;
  /** The status answered; 0 when the connection was dropped instead (see failAfterNext). */
  status: number;
  /** The token the call carried (tests check it was sent, never print it). */
  token: string | undefined;
  body: unknown;
}

export interface ChatwootApiDouble {
  /** Chatwoot root, e.g. http://127.0.0.1:PORT (what CHATWOOT_BASE_URL holds). */
  readonly url: string;
  readonly calls: DoubleCall[];
  /** Webhook payloads Chatwoot would send because of the writes received, in order. */
  readonly emitted: Record<string, unknown>[];
  /** Files received with each message, by message id. */
  readonly files: Map<number, DoubleFile[]>;
  addConversation(input: Partial<DoubleConversation> & { id: number; account_id: number }): DoubleConversation;
  addMessage(accountId: number, conversationId: number, input: Partial<DoubleMessage> & { content: string | null }): DoubleMessage;
  conversation(accountId: number, id: number): DoubleConversation | undefined;
  /** The next `times` requests (whose path contains `pathContains`, if given) answer `status`. */
  failNext(status: number, times?: number, pathContains?: string): void;
  /**
   * The next `times` POSTs (whose path contains `pathContains`, if given) are carried out (a message
   * is stored, its webhook emitted), then answered `status`, or the connection is dropped without an
   * answer: what a worker killed right after its request sees, and a proxy timing out on Chatwoot.
   */
  failAfterNext(answer: number | 'drop', times?: number, pathContains?: string): void;
  close(): Promise<void>;
}

export interface ChatwootApiDoubleOptions {
  /** token -> user. Default: 'chatwoot-admin-token' -> user 15 "GLPI bridge", administrator of account 3. */
  tokens?: Record<string, DoubleUser>;
  /** Every answer waits this long first, as a Chatwoot across a network does (the write-back bench). Default 0. */
  latencyMs?: number;
}

const PAGE_AFTER = 100;
/** The files of a multipart body, by the body readForm made of it (no form field can collide). */
const formFiles = new WeakMap<object, DoubleFile[]>();

function isHash(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const PAGE_CONVERSATIONS = 25;

export async function startChatwootApi(options: ChatwootApiDoubleOptions = {}): Promise<ChatwootApiDouble> {
  const latencyMs = options.latencyMs ?? 0;
  const tokens = options.tokens ?? { 'chatwoot-admin-token': { id: 15, name: 'GLPI bridge', accounts: [{ id: 3, role: 'administrator' }] } };
  const conversations = new Map<string, DoubleConversation>();
  const calls: DoubleCall[] = [];
  const emitted: Record<string, unknown>[] = [];
  const files = new Map<number, DoubleFile[]>();
  let nextAttachmentId = 5_000;
  /** `before`: answered instead of the request; `after`: answered (or dropped) once a POST is done. */
  const faults: { when: 'before' | 'after'; answer: number | 'drop'; times: number; pathContains?: string }[] = [];
  function takeFault(when: 'before' | 'after', method: string, url: URL) {
    const index = faults.findIndex(
      (f) => f.when === when && (when === 'before' || method === 'POST') && (f.pathContains === undefined || url.pathname.includes(f.pathContains)),
    );
    const fault = faults[index];
    if (fault === undefined) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) faults.splice(index, 1);
    return fault.answer;
  }
  let nextMessageId = 20_000;
  let clock = 1_780_000_000;
  const key = (accountId: number, id: number) => `${accountId}:${id}`;

  function contactJson(contact: DoubleContact, withType: boolean) {
    return {
      additional_attributes: {},
      custom_attributes: {},
      email: contact.email,
      id: contact.id,
      identifier: null,
      name: contact.name,
      phone_number: contact.phone_number,
      thumbnail: '',
      blocked: false,
      ...(withType ? { type: 'contact' } : {}),
    };
  }

  /** API and webhook conversation objects share these fields (the API adds account_id, uuid...). */
  function conversationJson(c: DoubleConversation, messages: DoubleMessage[]) {
    return {
      id: c.id,
      account_id: c.account_id,
      uuid: `00000000-0000-4000-8000-${String(c.id).padStart(12, '0')}`,
      inbox_id: c.inbox_id,
      channel: 'Channel::WebWidget',
      status: c.status,
      custom_attributes: { ...c.custom_attributes },
      additional_attributes: { ...c.additional_attributes },
      labels: [...c.labels],
      meta: { sender: contactJson(c.contact, true), assignee: null, hmac_verified: false },
      contact_inbox: { contact_id: c.contact.id, inbox_id: c.inbox_id, pubsub_token: 'double-pubsub-token' },
      messages: messages.map((m) => ({ ...m, account_id: c.account_id })),
      created_at: c.created_at,
      timestamp: c.last_activity_at,
      last_activity_at: c.last_activity_at,
      updated_at: c.last_activity_at + 0.5,
      snoozed_until: null,
      priority: null,
    };
  }

  function send(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) return readForm(Buffer.concat(chunks), type);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  /**
   * A multipart message as Rails would see it: fields as strings, `private` cast like ActiveRecord
   * casts a boolean column (only that one: a `content` of "true" stays text), `content_attributes`
   * given as a JSON string parsed (Messages::MessageBuilder#content_attributes), `attachments[]`
   * parts as files.
   */
  async function readForm(raw: Buffer, type: string): Promise<Record<string, unknown>> {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const out: Record<string, unknown> = {};
    const received: DoubleFile[] = [];
    for (const [name, value] of form.entries()) {
      if (typeof value !== 'string') {
        received.push({ filename: value.name, contentType: value.type, data: Buffer.from(await value.arrayBuffer()) });
        continue;
      }
      if (name === 'content_attributes') {
        try {
          out[name] = JSON.parse(value) as unknown;
        } catch {
          out[name] = {};
        }
      } else out[name] = name === 'private' && (value === 'true' || value === 'false') ? value === 'true' : value;
    }
    if (received.length > 0) formFiles.set(out, received);
    return out;
  }

  function handle(method: string, url: URL, user: DoubleUser, body: unknown): { status: number; body: unknown } {
    const path = url.pathname;
    if (method === 'GET' && path === '/api/v1/profile') {
      return { status: 200, body: { id: user.id, name: user.name, email: 'bridge@example.org', accounts: user.accounts.map((a) => ({ id: a.id, name: `Account ${a.id}`, role: a.role })) } };
    }
    const m = /^\/api\/v1\/accounts\/(\d+)\/conversations(?:\/(\d+))?(?:\/(messages|custom_attributes|toggle_status))?$/.exec(path);
    if (!m) return { status: 404, body: { error: 'Resource could not be found' } };
    const accountId = Number(m[1]);
    if (!user.accounts.some((a) => a.id === accountId)) return { status: 401, body: { error: 'You are not authorized to do this action' } };
    if (m[2] === undefined) {
      if (method !== 'GET') return { status: 404, body: { error: 'not found' } };
      const page = Number(url.searchParams.get('page') ?? '1');
      const all = [...conversations.values()].filter((c) => c.account_id === accountId).sort((a, b) => b.last_activity_at - a.last_activity_at);
      const slice = all.slice((page - 1) * PAGE_CONVERSATIONS, page * PAGE_CONVERSATIONS);
      return { status: 200, body: { data: { meta: { all_count: all.length }, payload: slice.map((c) => conversationJson(c, c.messages.slice(-1))) } } };
    }
    const conversation = conversations.get(key(accountId, Number(m[2])));
    if (!conversation) return { status: 404, body: { error: 'Resource could not be found' } };
    if (m[3] === undefined && method === 'GET') return { status: 200, body: conversationJson(conversation, conversation.messages.slice(-1)) };
    if (m[3] === 'messages' && method === 'GET') {
      const after = url.searchParams.get('after');
      const list = conversation.messages.filter((msg) => after === null || msg.id > Number(after)).sort((a, b) => a.id - b.id);
      const page = after === null ? list.slice(-20) : list.slice(0, PAGE_AFTER);
      return { status: 200, body: { meta: { labels: conversation.labels, contact: contactJson(conversation.contact, true) }, payload: page } };
    }
    if (m[3] === 'messages' && method === 'POST') {
      const input = (body ?? {}) as Record<string, unknown>;
      const received = formFiles.get(input) ?? [];
      if ((typeof input.content !== 'string' || input.content === '') && received.length === 0) return { status: 422, body: { error: 'Content is required' } };
      const message = addMessage(accountId, conversation.id, {
        content: typeof input.content === 'string' && input.content !== '' ? input.content : null,
        message_type: input.message_type === 'incoming' ? 0 : 1,
        private: input.private === true,
        source_id: typeof input.source_id === 'string' ? input.source_id : null,
        content_attributes: isHash(input.content_attributes) ? { ...input.content_attributes } : {},
        sender: { id: user.id, name: user.name, type: 'user' },
      });
      if (received.length > 0) {
        files.set(message.id, received);
        message.attachments = received.map((f) => ({
          id: (nextAttachmentId += 1),
          message_id: message.id,
          file_type: f.contentType.startsWith('image/') ? 'image' : 'file',
          account_id: accountId,
          extension: f.filename.includes('.') ? f.filename.split('.').pop() : null,
          data_url: `http://double/rails/active_storage/blobs/redirect/${nextAttachmentId}/${encodeURIComponent(f.filename)}`,
          thumb_url: '',
          file_size: f.data.length,
          content_type: f.contentType,
        }));
      }
      emitted.push({
        event: 'message_created',
        account: { id: accountId, name: `Account ${accountId}` },
        id: message.id,
        content: message.content,
        content_type: 'text',
        content_attributes: { ...message.content_attributes },
        message_type: message.message_type === 0 ? 'incoming' : 'outgoing',
        private: message.private,
        created_at: new Date(message.created_at * 1000).toISOString(),
        source_id: message.source_id,
        ...(message.attachments ? { attachments: message.attachments } : {}),
        sender: { id: user.id, name: user.name, email: 'bridge@example.org', type: 'user' },
        inbox: { id: conversation.inbox_id, name: 'Web' },
        conversation: conversationJson(conversation, conversation.messages.filter((x) => !x.private).slice(-1)),
      });
      return { status: 200, body: { ...message, account_id: accountId } };
    }
    if (m[3] === 'toggle_status' && method === 'POST') {
      const input = (body ?? {}) as Record<string, unknown>;
      const status = input.status;
      if (status !== 'open' && status !== 'resolved' && status !== 'pending' && status !== 'snoozed') return { status: 422, body: { error: 'invalid status' } };
      // Chatwoot's toggle_status: the same status again changes nothing and sends no webhook.
      if (conversation.status !== status) {
        conversation.status = status;
        clock += 1;
        conversation.last_activity_at = clock;
        emitted.push({ ...conversationJson(conversation, conversation.messages.filter((x) => !x.private).slice(-1)), event: 'conversation_status_changed', changed_attributes: null });
      }
      return { status: 200, body: { meta: {}, payload: { success: true, conversation_id: conversation.id, current_status: conversation.status } } };
    }
    if (m[3] === 'custom_attributes' && method === 'POST') {
      const input = (body ?? {}) as Record<string, unknown>;
      const attrs = input.custom_attributes;
      if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) return { status: 422, body: { error: 'custom_attributes must be a hash' } };
      const previous = conversation.custom_attributes;
      // Chatwoot replaces the whole hash (ConversationsController#custom_attributes).
      conversation.custom_attributes = { ...(attrs as Record<string, unknown>) };
      clock += 1;
      emitted.push({
        ...conversationJson(conversation, conversation.messages.filter((x) => !x.private).slice(-1)),
        event: 'conversation_updated',
        changed_attributes: [
          { custom_attributes: { previous_value: previous, current_value: conversation.custom_attributes } },
          { updated_at: { previous_value: new Date((clock - 1) * 1000).toISOString(), current_value: new Date(clock * 1000).toISOString() } },
        ],
      });
      return { status: 200, body: { custom_attributes: conversation.custom_attributes } };
    }
    return { status: 404, body: { error: 'not found' } };
  }

  function addMessage(accountId: number, conversationId: number, input: Partial<DoubleMessage> & { content: string | null }): DoubleMessage {
    const conversation = conversations.get(key(accountId, conversationId));
    if (!conversation) throw new Error(`no conversation ${accountId}/${conversationId}`);
    clock += 1;
    const message: DoubleMessage = {
      id: input.id ?? (nextMessageId += 1),
      content: input.content,
      inbox_id: conversation.inbox_id,
      conversation_id: conversation.id,
      message_type: input.message_type ?? 0,
      content_type: 'text',
      content_attributes: input.content_attributes ?? {},
      created_at: input.created_at ?? clock,
      private: input.private ?? false,
      source_id: input.source_id ?? null,
      sender:
        input.sender !== undefined
          ? input.sender
          : (input.message_type ?? 0) === 0
            ? contactJson(conversation.contact, true)
            : { id: 12, name: 'Agent Smith', type: 'user' },
    };
    conversation.messages.push(message);
    conversation.last_activity_at = Math.max(conversation.last_activity_at, message.created_at);
    return message;
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://double');
      const body = await readBody(req);
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      const headerToken = req.headers['api-access-token'] ?? req.headers.api_access_token;
      const token = Array.isArray(headerToken) ? headerToken[0] : headerToken;
      // Recorded without the bytes (they are in `files`): the file names and sizes only.
      const sent = isHash(body) ? formFiles.get(body) : undefined;
      const recorded = sent ? { ...(body as Record<string, unknown>), attachments: sent.map((f) => ({ filename: f.filename, contentType: f.contentType, size: f.data.length })) } : body;
      const record = (status: number) => calls.push({ method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, status, token, body: recorded });
      const method = req.method ?? 'GET';
      const before = takeFault('before', method, url);
      if (typeof before === 'number') {
        record(before);
        send(res, before, { error: `injected ${before}` });
        return;
      }
      const user = token === undefined ? undefined : tokens[token];
      if (user === undefined) {
        record(401);
        send(res, 401, { errors: ['Invalid Access Token'] });
        return;
      }
      const answer = handle(method, url, user, body);
      const after = answer.status < 300 ? takeFault('after', method, url) : undefined;
      if (after === 'drop') {
        record(0);
        req.socket.destroy();
        return;
      }
      if (after !== undefined) {
        record(after);
        send(res, after, { error: `injected ${after} after the write` });
        return;
      }
      record(answer.status);
      send(res, answer.status, answer.body);
    })().catch((err: unknown) => {
      send(res, 500, { error: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    emitted,
    files,
    addConversation(input) {
      clock += 1;
      const conversation: DoubleConversation = {
        inbox_id: 7,
        status: 'open',
        custom_attributes: {},
        additional_attributes: {},
        labels: [],
        contact: { id: 1042, name: 'Marie Dupont', email: 'marie.dupont@example.org', phone_number: '+33612345678' },
        messages: [],
        created_at: clock,
        last_activity_at: clock,
        ...input,
      };
      conversations.set(key(conversation.account_id, conversation.id), conversation);
      return conversation;
    },
    addMessage,
    conversation: (accountId, id) => conversations.get(key(accountId, id)),
    failNext(status, times = 1, pathContains) {
      faults.push({ when: 'before', answer: status, times, pathContains });
    },
    failAfterNext(answer, times = 1, pathContains) {
      faults.push({ when: 'after', answer, times, pathContains });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
