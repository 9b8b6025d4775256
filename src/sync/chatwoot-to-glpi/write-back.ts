import type { Logger } from 'pino';
import type { ChatwootApiClient } from '../../chatwoot/api-client.js';
import type { ChatwootEvent } from '../../chatwoot/events.js';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import { LockBusyError, errorAdvice, errorCode, isTransient } from '../../errors/index.js';
import type { RedisConnection } from '../../redis/connection.js';
import { redisKeys, type RedisKeyOptions } from '../../redis/keys.js';
import { hookAccountId, writeBackKeys } from '../chatwoot-account.js';
import { throwIfAborted, type AfterLockTask } from '../context.js';
import { HookLock } from '../hook-lock.js';
import { noteSourceId } from '../markers.js';
import { parsePendingWriteBack, QUEUED, readPendingWriteBacks, type PendingWriteBack } from './pending-write-backs.js';
import { isOwnNoteMarker, onlyOwnedAttributeChanges } from './write-back-echo.js';

/**
 * Write-back: once a conversation has a GLPI ticket, the conversation shows it (custom attribute
 * `glpi_ticket_id` and a private note with a link), and the webhooks those writes cause are
 * recognised so they never travel back to GLPI.
 *
 * Idempotent: each of the two writes is recorded in Redis once done, so a retry writes only the
 * missing part. Chatwoot errors are ChatwootError like GLPI's: transient ones are retried (in
 * place, then later from the pending list), permanent ones are parked with their advice, logged,
 * and shown by doctor; the GLPI sync itself never fails because of Chatwoot.
 *
 * Off the hook's lock: under it the job only stores that the write-back is owed (queued in the
 * pending list); the Chatwoot calls run after the lock has gone on to the hook's next job, claimed
 * like a retry. A worker that dies in between leaves the queued entry to the retry timer.
 */

/** Compare-and-delete of one pending entry: only if it is still the one this delivery read. */
const DELETE_IF_SAME = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";
/** Compare-and-set: a failure is parked only over the entry this delivery read (a newer ticket's entry wins). */
const SET_IF_SAME = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0";
/** Entries of one conversation delivered one after the other under one claim (a new ticket replacing the one delivered). */
const DELIVERY_ROUNDS_MAX = 3;

const TICKET_ATTRIBUTE = 'glpi_ticket_id';

interface WriteBackConversation {
  /** Display id (the id in webhooks and API URLs). */
  id: number;
  /** Chatwoot account; when unknown it is read from the token's profile (single-account tokens). */
  accountId?: number | undefined;
}

