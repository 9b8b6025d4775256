import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis/connection.js';
import type { Logger } from 'pino';
import type { HookConfig } from '../config/schema.js';
import { errorAdvice, errorCode, isTransient } from '../errors/index.js';
import type { ChatwootEvent } from './events.js';
import { hookSegment, type RedisKeyOptions } from '../redis/keys.js';
import { singleAccountId, type ChatwootApiClient } from './api-client.js';

/**
 * Write-back: once a conversation has a GLPI ticket, the conversation shows it (custom attribute
 * `glpi_ticket_id` and a private note with a link), and the webhooks those writes cause are
 * recognised so they never travel back to GLPI.
 *
 * Idempotent: each of the two writes is recorded in Redis once done, so a retry writes only the
 * missing part. Chatwoot errors are ChatwootError like GLPI's: transient ones are retried (in
 * place, then later from the pending list), permanent ones are parked with their advice, logged,
 * and shown by doctor; the GLPI sync itself never fails because of Chatwoot.
 */

export const TICKET_ATTRIBUTE = 'glpi_ticket_id';
/** Custom/additional attribute keys the bridge owns on conversations and contacts. */
const OWNED_KEY = /^glpi_/;
/** Prefix of the `source_id` of notes the bridge posts: the first echo signal. */
export const NOTE_SOURCE_PREFIX = 'cgb-glpi:';
/** How long note ids are remembered for echo recognition (the echo arrives within seconds). */
const ECHO_TTL_S = 7 * 24 * 60 * 60;
/**
 * How long a worker's claim on a parked write-back lasts: longer than any retry of it takes, short
 * enough that the claim of a worker that died with it does not hold the write-back up for long.
 */
const CLAIM_TTL_MS = 5 * 60_000;
/** Deletes a claim only if it is still ours (it may have expired and been taken by another worker). */
const RELEASE_CLAIM = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
/** Changes Chatwoot reports with every update; they never make an update "someone else's". */
const NOISE_KEYS = new Set(['updated_at', 'last_activity_at']);

export interface WriteBackConversation {
  /** Display id (the id in webhooks and API URLs). */
  id: number;
  /** Chatwoot account; when unknown it is read from the token's profile (single-account tokens). */
  accountId?: number | undefined;
}

export interface WriteBackDeps {
  redis: RedisConnection;
  /** Transient Chatwoot failures are retried this many times in place (default 3), then parked as pending. */
  attempts?: number;
  /** First retry delay; doubles each time (default 500 ms). */
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  /** Hash tags on a Redis Cluster (see redisKeys). */
  keyOptions?: RedisKeyOptions;
  /** The hook's Chatwoot client, undefined when the hook has no chatwoot.api (write-back off). */
  clientFor: (hookId: string) => ChatwootApiClient | undefined;
  logger?: Logger;
}

export type EchoKind = 'own-note' | 'own-custom-attributes' | 'own-contact-attributes';

