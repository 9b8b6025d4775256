import { randomUUID } from 'node:crypto';
import { DEFAULTS } from '../config/defaults.js';
import { ReplicationLagError } from '../errors/index.js';
import type { RedisConnection } from '../redis/connection.js';
import type { RedisKeys } from '../redis/keys.js';
import {
  intentValue,
  num,
  parseConversation,
  parseCustomer,
  parseSlot,
  type ConversationRecord,
  type ConversationStatusClass,
  type CustomerKind,
  type CustomerRecord,
  type MessageSlot,
  type TicketIntent,
} from './mapping-records.js';
import type { KeyRef, ReadAheadBoard, Watch } from './read-ahead.js';

/**
 * The sync engine's memory, in Redis, per hook (all under `redisKeys(prefix).mapping(hookId)`):
 *
 *   <root>:contact:<contactId>     hash  kind, id, email, phone, name[, policy, checkedAt]  (Chatwoot contact -> GLPI User/Contact)
 *   <root>:created:<user|contact>  set   GLPI ids the bridge created (the only ones it ever modifies; no expiry)
 *   <root>:conv:<conversationId>   hash  ticketId | ticketIntent, status, statusAt
 *   <root>:msgs:<conversationId>   hash  <messageId> -> followup id | "c" (used as ticket content) | "?<json>" (intent)
 *   <root>:tickets                 hash  <ticketId> -> conversationId (reverse map: which tickets the bridge created)
 *   <root>:agent:<email>           string GLPI user id of an agent, "0" = none (expires)
 *   <root>:tz                      string GLPI's UTC offset in minutes (expires)
 *
 * Every job runs under the hook's mutex, so these reads and writes never race with another job
 * of the same hook (a context read sent before the job's turn is used only while nothing could
 * have written what it read: read-ahead.ts); what they must survive is a process dying between a
 * GLPI write and the record of it. That is what the intents are for: written before the GLPI write, replaced by
 * the id after it. An intent found later means "the write may or may not have happened":
 * the caller then looks in GLPI (only then, so the steady state costs no GLPI read).
 */

/** Replicas a write must reach (Redis WAIT) and how long to wait for them; 0 replicas: no wait. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/** Everything a message_created job needs, read in one round trip. */
interface MessageContext {
  conversation: ConversationRecord;
  slot: MessageSlot;
  customer: CustomerRecord | undefined;
  /** undefined = not cached; 0 = cached "no GLPI user for this agent". */
  agentUserId: number | undefined;
  /** The read also wrote the message's first followup intent (see readMessageContext's `intentAt`). */
  intentWritten: boolean;
}

/** Takes GLPI's UTC offset as cached in Redis, read along with a job's records (see timezone.ts). */
export interface TimezoneCache {
  remember(offsetMin: number | undefined): void;
}

interface MappingStoreOptions {
  /** REDIS_WAIT_REPLICAS: intents must reach this many replicas before the GLPI write they guard. */
  replicaWait?: ReplicaWait;
  timezone?: TimezoneCache;
  /**
   * The process's board of reads sent before a job's turn (read-ahead.ts): every write is reported
   * to it. Without one, nothing is read ahead.
   */
  readAheads?: ReadAheadBoard;
}

/** What one context read returned, before the job uses it. */
interface RawContext {
  conversation: ConversationRecord;
  slotRaw: string | null;
  customer: CustomerRecord | undefined;
  agentUserId: number | undefined;
  tzOffsetMin: number | undefined;
  intentWritten: boolean;
}

/** A message's context read before the job's turn (readMessageContextAhead). */
interface EarlyRead {
  args: readonly unknown[];
  /** The acquisition of the hook's lock it was sent under (HookLock.holding). */
  lease: object;
  watch: Watch;
  /** The intent it wrote where the slot was empty: a read at the turn that finds it knows it is this job's. */
  intent: string;
  /** undefined: the read failed (its intent may or may not be written). */
  result: Promise<RawContext | undefined>;
}

