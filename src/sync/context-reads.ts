import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis/connection.js';
import { execPipeline } from '../redis/pipeline.js';
import type { MappingKeys } from './mapping-keys.js';
import { intentValue, parseConversation, parseCustomer, parseSlot, type ConversationRecord, type CustomerRecord, type MessageSlot } from './mapping-records.js';
import type { KeyRef, ReadAheadBoard, Watch } from './read-ahead.js';

/**
 * What a job reads before it decides anything, in one pipeline: a message's or a conversation's
 * records, the customer, the agent and GLPI's cached UTC offset. A message's read can be sent while
 * the job still waits for its turn in the hook's line (read-ahead.ts). MappingStore serves these.
 */

/** Everything a message_created job needs, read in one round trip. */
export interface MessageContext {
  conversation: ConversationRecord;
  slot: MessageSlot;
  customer: CustomerRecord | undefined;
  /** undefined = not cached; 0 = cached "no GLPI user for this agent". */
  agentUserId: number | undefined;
  /** The read also wrote the message's first followup intent (see message()'s `intentAt`). */
  intentWritten: boolean;
}

/** Takes GLPI's UTC offset as cached in Redis, read along with a job's records (see timezone.ts). */
export interface TimezoneCache {
  remember(offsetMin: number | undefined): void;
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

/** A message's context read before the job's turn (messageAhead). */
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

/** How a message's context was read (cgb_context_reads_total): see ContextReads.message. */
export type ContextReadKind = 'ahead' | 'again' | 'at_turn';

export class ContextReads {
  private early: EarlyRead | undefined;
  /** The acquisition of the hook's lock the job's turn came under (ownTurn). */
  private lease: object | undefined;

  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: MappingKeys,
    private readonly board: ReadAheadBoard | undefined,
    private readonly timezone: TimezoneCache | undefined,
    private readonly counted: (read: ContextReadKind) => void = () => undefined,
  ) {}

  /**
   * Conversation, message slot, customer, agent and GLPI's cached UTC offset in one pipeline.
   * With `intentAt`, the same round trip writes the message's followup intent where its slot is
   * empty (HSETNX, after the slot's read): the intent postFollowup writes first for every message,
   * saved a round trip (replicas, when configured, are still awaited before the GLPI write). An
   * intent left by a job that then does not post (the message became the ticket's content: 'c'
   * replaces it; a failure) only makes a later run look in GLPI before posting.
   *
   * A read sent ahead of the job's turn with the same arguments (messageAhead) is
   * used instead when it is still true: sent under the acquisition of the lock the turn came
   * under, and no write of this process to what it read since. Otherwise the context is read now;
   * an intent the early read wrote is then recognised as this job's, by its value.
   */
  async message(
    conversationId: number,
    messageId: number,
    contactId: number | undefined,
    agentEmail: string | undefined,
    intentAt?: number,
  ): Promise<MessageContext> {
    const early = this.early;
    this.early = undefined;
    early?.watch.close();
    const ours = early !== undefined && sameArgs(early.args, [conversationId, messageId, contactId, agentEmail]) ? early : undefined;
    if (ours !== undefined && ours.lease === this.lease && !ours.watch.stale) {
      const raw = await ours.result;
      if (raw !== undefined) {
        this.counted('ahead');
        return this.messageContext(raw);
      }
    }
    this.counted(ours === undefined ? 'at_turn' : 'again');
    const intent = intentAt === undefined ? undefined : intentValue(intentAt, {});
    const raw = await this.sendContextRead(conversationId, { id: messageId, intent }, contactId, agentEmail).result;
    // The intent the early read wrote is this job's: posting needs no look in GLPI first.
    if (ours !== undefined && !raw.intentWritten && raw.slotRaw === ours.intent) return this.messageContext({ ...raw, slotRaw: null, intentWritten: true });
    return this.messageContext(raw);
  }

  /**
   * message()'s read (and intent), sent now while the job waits for its turn in the hook's
   * line; `lease` is the acquisition of the hook's lock this process holds now (HookLock.holding).
   * The job's message() uses it if it is still true at the turn (read-ahead.ts).
   */
  messageAhead(lease: object, conversationId: number, messageId: number, contactId: number | undefined, agentEmail: string | undefined, intentAt: number): void {
    if (this.board === undefined || this.early !== undefined) return;
    // Its own intent is a write other early reads of the message must not trust past; the
    // random part makes the value this job's alone.
    const intent = intentValue(intentAt, {}, randomUUID());
    const sent = this.sendContextRead(conversationId, { id: messageId, intent }, contactId, agentEmail);
    const result = sent.result.catch(() => undefined);
    // On the board right after the read went out (synchronously: no write can come in between),
    // so that its own intent, reported as sent, does not mark it.
    const watch = this.board.watch(sent.reads);
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
  async conversation(
    conversationId: number,
    contactId: number | undefined,
  ): Promise<{ conversation: ConversationRecord; customer: CustomerRecord | undefined }> {
    const raw = await this.sendContextRead(conversationId, undefined, contactId, undefined).result;
    this.timezone?.remember(raw.tzOffsetMin);
    return { conversation: raw.conversation, customer: raw.customer };
  }

  private messageContext(raw: RawContext): MessageContext {
    this.timezone?.remember(raw.tzOffsetMin);
    return { conversation: raw.conversation, slot: parseSlot(raw.slotRaw), customer: raw.customer, agentUserId: raw.agentUserId, intentWritten: raw.intentWritten };
  }

  /**
   * The one pipeline behind every context read, sent before this returns; without a message, no
   * slot is read. `reads` names what it reads, for the board.
   */
  private sendContextRead(
    conversationId: number,
    message: { id: number; intent: string | undefined } | undefined,
    contactId: number | undefined,
    agentEmail: string | undefined,
  ): { reads: KeyRef[]; result: Promise<RawContext> } {
    const pipeline = this.redis.pipeline();
    const reads: KeyRef[] = [];
    const read = (ref: KeyRef, queue: (p: typeof pipeline) => unknown) => {
      reads.push(ref);
      queue(pipeline);
    };
    const conv = this.keys.conv(conversationId);
    const msgs = this.keys.msgs(conversationId);
    read({ key: conv }, (p) => p.hgetall(conv));
    if (message !== undefined) read({ key: msgs, field: String(message.id) }, (p) => p.hget(msgs, String(message.id)));
    if (contactId !== undefined) read({ key: this.keys.contact(contactId) }, (p) => p.hgetall(this.keys.contact(contactId)));
    if (agentEmail !== undefined) read({ key: this.keys.agent(agentEmail) }, (p) => p.get(this.keys.agent(agentEmail)));
    read({ key: this.keys.tz() }, (p) => p.get(this.keys.tz()));
    const intent = message?.intent;
    if (message !== undefined && intent !== undefined) {
      this.board?.wrote(msgs, String(message.id));
      pipeline.hsetnx(msgs, String(message.id), intent);
    }
    const result = execPipeline(pipeline).then((results): RawContext => {
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
    });
    return { reads, result };
  }
}

function sameArgs(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