export interface WriteBack {
  /**
   * The sync engine's seam (SyncHooks.onTicketCreated), called once after a new ticket is
   * recorded. Never throws: transient Chatwoot errors are retried in place, and a write-back that
   * still fails is parked as pending (with its code and advice) for `retryPending`.
   */
  onTicketCreated(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<WriteBackResult>;
  /** The idempotent write itself; throws ChatwootError (transient or permanent). */
  writeTicket(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<WriteBackResult>;
  /**
   * Retries the hook's parked write-backs (a timer in every worker, or an operator). Safe to run in
   * several processes at once: each parked write-back is claimed in Redis by the one retrying it.
   */
  retryPending(hook: HookConfig): Promise<{ done: number; left: number }>;
  /** Parked write-backs of a hook: conversation key -> {ticketId, code, advice}. */
  pending(hookId: string): Promise<PendingWriteBack[]>;
  /**
   * Synchronous check: recognises our notes by their source_id (and ids this process posted) and
   * attribute-only updates of glpi_* keys. The sync engine's seam uses `echoKind` instead.
   */
  isOwnEcho(event: ChatwootEvent, hook: HookConfig | string): boolean;
  /** Same plus the note ids other processes stored in Redis; says which kind of echo. */
  echoKind(event: ChatwootEvent, hookId: string): Promise<EchoKind | undefined>;
}

export type WriteBackResult =
  | { status: 'disabled' }
  | { status: 'skipped'; reason: 'account-mismatch' }
  | { status: 'pending'; code: string; advice: string | undefined }
  | { status: 'done'; attribute: 'written' | 'already'; note: 'written' | 'already'; noteId: number | undefined };

export interface PendingWriteBack {
  accountId: number | undefined;
  conversationId: number;
  ticketId: number;
  code: string;
  advice: string | undefined;
  at: string;
}

export function writeBackKeys(prefix: string, options: RedisKeyOptions = {}) {
  const h = (hookId: string) => hookSegment(hookId, options);
  return {
    /** Hash: attribute=<ticketId>, note=<ticketId>, noteId=<message id>. */
    done: (hookId: string, accountId: number, conversationId: number) => `${prefix}:writeback:${h(hookId)}:${accountId}:${conversationId}`,
    note: (hookId: string, messageId: number) => `${prefix}:echo:${h(hookId)}:note:${messageId}`,
    account: (hookId: string) => `${prefix}:writeback:${h(hookId)}:account`,
    /** Hash: "<accountId|?>:<conversationId>" -> JSON PendingWriteBack. */
    pending: (hookId: string) => `${prefix}:writeback:${h(hookId)}:pending`,
    /** String: the worker retrying that parked write-back right now (random token, CLAIM_TTL_MS). */
    claim: (hookId: string, field: string) => `${prefix}:writeback:${h(hookId)}:claim:${field}`,
  };
}

/** GLPI's web root from the API URL: https://glpi.example.com/apirest.php/ -> https://glpi.example.com/ */
export function glpiRootUrl(apiBaseUrl: string): string {
  const url = new URL(apiBaseUrl);
  url.pathname = url.pathname.replace(/\/(apirest\.php|api\.php\/v1)\/?$/, '/');
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** The marker the bridge puts in the `source_id` of a note it posts for a hook's ticket. */
export function noteSourceId(hookId: string, ticketId: number): string {
  return `${NOTE_SOURCE_PREFIX}${hookId}:ticket:${ticketId}`;
}

/**
 * The bridge's own note coming back: an outgoing private note carrying this hook's exact marker.
 * A customer controls the source_id of incoming messages on some channels (API inboxes), so a
 * prefix alone would let them have their messages dropped as echoes.
 */
function isOwnNoteMarker(event: Extract<ChatwootEvent, { event: 'message_created' }>, hookId: string): boolean {
  if (event.message_type !== 'outgoing' || !event.private || event.source_id === null) return false;
  const match = /^(.*):ticket:\d{1,18}$/.exec(event.source_id);
  return match !== null && match[1] === `${NOTE_SOURCE_PREFIX}${hookId}`;
}

export function ticketUrl(apiBaseUrl: string, ticketId: number): string {
  return new URL(`front/ticket.form.php?id=${ticketId}`, glpiRootUrl(apiBaseUrl)).toString();
}

/**
 * The Chatwoot account a hook writes to (write-back and the GLPI -> Chatwoot direction):
 * CHATWOOT_ACCOUNT_ID, else the API token's only account (cached an hour). Never a payload's
 * `account.id`: conversation ids are per account, so an event naming another account would have
 * the bridge write into an unrelated conversation of its own account.
 */
export async function hookAccountId(
  redis: RedisConnection,
  keys: ReturnType<typeof writeBackKeys>,
  hook: HookConfig,
  client: ChatwootApiClient,
): Promise<number> {
  const configured = hook.chatwoot.api?.accountId;
  if (configured !== undefined) return configured;
  const cached = await redis.get(keys.account(hook.id));
  if (cached !== null) return Number(cached);
  const accountId = await singleAccountId(client, `hook "${hook.id}" has no CHATWOOT_ACCOUNT_ID (chatwootAccountId)`);
  await redis.set(keys.account(hook.id), String(accountId), 'EX', 3_600);
  return accountId;
}

export function createWriteBack(deps: WriteBackDeps): WriteBack {
  const keys = writeBackKeys(deps.keyPrefix, deps.keyOptions);
  const accountOf = (hook: HookConfig, client: ChatwootApiClient) => hookAccountId(deps.redis, keys, hook, client);

  /** Note ids this process posted (hookId:messageId), for echoes whose source_id did not survive. */
  const recentNotes = new Set<string>();
  const remember = (hookId: string, messageId: number) => {
    recentNotes.add(`${hookId}:${messageId}`);
    if (recentNotes.size > 10_000) recentNotes.delete(recentNotes.values().next().value as string);
  };

  function echoKindSync(event: ChatwootEvent, hookId: string): EchoKind | undefined {
    switch (event.event) {
      case 'message_created':
        if (isOwnNoteMarker(event, hookId)) return 'own-note';
        return event.message_type === 'outgoing' && event.private && recentNotes.has(`${hookId}:${event.id}`) ? 'own-note' : undefined;
      case 'conversation_updated':
        return onlyOwnedAttributeChanges(event.changed_attributes, ['custom_attributes']) ? 'own-custom-attributes' : undefined;
      case 'contact_updated':
        return onlyOwnedAttributeChanges(event.changed_attributes, ['custom_attributes', 'additional_attributes']) ? 'own-contact-attributes' : undefined;
      default:
        return undefined;
    }
  }

  async function echoKind(event: ChatwootEvent, hookId: string): Promise<EchoKind | undefined> {
    const kind = echoKindSync(event, hookId);
    if (kind !== undefined) return kind;
    // A proxy or Chatwoot version that drops source_id, and a note posted by another process.
    if (event.event === 'message_created' && event.message_type === 'outgoing' && event.private && (await deps.redis.exists(keys.note(hookId, event.id))) === 1) return 'own-note';
    return undefined;
  }

  const attempts = Math.max(1, deps.attempts ?? 3);
  const retryDelayMs = deps.retryDelayMs ?? 500;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pendingField = (accountId: number | undefined, conversationId: number) => `${accountId ?? '?'}:${conversationId}`;

  async function withRetry(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<WriteBackResult> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await writeTicket(hook, conversation, ticketId);
        await deps.redis.hdel(keys.pending(hook.id), pendingField(conversation.accountId, conversation.id));
        return result;
      } catch (err) {
        if (attempt < attempts && isTransient(err)) {
          await sleep(retryDelayMs * 2 ** (attempt - 1));
          continue;
        }
        const code = errorCode(err) ?? 'UNKNOWN';
        const advice = errorAdvice(err);
        const parked: PendingWriteBack = {
          accountId: conversation.accountId,
          conversationId: conversation.id,
          ticketId,
          code,
          advice,
          at: new Date().toISOString(),
        };
        await deps.redis.hset(keys.pending(hook.id), pendingField(conversation.accountId, conversation.id), JSON.stringify(parked)).catch(() => undefined);
        deps.logger?.warn(
          { hookId: hook.id, conversationId: conversation.id, ticketId, code, advice, err: { message: (err as Error).message } },
          'could not write the GLPI ticket back to Chatwoot; parked for retry',
        );
        return { status: 'pending', code, advice };
      }
    }
  }

  async function pending(hookId: string): Promise<PendingWriteBack[]> {
    const all = await deps.redis.hgetall(keys.pending(hookId));
    return Object.values(all).map((v) => JSON.parse(v) as PendingWriteBack);
  }

  async function writeTicket(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<WriteBackResult> {
    const client = deps.clientFor(hook.id);
    if (client === undefined || hook.chatwoot.api === undefined) return { status: 'disabled' };
    const accountId = await accountOf(hook, client);
    if (conversation.accountId !== undefined && conversation.accountId !== accountId) {
      // Refused, not redirected: logged for the operator (a webhook of another account points at
      // this hook), and the GLPI sync itself is not affected.
      deps.logger?.warn(
        { hookId: hook.id, conversationId: conversation.id, ticketId, eventAccountId: conversation.accountId, hookAccountId: accountId },
        "write-back skipped: the event's Chatwoot account is not the hook's",
      );
      return { status: 'skipped', reason: 'account-mismatch' };
    }
    const doneKey = keys.done(hook.id, accountId, conversation.id);
    const done = await deps.redis.hgetall(doneKey);
    const ticket = String(ticketId);

    let attribute: 'written' | 'already' = 'already';
    if (done.attribute !== ticket) {
      const current = await client.getConversation(accountId, conversation.id);
      if (String(current.custom_attributes[TICKET_ATTRIBUTE] ?? '') !== ticket) {
        // Chatwoot replaces the whole set: write back everything that is there, plus ours.
        await client.setConversationCustomAttributes(accountId, conversation.id, { ...current.custom_attributes, [TICKET_ATTRIBUTE]: ticketId });
        attribute = 'written';
      }
      await deps.redis.hset(doneKey, 'attribute', ticket);
    }

    let note: 'written' | 'already' = 'already';
    let noteId = done.noteId === undefined ? undefined : Number(done.noteId);
    if (done.note !== ticket) {
      const link = ticketUrl(hook.glpi.baseUrl, ticketId);
      const created = await client.createPrivateNote(accountId, conversation.id, {
        content: `GLPI ticket #${ticketId} created: ${link}`,
        sourceId: noteSourceId(hook.id, ticketId),
      });
      noteId = created.id;
      remember(hook.id, created.id);
      await deps.redis
        .multi()
        .set(keys.note(hook.id, created.id), ticket, 'EX', ECHO_TTL_S)
        .hset(doneKey, 'note', ticket, 'noteId', String(created.id))
        .exec();
      note = 'written';
    }
    deps.logger?.info({ hookId: hook.id, conversationId: conversation.id, ticketId, attribute, note }, 'wrote the GLPI ticket back to Chatwoot');
    return { status: 'done', attribute, note, noteId };
  }

  return {
    onTicketCreated: withRetry,
    writeTicket,
    pending,
    async retryPending(hook) {
      // Every worker process runs this timer: each parked write-back is claimed first, so only one
      // of them retries it (writeTicket's read-then-post would otherwise post the note twice).
      let done = 0;
      for (const field of await deps.redis.hkeys(keys.pending(hook.id))) {
        const claimKey = keys.claim(hook.id, field);
        const token = randomUUID();
        if ((await deps.redis.set(claimKey, token, 'PX', CLAIM_TTL_MS, 'NX')) !== 'OK') continue;
        try {
          // Read under the claim: another worker may have completed it since the list was read.
          const current = await deps.redis.hget(keys.pending(hook.id), field);
          if (current === null) continue;
          const parked = JSON.parse(current) as PendingWriteBack;
          const result = await withRetry(hook, { id: parked.conversationId, accountId: parked.accountId }, parked.ticketId);
          if (result.status === 'done') done += 1;
        } finally {
          await deps.redis.eval(RELEASE_CLAIM, 1, claimKey, token).catch(() => undefined);
        }
      }
      return { done, left: await deps.redis.hlen(keys.pending(hook.id)) };
    },
    echoKind,
    isOwnEcho(event, hook) {
      return echoKindSync(event, typeof hook === 'string' ? hook : hook.id) !== undefined;
    },
  };
}

type Changes = Record<string, { previous: unknown; current: unknown }>;

/**
 * True when an update changed nothing but attribute hashes in `hashKeys`, and inside them only
 * keys the bridge owns (glpi_*): the echo of our own write. Anything else changed alongside
 * (status, assignee, a label, another attribute) makes it a real update.
 */
export function onlyOwnedAttributeChanges(changes: Changes, hashKeys: string[]): boolean {
  const keys = Object.keys(changes).filter((k) => !NOISE_KEYS.has(k));
  if (keys.length === 0 || !keys.every((k) => hashKeys.includes(k))) return false;
  return keys.every((k) => {
    const change = changes[k]!;
    const before = asRecord(change.previous);
    const after = asRecord(change.current);
    const touched = new Set([...Object.keys(before), ...Object.keys(after)].filter((key) => !sameValue(before[key], after[key])));
    return touched.size > 0 && [...touched].every((key) => OWNED_KEY.test(key));
  });
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The two seams in the shape the sync engine's SyncHooks takes:
 * `hooks: { ...writeBackSeams(writeBack), fetchAttachment }`.
 */
export function writeBackSeams(writeBack: WriteBack): {
  onTicketCreated: (hook: HookConfig, conversation: WriteBackConversation, ticketId: number) => Promise<void>;
  isOwnEcho: (event: ChatwootEvent, hook: HookConfig) => Promise<boolean>;
} {
  return {
    async onTicketCreated(hook, conversation, ticketId) {
      // The account the event carried; without it (conversation events) the token's profile says.
      await writeBack.onTicketCreated(hook, { id: conversation.id, accountId: conversation.accountId }, ticketId);
    },
    // echoKind, not the synchronous check: it also knows the notes other worker processes posted.
    isOwnEcho: async (event, hook) => (await writeBack.echoKind(event, hook.id)) !== undefined,
  };
}
