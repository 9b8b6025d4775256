import { performance } from 'node:perf_hooks';
import { Agent, FormData, type Dispatcher } from 'undici';
import type { HookConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import { ChatwootError, networkFailure } from '../errors/index.js';
import { scrubSecrets } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { field } from '../util/json.js';

/**
 * The Chatwoot application API, as much as write-back and backfill need (reference:
 * chatwoot-webhooks.md section 5). Conversation ids in URLs are display ids, like in webhooks.
 */

interface ChatwootProfile {
  id: number;
  name: string | undefined;
  accounts: { id: number; name: string | undefined; role: string | undefined }[];
}

/** A message in the API format: integer message_type, epoch-seconds created_at. */
export interface ApiMessage extends Record<string, unknown> {
  id: number;
  message_type: number;
  created_at: number;
  private: boolean;
  content: string | null;
  source_id: string | null;
}

export interface ApiConversation extends Record<string, unknown> {
  id: number;
  status: string;
  custom_attributes: Record<string, unknown>;
  last_activity_at: number | undefined;
}

/** A file posted with a message (`attachments[]`); the name is already safe to show. */
export interface MessageFile {
  filename: string;
  contentType: string;
  data: Uint8Array;
}

interface ChatwootApiCall {
  endpoint: string;
  status: number | 'network-error';
  durationMs: number;
}

interface ChatwootApiClientDeps {
  /** Tests pass their own; by default the client owns an Agent it closes in close(). */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  observer?: (call: ChatwootApiCall) => void;
}

export interface ChatwootApiClient {
  getProfile(): Promise<ChatwootProfile>;
  getConversation(accountId: number, conversationId: number): Promise<ApiConversation>;
  /** Every message with id > afterId (default: all), oldest first. */
  listMessages(accountId: number, conversationId: number, afterId?: number): Promise<ApiMessage[]>;
  /** One page (25) of the account's conversations, most recently active first. */
  listConversations(accountId: number, page: number): Promise<ApiConversation[]>;
  /** Replaces the whole custom attribute set (Chatwoot's endpoint does): merge before calling. */
  setConversationCustomAttributes(accountId: number, conversationId: number, attributes: Record<string, unknown>): Promise<void>;
  createPrivateNote(accountId: number, conversationId: number, note: { content: string; sourceId?: string }): Promise<{ id: number }>;
  /**
   * An agent message: `private: false` is sent to the customer on the channel. `contentAttributes`
   * carries the bridge's marker (kept by Chatwoot, unlike source_id which channels overwrite).
   */
  createMessage(
    accountId: number,
    conversationId: number,
    message: { content: string; private: boolean; sourceId?: string; contentAttributes?: Record<string, unknown>; attachments?: MessageFile[] },
  ): Promise<{ id: number }>;
  /** POST toggle_status: open, resolved, pending (idempotent: setting the current status changes nothing). */
  setStatus(accountId: number, conversationId: number, status: 'open' | 'resolved' | 'pending'): Promise<void>;
  close(): Promise<void>;
}

/** Messages per `after=` page Chatwoot returns at most; fewer means the end. */
const AFTER_PAGE_SIZE = 100;

export function createChatwootApiClient(api: { baseUrl: string; apiToken: string }, deps: ChatwootApiClientDeps = {}): ChatwootApiClient {
  const base = new URL(api.baseUrl.replace(/\/+$/, '') + '/');
  const ownsDispatcher = deps.dispatcher === undefined;
  const dispatcher = deps.dispatcher ?? new Agent({ keepAliveTimeout: DEFAULTS.chatwootKeepAliveTimeoutMs });
  const timeoutMs = deps.timeoutMs ?? DEFAULTS.chatwootTimeoutMs;
  const scrub = (text: string) => scrubSecrets(text, [api.apiToken]);

  async function call(method: 'GET' | 'POST', path: string, endpoint: string, body?: unknown, form?: FormData): Promise<unknown> {
    const url = new URL(path, base);
    const started = performance.now();
    let status: number;
    let text: string;
    try {
      const response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers: {
          accept: 'application/json',
          // undici writes the multipart content type (with its boundary) for a FormData body.
          ...(form === undefined ? { 'content-type': 'application/json' } : {}),
          // Hyphenated: Rails reads it as HTTP_API_ACCESS_TOKEN, and nginx drops underscore headers by default.
          'api-access-token': api.apiToken,
          'user-agent': 'chatwoot-glpi-bridge',
        },
        body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (err) {
      observe(endpoint, 'network-error', started);
      throw networkError(err, endpoint);
    }
    observe(endpoint, status, started);
    const where = `Chatwoot ${endpoint}`;
    if (status >= 200 && status < 300) {
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ChatwootError('CHATWOOT_INVALID_RESPONSE', `${where} answered ${status} with a body that is not JSON`, { status, endpoint });
      }
    }
    const detail = errorDetail(text);
    const message = `${where} answered ${status}${detail === '' ? '' : `: ${scrub(detail)}`}`;
    if (status === 401) throw new ChatwootError('CHATWOOT_UNAUTHORIZED', message, { status, endpoint });
    if (status === 403) throw new ChatwootError('CHATWOOT_FORBIDDEN', message, { status, endpoint });
    if (status === 404) throw new ChatwootError('CHATWOOT_NOT_FOUND', message, { status, endpoint });
    if (status === 429) throw new ChatwootError('CHATWOOT_RATE_LIMITED', message, { status, endpoint });
    if (status === 408) throw new ChatwootError('CHATWOOT_TIMEOUT', message, { status, endpoint });
    if (status >= 500) throw new ChatwootError('CHATWOOT_SERVER_ERROR', message, { status, endpoint });
    if (status >= 300 && status < 400) throw new ChatwootError('CHATWOOT_INVALID_RESPONSE', `${message} (a redirect: fix CHATWOOT_BASE_URL)`, { status, endpoint });
    throw new ChatwootError('CHATWOOT_INVALID_REQUEST', message, { status, endpoint });
  }

  function observe(endpoint: string, status: number | 'network-error', started: number): void {
    try {
      deps.observer?.({ endpoint, status, durationMs: performance.now() - started });
    } catch {
      // Metrics must never break a write-back.
    }
  }

  function networkError(err: unknown, endpoint: string): ChatwootError {
    const { kind, code } = networkFailure(err);
    const reason = scrub(code ?? (err instanceof Error ? err.message : String(err)));
    if (kind === 'timeout') {
      return new ChatwootError('CHATWOOT_TIMEOUT', `Chatwoot ${endpoint} did not answer within ${timeoutMs} ms (${reason})`, { endpoint, cause: err });
    }
    if (kind === 'tls') return new ChatwootError('CHATWOOT_TLS_ERROR', `Chatwoot ${endpoint}: TLS failed (${reason})`, { endpoint, cause: err });
    return new ChatwootError('CHATWOOT_NETWORK_ERROR', `Chatwoot ${endpoint} could not be reached (${reason})`, { endpoint, cause: err });
  }

  const accountPath = (accountId: number, rest: string) => `api/v1/accounts/${checkId(accountId)}/${rest}`;

  return {
    async getProfile() {
      const endpoint = 'GET /api/v1/profile';
      const json = await call('GET', 'api/v1/profile', endpoint);
      const id = field(json, 'id');
      if (typeof id !== 'number') throw unexpected(endpoint, 'a profile without id');
      const accounts = field(json, 'accounts');
      return {
        id,
        name: str(field(json, 'name')),
        accounts: (Array.isArray(accounts) ? accounts : []).flatMap((a: unknown) => {
          const accountId = field(a, 'id');
          return typeof accountId === 'number' ? [{ id: accountId, name: str(field(a, 'name')), role: str(field(a, 'role')) }] : [];
        }),
      };
    },

    async getConversation(accountId, conversationId) {
      const endpoint = 'GET /api/v1/accounts/:account/conversations/:id';
      const json = await call('GET', accountPath(accountId, `conversations/${checkId(conversationId)}`), endpoint);
      return asConversation(json, endpoint);
    },

    async listMessages(accountId, conversationId, afterId = 0) {
      const endpoint = 'GET /api/v1/accounts/:account/conversations/:id/messages';
      const out: ApiMessage[] = [];
      let after = afterId;
      for (let page = 0; page < DEFAULTS.chatwootMaxPages; page += 1) {
        const path = accountPath(accountId, `conversations/${checkId(conversationId)}/messages?after=${after}`);
        const json = await call('GET', path, endpoint);
        const payload = field(json, 'payload');
        if (!Array.isArray(payload)) throw unexpected(endpoint, 'no payload list');
        const messages = payload.flatMap((m: unknown) => (isMessage(m) ? [m] : [])).filter((m) => m.id > after);
        messages.sort((a, b) => a.id - b.id);
        out.push(...messages);
        if (messages.length === 0 || payload.length < AFTER_PAGE_SIZE) break;
        after = messages[messages.length - 1]!.id;
      }
      return out;
    },

    async listConversations(accountId, page) {
      const endpoint = 'GET /api/v1/accounts/:account/conversations';
      const query = new URLSearchParams({ status: 'all', assignee_type: 'all', sort_by: 'last_activity_at_desc', page: String(page) });
      const json = await call('GET', accountPath(accountId, `conversations?${query.toString()}`), endpoint);
      const payload = field(field(json, 'data'), 'payload');
      if (!Array.isArray(payload)) throw unexpected(endpoint, 'no data.payload list');
      return payload.map((c: unknown) => asConversation(c, endpoint));
    },

    async setConversationCustomAttributes(accountId, conversationId, attributes) {
      const endpoint = 'POST /api/v1/accounts/:account/conversations/:id/custom_attributes';
      await call('POST', accountPath(accountId, `conversations/${checkId(conversationId)}/custom_attributes`), endpoint, {
        custom_attributes: attributes,
      });
    },

    async createPrivateNote(accountId, conversationId, note) {
      const endpoint = 'POST /api/v1/accounts/:account/conversations/:id/messages';
      const json = await call('POST', accountPath(accountId, `conversations/${checkId(conversationId)}/messages`), endpoint, {
        content: note.content,
        message_type: 'outgoing',
        private: true,
        ...(note.sourceId === undefined ? {} : { source_id: note.sourceId }),
      });
      const id = field(json, 'id');
      if (typeof id !== 'number') throw unexpected(endpoint, 'a message without id');
      return { id };
    },

    async createMessage(accountId, conversationId, message) {
      const endpoint = 'POST /api/v1/accounts/:account/conversations/:id/messages';
      const fields = {
        content: message.content,
        message_type: 'outgoing',
        private: message.private,
        ...(message.sourceId === undefined ? {} : { source_id: message.sourceId }),
        ...(message.contentAttributes === undefined ? {} : { content_attributes: message.contentAttributes }),
      };
      const files = message.attachments ?? [];
      const path = accountPath(accountId, `conversations/${checkId(conversationId)}/messages`);
      const json = files.length === 0 ? await call('POST', path, endpoint, fields) : await call('POST', path, endpoint, undefined, messageForm(fields, files));
      const id = field(json, 'id');
      if (typeof id !== 'number') throw unexpected(endpoint, 'a message without id');
      return { id };
    },

    async setStatus(accountId, conversationId, status) {
      const endpoint = 'POST /api/v1/accounts/:account/conversations/:id/toggle_status';
      await call('POST', accountPath(accountId, `conversations/${checkId(conversationId)}/toggle_status`), endpoint, { status });
    },

    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

/**
 * The account of a token whose user belongs to exactly one account: what the bridge uses when an
 * event carries no account id, and resync without --account. Throws CHATWOOT_ACCOUNT_UNKNOWN when
 * the token's user belongs to several accounts (or none); `why` says what was missing.
 */
export async function singleAccountId(client: Pick<ChatwootApiClient, 'getProfile'>, why: string): Promise<number> {
  const profile = await client.getProfile();
  const only = profile.accounts.length === 1 ? profile.accounts[0] : undefined;
  if (only === undefined) {
    const ids = profile.accounts.map((a) => a.id).join(', ');
    throw new ChatwootError(
      'CHATWOOT_ACCOUNT_UNKNOWN',
      `${why}, and the Chatwoot token belongs to ${profile.accounts.length} accounts${ids === '' ? '' : ` (${ids})`}`,
    );
  }
  return only.id;
}

/** One Chatwoot client per hook that has `chatwoot.api`; hooks without it get none. */
interface ChatwootClients {
  get(hookId: string): ChatwootApiClient | undefined;
  closeAll(): Promise<void>;
}

export function createChatwootClients(
  hooks: Iterable<Pick<HookConfig, 'id' | 'chatwoot'>>,
  deps: { dispatcher?: Dispatcher; timeoutMs?: number; metrics?: Pick<Metrics, 'chatwootCalls'> } = {},
): ChatwootClients {
  const clients = new Map<string, ChatwootApiClient>();
  for (const hook of hooks) {
    if (hook.chatwoot.api === undefined) continue;
    const metrics = deps.metrics;
    clients.set(
      hook.id,
      createChatwootApiClient(hook.chatwoot.api, {
        dispatcher: deps.dispatcher,
        timeoutMs: deps.timeoutMs,
        observer: metrics ? ({ endpoint, status }) => metrics.chatwootCalls.inc({ hook: hook.id, endpoint, status: String(status) }) : undefined,
      }),
    );
  }
  return {
    get: (hookId) => clients.get(hookId),
    async closeAll() {
      await Promise.allSettled([...clients.values()].map((c) => c.close()));
    },
  };
}

// ---- helpers ---------------------------------------------------------------------------------

/**
 * A message with files, as Chatwoot's dashboard sends it: multipart with `attachments[]` parts;
 * `content_attributes` as a JSON string, which Messages::MessageBuilder parses back into a hash.
 */
function messageForm(fields: Record<string, unknown>, files: MessageFile[]): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, typeof value === 'string' ? value : JSON.stringify(value));
  for (const file of files) form.append('attachments[]', new Blob([file.data], { type: file.contentType }), file.filename);
  return form;
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new ChatwootError('CHATWOOT_INVALID_REQUEST', `invalid Chatwoot id ${String(id)}`);
  return id;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function unexpected(endpoint: string, what: string): ChatwootError {
  return new ChatwootError('CHATWOOT_INVALID_RESPONSE', `Chatwoot ${endpoint} answered with ${what}`, { endpoint });
}

function isMessage(value: unknown): value is ApiMessage {
  return typeof field(value, 'id') === 'number';
}

function asConversation(value: unknown, endpoint: string): ApiConversation {
  if (typeof field(value, 'id') !== 'number') throw unexpected(endpoint, 'a conversation without id');
  const record = value as Record<string, unknown>;
  const attrs = record.custom_attributes;
  const last = record.last_activity_at ?? record.timestamp;
  return {
    ...record,
    id: record.id as number,
    status: typeof record.status === 'string' ? record.status : 'open',
    custom_attributes: typeof attrs === 'object' && attrs !== null && !Array.isArray(attrs) ? (attrs as Record<string, unknown>) : {},
    last_activity_at: typeof last === 'number' ? last : undefined,
  };
}

/** Chatwoot errors are `{error: "..."}`, `{message: "..."}` or `{errors: [...]}`; keep it short. */
function errorDetail(text: string): string {
  let detail = text;
  try {
    const json = JSON.parse(text) as unknown;
    const candidate = field(json, 'error') ?? field(json, 'message') ?? field(json, 'errors');
    detail = typeof candidate === 'string' ? candidate : candidate === undefined ? '' : JSON.stringify(candidate);
  } catch {
    detail = text.trim().startsWith('<') ? '(an HTML page)' : text;
  }
  const flat = detail.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}
