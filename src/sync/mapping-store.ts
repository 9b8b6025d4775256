import { DEFAULTS } from '../config/defaults.js';
import { ReplicationLagError } from '../errors/index.js';
import type { RedisConnection } from '../redis/connection.js';
import type { RedisKeys } from '../redis/keys.js';
import { execPipeline } from '../redis/pipeline.js';
import { ContextReads, type ContextReadKind, type MessageContext, type TimezoneCache } from './context-reads.js';
import { mappingKeys, type MappingKeys } from './mapping-keys.js';
import {
  intentValue,
  num,
  parseConversation,
  parseCustomer,
  type ConversationRecord,
  type ConversationStatusClass,
  type CustomerKind,
  type CustomerRecord,
  type TicketIntent,
} from './mapping-records.js';
import type { ReadAheadBoard } from './read-ahead.js';

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

interface MappingStoreOptions {
  /** REDIS_WAIT_REPLICAS: intents must reach this many replicas before the GLPI write they guard. */
  replicaWait?: ReplicaWait;
  timezone?: TimezoneCache;
  /**
   * The process's board of reads sent before a job's turn (read-ahead.ts): every write is reported
   * to it. Without one, nothing is read ahead.
   */
  readAheads?: ReadAheadBoard;
  /** Counts how each message context was read (cgb_context_reads_total). */
  countRead?: (read: ContextReadKind) => void;
}

export class MappingStore {
  private readonly root: string;
  private readonly k: MappingKeys;
  private readonly replicaWait: ReplicaWait;
  /** Record writes sent without waiting (recordFollowup); settle() waits for them. */
  private readonly unsettled: Promise<unknown>[] = [];
  private readonly board: ReadAheadBoard | undefined;
  private readonly reads: ContextReads;

  constructor(
    private readonly redis: RedisConnection,
    keys: RedisKeys,
    readonly hookId: string,
    options: MappingStoreOptions = {},
  ) {
    this.root = keys.mapping(hookId);
    this.k = mappingKeys(this.root);
    this.replicaWait = options.replicaWait ?? { replicas: 0, timeoutMs: 0 };
    this.board = options.readAheads;
    this.reads = new ContextReads(redis, this.k, this.board, options.timezone, options.countRead);
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

  /**
   * Conversation, message slot, customer, agent and GLPI's cached UTC offset in one round trip;
   * with `intentAt`, the message's first followup intent written in it where the slot is empty.
   * A read sent while the job waited for its turn is used when still true (context-reads.ts).
   */
  readMessageContext(conversationId: number, messageId: number, contactId: number | undefined, agentEmail: string | undefined, intentAt?: number): Promise<MessageContext> {
    return this.reads.message(conversationId, messageId, contactId, agentEmail, intentAt);
  }

  /**
   * readMessageContext's read, sent while the job waits for its turn under `lease` (HookLock.holding).
   * Not with REDIS_WAIT_REPLICAS: the intent it writes could be lost in a failover while the job
   * waits, and the replica wait at the job's turn runs on the new connection, which has nothing to
   * wait for; the intent is then written and awaited at the turn, as before.
   */
  readMessageContextAhead(lease: object, conversationId: number, messageId: number, contactId: number | undefined, agentEmail: string | undefined, intentAt: number): void {
    if (this.replicaWait.replicas > 0) return;
    this.reads.messageAhead(lease, conversationId, messageId, contactId, agentEmail, intentAt);
  }

  /** Conversation, customer and GLPI's cached UTC offset in one round trip (conversation events). */
  readConversationContext(conversationId: number, contactId: number | undefined): Promise<{ conversation: ConversationRecord; customer: CustomerRecord | undefined }> {
    return this.reads.conversation(conversationId, contactId);
  }

  /** The job's turn came under this acquisition of the hook's lock (HookLock's LockedRun.lease). */
  ownTurn(lease: object): void {
    this.reads.ownTurn(lease);
  }

  /** The job is over: a read it sent ahead and did not use leaves the board. */
  close(): void {
    this.reads.close();
  }

  async getConversation(conversationId: number): Promise<ConversationRecord> {
    return parseConversation(await this.redis.hgetall(this.k.conv(conversationId)));
  }

  async setTicketIntent(conversationId: number, intent: TicketIntent): Promise<void> {
    this.touch(this.k.conv(conversationId), 'ticketIntent');
    await this.redis.hset(this.k.conv(conversationId), 'ticketIntent', JSON.stringify(intent));
    await this.replicated();
  }

  /** Records a ticket and the messages its content came from, atomically (MULTI). */
  async setTicket(conversationId: number, ticketId: number, contentIds: readonly number[]): Promise<void> {
    this.touch(this.k.conv(conversationId));
    for (const id of contentIds) this.touch(this.k.msgs(conversationId), String(id));
    const multi = this.redis.multi();
    multi.hset(this.k.conv(conversationId), 'ticketId', String(ticketId));
    multi.hdel(this.k.conv(conversationId), 'ticketIntent');
    // The GLPI -> Chatwoot poll only looks at tickets in this map.
    multi.hset(this.k.tickets(), String(ticketId), String(conversationId));
    if (contentIds.length > 0) {
      multi.hset(this.k.msgs(conversationId), Object.fromEntries(contentIds.map((id) => [String(id), 'c'])));
    }
    await execPipeline(multi);
  }

  /**
   * The ticket is gone from GLPI (404): forget it and everything recorded against it, so the
   * conversation gets a new ticket and its messages are posted there.
   */
  async forgetTicket(conversationId: number): Promise<void> {
    this.touch(this.k.conv(conversationId));
    this.touch(this.k.msgs(conversationId));
    await this.redis.del(this.k.conv(conversationId), this.k.msgs(conversationId));
  }

  /** Conversation of each ticket the bridge created, for those of `ticketIds` it knows. */
  async conversationsOf(ticketIds: readonly number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (ticketIds.length === 0) return out;
    const values = await this.redis.hmget(this.k.tickets(), ...ticketIds.map(String));
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
      for (const [ticketId, conversationId] of Object.entries(entries)) multi.hsetnx(this.k.tickets(), ticketId, conversationId);
      added += (await execPipeline(multi)).filter((r) => r === 1).length;
    } while (cursor !== '0');
    return added;
  }