export class MappingStore {
  private readonly root: string;
  private readonly replicaWait: ReplicaWait;
  private readonly timezone: TimezoneCache | undefined;
  /** Record writes sent without waiting (recordFollowup); settle() waits for them. */
  private readonly unsettled: Promise<unknown>[] = [];
  private readonly board: ReadAheadBoard | undefined;
  private early: EarlyRead | undefined;
  /** The acquisition of the hook's lock the job's turn came under (ownTurn). */
  private lease: object | undefined;

  constructor(
    private readonly redis: RedisConnection,
    keys: RedisKeys,
    readonly hookId: string,
    options: MappingStoreOptions = {},
  ) {
    this.root = keys.mapping(hookId);
    this.replicaWait = options.replicaWait ?? { replicas: 0, timeoutMs: 0 };
    this.timezone = options.timezone;
    this.board = options.readAheads;
  }

  /** Reported before every write: a read sent ahead of its job's turn that covers it is stale. */
  private touch(key: string, field?: string): void {
    this.board?.wrote(key, field);
  }

  /**
   * An intent only protects the GLPI write after it if it survives a failover: a master that
   * acknowledged it and died before its replica had it would leave no trace, and the retry would
   * create the ticket or followup a second time. With replicas configured, wait for them; too few
   * in time is transient (the job retries, and finds its intent).
   */
  async replicated(): Promise<void> {
    if (this.replicaWait.replicas <= 0) return;
    const got = await this.redis.wait(this.replicaWait.replicas, this.replicaWait.timeoutMs);
    if (got < this.replicaWait.replicas) throw new ReplicationLagError(this.replicaWait.replicas, got);
  }

  private contactKey(contactId: number): string {
    return `${this.root}:contact:${contactId}`;
  }
  private convKey(conversationId: number): string {
    return `${this.root}:conv:${conversationId}`;
  }
  private msgsKey(conversationId: number): string {
    return `${this.root}:msgs:${conversationId}`;
  }
  private agentKey(email: string): string {
    return `${this.root}:agent:${email.trim().toLowerCase()}`;
  }
  private createdKey(kind: CustomerKind): string {
    return `${this.root}:created:${kind}`;
  }
  private tzKey(): string {
    return `${this.root}:tz`;
  }
  private ticketsKey(): string {
    return `${this.root}:tickets`;
  }

  /**
   * Conversation, message slot, customer, agent and GLPI's cached UTC offset in one pipeline.
   * With `intentAt`, the same round trip writes the message's followup intent where its slot is
   * empty (HSETNX, after the slot's read): the intent postFollowup writes first for every message,
   * saved a round trip (replicas, when configured, are still awaited before the GLPI write). An
   * intent left by a job that then does not post (the message became the ticket's content: 'c'
   * replaces it; a failure) only makes a later run look in GLPI before posting.
   *
   * A read sent ahead of the job's turn with the same arguments (readMessageContextAhead) is
   * used instead when it is still true: sent under the acquisition of the lock the turn came
   * under, and no write of this process to what it read since. Otherwise the context is read now;
   * an intent the early read wrote is then recognised as this job's, by its value.
   */
  async readMessageContext(
    conversationId: number,
    messageId: number,
    contactId: number | undefined,
    agentEmail: string | undefined,
    intentAt?: number,
  ): Promise<MessageContext> {
    const early = this.early;
    this.early = undefined;
    early?.watch.close();
    if (early !== undefined && sameArgs(early.args, [conversationId, messageId, contactId, agentEmail])) {
      if (early.lease === this.lease && !early.watch.stale) {
        const raw = await early.result;
        if (raw !== undefined) return this.messageContext(raw);
      }
      const raw = await this.sendContextRead(conversationId, { id: messageId, intent: intentAt === undefined ? undefined : intentValue(intentAt, {}) }, contactId, agentEmail);
      if (!raw.intentWritten && raw.slotRaw === early.intent) return this.messageContext({ ...raw, slotRaw: null, intentWritten: true });
      return this.messageContext(raw);
    }
    const intent = intentAt === undefined ? undefined : intentValue(intentAt, {});
    return this.messageContext(await this.sendContextRead(conversationId, { id: messageId, intent }, contactId, agentEmail));
  }