interface WriteBackDeps {
  redis: RedisConnection;
  /** Transient Chatwoot failures are retried this many times in place, then parked as pending (default DEFAULTS.writeBack.attempts). */
  attempts?: number;
  /** First retry delay; doubles each time (default DEFAULTS.writeBack.retryDelayMs). */
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


export interface WriteBack {
  /**
   * Stores that the conversation is owed its ticket's write-back (one Redis write, no Chatwoot
   * call: made under the hook's lock). False when the hook has no write-back.
   */
  queue(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<boolean>;
  /**
   * Writes back what is queued or parked for the conversation, claimed so that one process at a
   * time does (`claimed-elsewhere`: another one holds the claim and delivers it). `deferred` when
   * Chatwoot failed this hook's write-backs for a transient reason in the last minute: left queued
   * for the retry timer, so that a hung Chatwoot does not hold a worker slot per new ticket.
   */
  deliver(hook: HookConfig, conversation: WriteBackConversation): Promise<WriteBackResult>;
  /** The idempotent write itself; throws ChatwootError (transient or permanent). */
  writeTicket(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<WriteBackResult>;
  /**
   * Retries the hook's parked write-backs (a timer in every worker, or an operator). Safe to run in
   * several processes at once: each parked write-back is claimed in Redis by the one retrying it.
   */
  retryPending(hook: HookConfig): Promise<{ done: number; left: number }>;
  /** Queued and parked write-backs of a hook (an unreadable entry is left out; a delivery or the retry timer drops it). */
  pending(hookId: string): Promise<PendingWriteBack[]>;
  /**
   * Synchronous check: recognises our notes by their source_id (and ids this process posted) and
   * attribute-only updates of glpi_* keys. The runtime's echo check (glpi-to-chatwoot/echo.ts
   * createEchoCheck) asks this first, then isStoredNote.
   */
  isOwnEcho(event: ChatwootEvent, hook: HookConfig | string): boolean;
  /** The Redis part: an outgoing private note whose id a process (this one or another) stored when it posted it. */
  isStoredNote(event: ChatwootEvent, hookId: string): Promise<boolean>;
}

export type WriteBackResult =
  | { status: 'disabled' }
  | { status: 'claimed-elsewhere' }
  /** Nothing owed (any more) for the conversation: delivered by another process. */
  | { status: 'nothing-owed' }
  /** Chatwoot failed for this hook moments ago: left queued for the workers' retry timer. */
  | { status: 'deferred' }
  | { status: 'skipped'; reason: 'account-mismatch' }
  | { status: 'pending'; code: string; advice: string | undefined }
  | { status: 'done'; attribute: 'written' | 'already'; note: 'written' | 'already'; noteId: number | undefined };

/** GLPI's web root from the API URL: https://glpi.example.com/apirest.php/ -> https://glpi.example.com/ */
export function glpiRootUrl(apiBaseUrl: string): string {
  const url = new URL(apiBaseUrl);
  url.pathname = url.pathname.replace(/\/(apirest\.php|api\.php\/v1)\/?$/, '/');
  url.search = '';
  url.hash = '';
  return url.toString();
}

export function ticketUrl(apiBaseUrl: string, ticketId: number): string {
  return new URL(`front/ticket.form.php?id=${ticketId}`, glpiRootUrl(apiBaseUrl)).toString();
}

export function createWriteBack(deps: WriteBackDeps): WriteBack {
  const keys = writeBackKeys(deps.keyPrefix, deps.keyOptions);
  // The one lock mechanism, with the claim's own key and no waiting: a busy claim is skipped.
  const claims = new HookLock(deps.redis, redisKeys(deps.keyPrefix, deps.keyOptions), { acquireWaitMs: 0, resourceOf: (claimKey) => claimKey }, (err) =>
    deps.logger?.debug({ err: { message: (err as Error).message } }, 'write-back claim release failed (it expires on its own)'),
  );
  const accountOf = (hook: HookConfig, client: ChatwootApiClient) => hookAccountId(deps.redis, keys, hook, client);

  /** Note ids this process posted (hookId:messageId), for echoes whose source_id did not survive. */
  const recentNotes = new Set<string>();
  const remember = (hookId: string, messageId: number) => {
    recentNotes.add(`${hookId}:${messageId}`);
    if (recentNotes.size > DEFAULTS.writeBack.recentNotesMax) recentNotes.delete(recentNotes.values().next().value as string);
  };

  /** Our note (by its marker, or an id this process posted), or a write of glpi_* attributes only. */
  function isOwnEchoSync(event: ChatwootEvent, hookId: string): boolean {
    switch (event.event) {
      case 'message_created':
        return isOwnNoteMarker(event, hookId) || (event.message_type === 'outgoing' && event.private && recentNotes.has(`${hookId}:${event.id}`));
      case 'conversation_updated':
        return onlyOwnedAttributeChanges(event.changed_attributes, ['custom_attributes']);
      case 'contact_updated':
        return onlyOwnedAttributeChanges(event.changed_attributes, ['custom_attributes', 'additional_attributes']);
      default:
        return false;
    }
  }

  // A proxy or Chatwoot version that drops source_id, and a note posted by another process.
  async function isStoredNote(event: ChatwootEvent, hookId: string): Promise<boolean> {
    if (event.event !== 'message_created' || event.message_type !== 'outgoing' || !event.private) return false;
    return (await deps.redis.exists(keys.note(hookId, event.id))) === 1;
  }

  const attempts = Math.max(1, deps.attempts ?? DEFAULTS.writeBack.attempts);
  const retryDelayMs = deps.retryDelayMs ?? DEFAULTS.writeBack.retryDelayMs;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pendingField = (accountId: number | undefined, conversationId: number) => `${accountId ?? '?'}:${conversationId}`;

  /**
   * Hooks whose Chatwoot just failed a write-back for a transient reason, until when: a job does not
   * try again meanwhile (a hung Chatwoot would hold a worker slot for its whole timeout on every new
   * ticket); it leaves the write-back queued and the retry timer makes it.
   */
  const failingUntil = new Map<string, number>();

  /** Delivers one entry read under the claim; says what it left in Redis (the parked entry, or nothing). */
  async function withRetry(
    hook: HookConfig,
    field: string,
    entry: { raw: string; value: PendingWriteBack },
    signal: AbortSignal,
  ): Promise<{ result: WriteBackResult; left: string | undefined }> {
    const pendingKey = keys.pending(hook.id);
    const conversation = { id: entry.value.conversationId, accountId: entry.value.accountId };
    const ticketId = entry.value.ticketId;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await writeTicket(hook, conversation, ticketId, signal);
        await deps.redis.eval(DELETE_IF_SAME, 1, pendingKey, field, entry.raw);
        failingUntil.delete(hook.id);
        return { result, left: undefined };
      } catch (err) {
        // The claim's lease was lost: whoever holds it now makes the write-back.
        if (signal.aborted) return { result: { status: 'claimed-elsewhere' }, left: entry.raw };
        // A Chatwoot that did not answer in time is not waited for again inside the job (each
        // try would hold a worker slot for the whole timeout): parked, the timer retries it.
        if (attempt < attempts && isTransient(err) && errorCode(err) !== 'CHATWOOT_TIMEOUT') {
          await sleep(retryDelayMs * 2 ** (attempt - 1));
          continue;
        }
        const code = errorCode(err);
        const advice = errorAdvice(err);
        if (isTransient(err)) failingUntil.set(hook.id, Date.now() + DEFAULTS.writeBack.retryPendingEveryMs);
        const parked = JSON.stringify({ ...entry.value, code, advice, at: new Date().toISOString() } satisfies PendingWriteBack);
        await deps.redis.eval(SET_IF_SAME, 1, pendingKey, field, entry.raw, parked).catch(() => undefined);
        deps.logger?.warn(
          { hookId: hook.id, conversationId: conversation.id, ticketId, code, advice, err: { message: (err as Error).message } },
          'could not write the GLPI ticket back to Chatwoot; parked for retry',
        );
        return { result: { status: 'pending', code, advice }, left: parked };
      }
    }
  }

