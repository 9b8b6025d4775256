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
 * of the same hook; what they must survive is a process dying between a GLPI write and the
 * record of it. That is what the intents are for: written before the GLPI write, replaced by
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
}

export class MappingStore {
  private readonly root: string;
  private readonly replicaWait: ReplicaWait;
  private readonly timezone: TimezoneCache | undefined;
  /** Record writes sent without waiting (recordFollowup); settle() waits for them. */
  private readonly unsettled: Promise<unknown>[] = [];

  constructor(
    private readonly redis: RedisConnection,
    keys: RedisKeys,
    readonly hookId: string,
    options: MappingStoreOptions = {},
  ) {
    this.root = keys.mapping(hookId);
    this.replicaWait = options.replicaWait ?? { replicas: 0, timeoutMs: 0 };
    this.timezone = options.timezone;
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
   */
  async readMessageContext(
    conversationId: number,
    messageId: number,
    contactId: number | undefined,
    agentEmail: string | undefined,
    intentAt?: number,
  ): Promise<MessageContext> {
    return this.readContext(conversationId, { id: messageId, intentAt }, contactId, agentEmail);
  }

  /** Conversation, customer and GLPI's cached UTC offset in one pipeline (conversation events). */
  async readConversationContext(
    conversationId: number,
    contactId: number | undefined,
  ): Promise<{ conversation: ConversationRecord; customer: CustomerRecord | undefined }> {
    const ctx = await this.readContext(conversationId, undefined, contactId, undefined);
    return { conversation: ctx.conversation, customer: ctx.customer };
  }

  /** The one pipeline behind both reads; without a message, no slot is read (it is 'none'). */
  private async readContext(
    conversationId: number,
    message: { id: number; intentAt: number | undefined } | undefined,
    contactId: number | undefined,
    agentEmail: string | undefined,
  ): Promise<MessageContext> {
    const pipeline = this.redis.pipeline();
    pipeline.hgetall(this.convKey(conversationId));
    if (message !== undefined) pipeline.hget(this.msgsKey(conversationId), String(message.id));
    if (contactId !== undefined) pipeline.hgetall(this.contactKey(contactId));
    if (agentEmail !== undefined) pipeline.get(this.agentKey(agentEmail));
    pipeline.get(this.tzKey());
    const intentAt = message?.intentAt;
    if (message !== undefined && intentAt !== undefined) pipeline.hsetnx(this.msgsKey(conversationId), String(message.id), intentValue(intentAt, {}));
    const results = await execPipeline(pipeline);
    let i = 0;
    const conversation = parseConversation(results[i++] as Record<string, string>);
    const slot = parseSlot(message === undefined ? null : (results[i++] as string | null));
    const customer = contactId === undefined ? undefined : parseCustomer(results[i++] as Record<string, string>);
    const agentRaw = agentEmail === undefined ? null : (results[i++] as string | null);
    const tzRaw = results[i++] as string | null;
    const intentWritten = intentAt !== undefined && results[i++] === 1;
    this.timezone?.remember(tzRaw === null ? undefined : Number(tzRaw));
    return { conversation, slot, customer, agentUserId: agentRaw === null ? undefined : Number(agentRaw), intentWritten };
  }

  async getConversation(conversationId: number): Promise<ConversationRecord> {
    return parseConversation(await this.redis.hgetall(this.convKey(conversationId)));
  }

  async setTicketIntent(conversationId: number, intent: TicketIntent): Promise<void> {
    await this.redis.hset(this.convKey(conversationId), 'ticketIntent', JSON.stringify(intent));
    await this.replicated();
  }

  /** Records a ticket and the messages its content came from, atomically (MULTI). */
  async setTicket(conversationId: number, ticketId: number, contentIds: readonly number[]): Promise<void> {
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
    await this.redis.hset(this.convKey(conversationId), 'status', status);
  }

  async setStatus(conversationId: number, status: ConversationStatusClass, statusAt: number): Promise<void> {
    await this.redis.hset(this.convKey(conversationId), { status, statusAt: String(statusAt) });
  }

  async setFollowupIntent(conversationId: number, messageId: number, at: number, documentIds: Record<string, number>): Promise<void> {
    await this.redis.hset(this.msgsKey(conversationId), String(messageId), intentValue(at, documentIds));
    await this.replicated();
  }

  async setFollowup(conversationId: number, messageId: number, followupId: number): Promise<void> {
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
    await this.redis.hset(this.contactKey(contactId), 'checkedAt', String(at));
  }

  async forgetCustomer(contactId: number): Promise<void> {
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
    await this.redis.set(this.agentKey(email), String(userId ?? 0), 'EX', userId === undefined ? DEFAULTS.mappings.agentMissTtlS : DEFAULTS.mappings.agentTtlS);
  }

  async setTzOffset(offsetMin: number): Promise<void> {
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