  /**
   * readMessageContext's read (and intent), sent now while the job waits for its turn in the hook's
   * line; `lease` is the acquisition of the hook's lock this process holds now (HookLock.holding).
   * The job's readMessageContext uses it if it is still true at the turn (read-ahead.ts).
   */
  readMessageContextAhead(lease: object, conversationId: number, messageId: number, contactId: number | undefined, agentEmail: string | undefined, intentAt: number): void {
    if (this.board === undefined || this.early !== undefined) return;
    const reads: KeyRef[] = [{ key: this.convKey(conversationId) }, { key: this.msgsKey(conversationId), field: String(messageId) }, { key: this.tzKey() }];
    if (contactId !== undefined) reads.push({ key: this.contactKey(contactId) });
    if (agentEmail !== undefined) reads.push({ key: this.agentKey(agentEmail) });
    // Its own intent is a write other early reads of the message must not trust past; the
    // random part makes the value this job's alone.
    const intent = intentValue(intentAt, {}, randomUUID());
    const result = this.sendContextRead(conversationId, { id: messageId, intent }, contactId, agentEmail).catch(() => undefined);
    // On the board right after the read went out (synchronously: no write can come in between),
    // so that its own intent, reported as sent, does not mark it.
    const watch = this.board.watch(reads);
    this.early = { args: [conversationId, messageId, contactId, agentEmail], lease, watch, intent, result };
  }

  /** The job's turn came under this acquisition of the hook's lock (HookLock's LockedRun.lease). */
  ownTurn(lease: object): void {
    this.lease = lease;
  }

  /** The job is over: a read it sent ahead and did not use leaves the board. */
  close(): void {
    this.early?.watch.close();
    this.early = undefined;
  }

  /** Conversation, customer and GLPI's cached UTC offset in one pipeline (conversation events). */
  async readConversationContext(
    conversationId: number,
    contactId: number | undefined,
  ): Promise<{ conversation: ConversationRecord; customer: CustomerRecord | undefined }> {
    const raw = await this.sendContextRead(conversationId, undefined, contactId, undefined);
    this.timezone?.remember(raw.tzOffsetMin);
    return { conversation: raw.conversation, customer: raw.customer };
  }

  private messageContext(raw: RawContext): MessageContext {
    this.timezone?.remember(raw.tzOffsetMin);
    return { conversation: raw.conversation, slot: parseSlot(raw.slotRaw), customer: raw.customer, agentUserId: raw.agentUserId, intentWritten: raw.intentWritten };
  }

  /** The one pipeline behind every context read; without a message, no slot is read. */
  private async sendContextRead(
    conversationId: number,
    message: { id: number; intent: string | undefined } | undefined,
    contactId: number | undefined,
    agentEmail: string | undefined,
  ): Promise<RawContext> {
    const pipeline = this.redis.pipeline();
    pipeline.hgetall(this.convKey(conversationId));
    if (message !== undefined) pipeline.hget(this.msgsKey(conversationId), String(message.id));
    if (contactId !== undefined) pipeline.hgetall(this.contactKey(contactId));
    if (agentEmail !== undefined) pipeline.get(this.agentKey(agentEmail));
    pipeline.get(this.tzKey());
    const intent = message?.intent;
    if (message !== undefined && intent !== undefined) {
      this.touch(this.msgsKey(conversationId), String(message.id));
      pipeline.hsetnx(this.msgsKey(conversationId), String(message.id), intent);
    }
    const results = await execPipeline(pipeline);
    let i = 0;
    const conversation = parseConversation(results[i++] as Record<string, string>);
    const slotRaw = message === undefined ? null : (results[i++] as string | null);
    const customer = contactId === undefined ? undefined : parseCustomer(results[i++] as Record<string, string>);
    const agentRaw = agentEmail === undefined ? null : (results[i++] as string | null);
    const tzRaw = results[i++] as string | null;
    const intentWritten = intent !== undefined && results[i++] === 1;
    return {
      conversation,
      slotRaw,
      customer,
      agentUserId: agentRaw === null ? undefined : Number(agentRaw),
      tzOffsetMin: tzRaw === null ? undefined : Number(tzRaw),
      intentWritten,
    };
  }