  const writeBackOn = (hook: HookConfig) => hook.chatwoot.api !== undefined && deps.clientFor(hook.id) !== undefined;

  async function queue(hook: HookConfig, conversation: WriteBackConversation, ticketId: number): Promise<boolean> {
    if (!writeBackOn(hook)) return false;
    const queued: PendingWriteBack = { accountId: conversation.accountId, conversationId: conversation.id, ticketId, ...QUEUED, at: new Date().toISOString() };
    await deps.redis.hset(keys.pending(hook.id), pendingField(conversation.accountId, conversation.id), JSON.stringify(queued));
    return true;
  }

  /** The stored entry of a pending field; an unreadable one is dropped (nothing could deliver it). */
  async function readEntry(hook: HookConfig, field: string): Promise<{ raw: string; value: PendingWriteBack } | undefined> {
    const raw = await deps.redis.hget(keys.pending(hook.id), field);
    if (raw === null) return undefined;
    const value = parsePendingWriteBack(raw);
    if (value !== undefined) return { raw, value };
    // The field is ours ("<accountId|?>:<conversationId>"); the value is not logged (it may be anything).
    deps.logger?.warn({ hookId: hook.id, field, bytes: raw.length }, 'dropped an unreadable pending write-back (not JSON, or not an entry this bridge writes)');
    await deps.redis.eval(DELETE_IF_SAME, 1, keys.pending(hook.id), field, raw);
    return undefined;
  }