  /** Followup ids the Chatwoot -> GLPI direction wrote for a conversation's messages. */
  async followupIdsOf(conversationId: number): Promise<Set<number>> {
    const values = await this.redis.hvals(this.k.msgs(conversationId));
    return new Set(values.flatMap((v) => (/^\d+$/.test(v) ? [Number(v)] : [])));
  }

  /** The status class both sides agree on, set by whichever direction applied it last (no statusAt). */
  async setAgreedStatus(conversationId: number, status: ConversationStatusClass): Promise<void> {
    this.touch(this.k.conv(conversationId), 'status');
    await this.redis.hset(this.k.conv(conversationId), 'status', status);
  }

  async setStatus(conversationId: number, status: ConversationStatusClass, statusAt: number): Promise<void> {
    this.touch(this.k.conv(conversationId));
    await this.redis.hset(this.k.conv(conversationId), { status, statusAt: String(statusAt) });
  }

  async setFollowupIntent(conversationId: number, messageId: number, at: number, documentIds: Record<string, number>): Promise<void> {
    this.touch(this.k.msgs(conversationId), String(messageId));
    await this.redis.hset(this.k.msgs(conversationId), String(messageId), intentValue(at, documentIds));
    await this.replicated();
  }

  async setFollowup(conversationId: number, messageId: number, followupId: number): Promise<void> {
    this.touch(this.k.msgs(conversationId), String(messageId));
    await this.redis.hset(this.k.msgs(conversationId), String(messageId), String(followupId));
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
    return parseCustomer(await this.redis.hgetall(this.k.contact(contactId)));
  }

  async setCustomer(contactId: number, record: CustomerRecord): Promise<void> {
    const key = this.k.contact(contactId);
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
    this.touch(this.k.contact(contactId), 'checkedAt');
    await this.redis.hset(this.k.contact(contactId), 'checkedAt', String(at));
  }

  async forgetCustomer(contactId: number): Promise<void> {
    this.touch(this.k.contact(contactId));
    await this.redis.del(this.k.contact(contactId));
  }

  /**
   * Remembers that the bridge created this GLPI User/Contact: the bridge modifies only those.
   * Records created before this was kept are not in the set, so they are left alone too.
   */
  async markCreated(kind: CustomerKind, glpiId: number): Promise<void> {
    await this.redis.sadd(this.k.created(kind), String(glpiId));
  }

  async isCreated(kind: CustomerKind, glpiId: number): Promise<boolean> {
    return (await this.redis.sismember(this.k.created(kind), String(glpiId))) === 1;
  }

  async setAgentUser(email: string, userId: number | undefined): Promise<void> {
    this.touch(this.k.agent(email));
    await this.redis.set(this.k.agent(email), String(userId ?? 0), 'EX', userId === undefined ? DEFAULTS.mappings.agentMissTtlS : DEFAULTS.mappings.agentTtlS);
  }

  async setTzOffset(offsetMin: number): Promise<void> {
    this.touch(this.k.tz());
    await this.redis.set(this.k.tz(), String(offsetMin), 'EX', DEFAULTS.mappings.tzTtlS);
  }
}