  async getConversation(conversationId: number): Promise<ConversationRecord> {
    return parseConversation(await this.redis.hgetall(this.convKey(conversationId)));
  }

  async setTicketIntent(conversationId: number, intent: TicketIntent): Promise<void> {
    this.touch(this.convKey(conversationId), 'ticketIntent');
    await this.redis.hset(this.convKey(conversationId), 'ticketIntent', JSON.stringify(intent));
    await this.replicated();
  }

  /** Records a ticket and the messages its content came from, atomically (MULTI). */
  async setTicket(conversationId: number, ticketId: number, contentIds: readonly number[]): Promise<void> {
    this.touch(this.convKey(conversationId));
    for (const id of contentIds) this.touch(this.msgsKey(conversationId), String(id));
    const multi = this.redis.multi();
    multi.hset(this.convKey(conversationId), 'ticketId', String(ticketId));
    multi.hdel(this.convKey(conversationId), 'ticketIntent');
    // The GLPI -> Chatwoot poll only looks at tickets in this map.
    multi.hset(this.ticketsKey(), String(ticketId), String(conversationId));
    if (contentIds.length > 0) {
      multi.hset(this.msgsKey(conversationId), Object.fromEntries(contentIds.map((id) => [String(id), 'c'])));
    }
    await execPipeline(multi);
  }

  /**
   * The ticket is gone from GLPI (404): forget it and everything recorded against it, so the
   * conversation gets a new ticket and its messages are posted there.
   */
  async forgetTicket(conversationId: number): Promise<void> {
    this.touch(this.convKey(conversationId));
    this.touch(this.msgsKey(conversationId));
    await this.redis.del(this.convKey(conversationId), this.msgsKey(conversationId));
  }

  /** Conversation of each ticket the bridge created, for those of `ticketIds` it knows. */
  async conversationsOf(ticketIds: readonly number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (ticketIds.length === 0) return out;
    const values = await this.redis.hmget(this.ticketsKey(), ...ticketIds.map(String));
    ticketIds.forEach((ticketId, i) => {
      const conversationId = num(values[i] ?? undefined);
      if (conversationId !== undefined) out.set(ticketId, conversationId);
    });
    return out;
  }