  /**
   * The queued or parked write-back of one pending field, under its claim; undefined when nothing
   * is owed. An entry replaced while it was delivered (the conversation got a new ticket: a closed
   * or deleted one replaced) is delivered in turn under the same claim.
   */
  async function deliverField(hook: HookConfig, field: string): Promise<WriteBackResult | undefined> {
    try {
      return await claims.run(keys.claim(hook.id, field), async (run) => {
        let outcome: { result: WriteBackResult; left: string | undefined } | undefined;
        for (let round = 0; round < DELIVERY_ROUNDS_MAX && !run.signal.aborted; round += 1) {
          // Read under the claim: another worker may have completed it since it was queued or listed.
          const entry = await readEntry(hook, field);
          if (entry === undefined || entry.raw === outcome?.left) break;
          outcome = await withRetry(hook, field, entry, run.signal);
        }
        return outcome?.result;
      });
    } catch (err) {
      if (err instanceof LockBusyError) return { status: 'claimed-elsewhere' };
      throw err;
    }
  }

  async function deliver(hook: HookConfig, conversation: WriteBackConversation): Promise<WriteBackResult> {
    if (!writeBackOn(hook)) return { status: 'disabled' };
    if ((failingUntil.get(hook.id) ?? 0) > Date.now()) return { status: 'deferred' };
    return (await deliverField(hook, pendingField(conversation.accountId, conversation.id))) ?? { status: 'nothing-owed' };
  }

  async function pending(hookId: string): Promise<PendingWriteBack[]> {
    return readPendingWriteBacks(await deps.redis.hgetall(keys.pending(hookId))).entries;
  }

  async function writeTicket(hook: HookConfig, conversation: WriteBackConversation, ticketId: number, signal?: AbortSignal): Promise<WriteBackResult> {
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
      if (signal) throwIfAborted(signal);
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
      // A claim whose lease was lost: another process may be posting this very note now.
      if (signal) throwIfAborted(signal);
      const created = await client.createPrivateNote(accountId, conversation.id, {
        content: `GLPI ticket #${ticketId} created: ${link}`,
        sourceId: noteSourceId(hook.id, ticketId),
      });
      noteId = created.id;
      remember(hook.id, created.id);
      await deps.redis
        .multi()
        .set(keys.note(hook.id, created.id), ticket, 'EX', DEFAULTS.writeBack.echoTtlS)
        .hset(doneKey, 'note', ticket, 'noteId', String(created.id))
        .exec();
      note = 'written';
    }
    deps.logger?.info({ hookId: hook.id, conversationId: conversation.id, ticketId, attribute, note }, 'wrote the GLPI ticket back to Chatwoot');
    return { status: 'done', attribute, note, noteId };
  }

  return {
    queue,
    deliver,
    writeTicket,
    pending,
    async retryPending(hook) {
      // Every worker process runs this timer: each parked write-back is claimed first, so only one
      // of them retries it (writeTicket's read-then-post would otherwise post the note twice). A
      // claim someone else holds is left to them, a queued one too while its job delivers it.
      let done = 0;
      for (const field of await deps.redis.hkeys(keys.pending(hook.id))) {
        try {
          if ((await deliverField(hook, field))?.status === 'done') done += 1;
        } catch (err) {
          // One entry Redis could not serve does not keep the others waiting.
          deps.logger?.warn({ hookId: hook.id, field, err: { message: (err as Error).message } }, 'retrying a parked write-back failed');
        }
      }
      return { done, left: await deps.redis.hlen(keys.pending(hook.id)) };
    },
    isStoredNote,
    isOwnEcho(event, hook) {
      return isOwnEchoSync(event, typeof hook === 'string' ? hook : hook.id);
    },
  };
}

/**
 * The write-back in the shape the sync engine's SyncHooks takes:
 * `{ ...writeBackSeams(writeBack), isOwnEcho: createEchoCheck(writeBack, redis, keys), fetchAttachment }`.
 */
export function writeBackSeams(writeBack: WriteBack): {
  onTicketCreated: (hook: HookConfig, conversation: WriteBackConversation, ticketId: number) => Promise<AfterLockTask | undefined>;
} {
  return {
    async onTicketCreated(hook, conversation, ticketId) {
      // The account the event carried; without it (conversation events) the token's profile says.
      const target = { id: conversation.id, accountId: conversation.accountId };
      // Under the hook's lock: only the queued entry. The Chatwoot calls run once the lock has gone on.
      if (!(await writeBack.queue(hook, target, ticketId))) return undefined;
      return async () => {
        await writeBack.deliver(hook, target);
      };
    },
  };
}