  /**
   * Adds the tickets recorded before the reverse map existed (conversation records written by an
   * older version) to it; returns how many were added. SCAN, never KEYS: safe on a large Redis.
   */
  async indexExistingTickets(): Promise<number> {
    let cursor = '0';
    let added = 0;
    const prefix = `${this.root}:conv:`;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const key of keys) pipeline.hget(key, 'ticketId');
      const ticketIds = await execPipeline(pipeline);
      const entries: Record<string, string> = {};
      keys.forEach((key, i) => {
        const ticketId = num((ticketIds[i] as string | null) ?? undefined);
        const conversationId = num(key.slice(prefix.length));
        if (ticketId !== undefined && conversationId !== undefined) entries[String(ticketId)] = String(conversationId);
      });
      if (Object.keys(entries).length === 0) continue;
      const multi = this.redis.multi();
      for (const [ticketId, conversationId] of Object.entries(entries)) multi.hsetnx(this.ticketsKey(), ticketId, conversationId);
      added += (await execPipeline(multi)).filter((r) => r === 1).length;
    } while (cursor !== '0');
    return added;
  }

  /** Followup ids the Chatwoot -> GLPI direction wrote for a conversation's messages. */
  async followupIdsOf(conversationId: number): Promise<Set<number>> {
    const values = await this.redis.hvals(this.msgsKey(conversationId));
    return new Set(values.flatMap((v) => (/^\d+$/.test(v) ? [Number(v)] : [])));
  }

  /** The status class both sides agree on, set by whichever direction applied it last (no statusAt). */
  async setAgreedStatus(conversationId: number, status: ConversationStatusClass): Promise<void> {
    this.touch(this.convKey(conversationId), 'status');
    await this.redis.hset(this.convKey(conversationId), 'status', status);
  }

  async setStatus(conversationId: number, status: ConversationStatusClass, statusAt: number): Promise<void> {
    this.touch(this.convKey(conversationId));
    await this.redis.hset(this.convKey(conversationId), { status, statusAt: String(statusAt) });
  }

  async setFollowupIntent(conversationId: number, messageId: number, at: number, documentIds: Record<string, number>): Promise<void> {
    this.touch(this.msgsKey(conversationId), String(messageId));
    await this.redis.hset(this.msgsKey(conversationId), String(messageId), intentValue(at, documentIds));
    await this.replicated();
  }

  async setFollowup(conversationId: number, messageId: number, followupId: number): Promise<void> {
    this.touch(this.msgsKey(conversationId), String(messageId));
    await this.redis.hset(this.msgsKey(conversationId), String(messageId), String(followupId));
  }

  /**
   * setFollowup without waiting for Redis, for the end of a job: the lock goes on to the hook's
   * next job meanwhile. That job's commands use this connection after the write, so Redis applies
   * the write first (one connection is ordered); another process that reads before it sees the
   * intent and looks in GLPI. The job is acknowledged only after settle(): a write that failed
   * fails the job, whose retry finds the intent.
   */
  recordFollowup(conversationId: number, messageId: number, followupId: number): void {
    const write = this.setFollowup(conversationId, messageId, followupId);
    write.catch(() => undefined); // settle() reports it; no unhandled rejection before then
    this.unsettled.push(write);
  }

  /** Waits for the writes recordFollowup sent; throws the first that failed. */
  async settle(): Promise<void> {
    await Promise.all(this.unsettled.splice(0));
  }

  async getCustomer(contactId: number): Promise<CustomerRecord | undefined> {
    return parseCustomer(await this.redis.hgetall(this.contactKey(contactId)));
  }

  async setCustomer(contactId: number, record: CustomerRecord): Promise<void> {
    const key = this.contactKey(contactId);
    this.touch(key);
    const multi = this.redis.multi();
    // Replace, not merge: a field that became empty must not survive from the previous record.
    multi.del(key);
    multi.hset(key, {
      kind: record.kind,
      id: String(record.id),
      ...(record.email !== undefined ? { email: record.email } : {}),
      ...(record.phone !== undefined ? { phone: record.phone } : {}),
      ...(record.name !== undefined ? { name: record.name } : {}),
      ...(record.policy !== undefined ? { policy: record.policy } : {}),
      ...(record.checkedAt !== undefined ? { checkedAt: String(record.checkedAt) } : {}),
    });
    await execPipeline(multi);
  }

  /** The stored GLPI user was seen to exist at `at` (ms). */
  async setCustomerChecked(contactId: number, at: number): Promise<void> {
    this.touch(this.contactKey(contactId), 'checkedAt');
    await this.redis.hset(this.contactKey(contactId), 'checkedAt', String(at));
  }

  async forgetCustomer(contactId: number): Promise<void> {
    this.touch(this.contactKey(contactId));
    await this.redis.del(this.contactKey(contactId));
  }

  /**
   * Remembers that the bridge created this GLPI User/Contact: the bridge modifies only those.
   * Records created before this was kept are not in the set, so they are left alone too.
   */
  async markCreated(kind: CustomerKind, glpiId: number): Promise<void> {
    await this.redis.sadd(this.createdKey(kind), String(glpiId));
  }

  async isCreated(kind: CustomerKind, glpiId: number): Promise<boolean> {
    return (await this.redis.sismember(this.createdKey(kind), String(glpiId))) === 1;
  }

  async setAgentUser(email: string, userId: number | undefined): Promise<void> {
    this.touch(this.agentKey(email));
    await this.redis.set(this.agentKey(email), String(userId ?? 0), 'EX', userId === undefined ? DEFAULTS.mappings.agentMissTtlS : DEFAULTS.mappings.agentTtlS);
  }

  async setTzOffset(offsetMin: number): Promise<void> {
    this.touch(this.tzKey());
    await this.redis.set(this.tzKey(), String(offsetMin), 'EX', DEFAULTS.mappings.tzTtlS);
  }
}

async function execPipeline(pipeline: ReturnType<RedisConnection['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function sameArgs(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
