import type { RedisConnection } from '../redis/connection.js';
import type { Logger } from 'pino';
import {
  contactOf,
  identityVerified,
  parseChatwootEvent,
  type ChatwootEvent,
  type ConversationEvent,
  type MessageEvent,
} from '../chatwoot/events.js';
import { DEFAULTS } from '../config/defaults.js';
import type { HookConfig } from '../config/schema.js';
import { ConfigError, HookDisabledError, InvalidEventError, classifyError, errorAdvice, errorCode, isGlpiError, isGlpiNotFound } from '../errors/index.js';
import { ProfileInterfaceCache } from '../glpi/profiles.js';
import type { GlpiClient } from '../glpi/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RedisKeys } from '../redis/keys.js';
import type { SyncJobData } from './job.js';
import type { SyncContext, SyncHooks } from './context.js';
import { changesIdentity, resolveCustomer, syncContactEvent } from './customers.js';
import { authorFor, postFollowup } from './followups.js';
import { discoverGlpiOffsetMin } from './glpi-time.js';
import { HookStateStore } from './hook-state.js';
import { HookLock, type HookLockOptions } from './hook-lock.js';
import { MappingStore, type ConversationRecord, type ReplicaWait } from './mapping-store.js';
import { GLPI_STATUS, syncStatus } from './status.js';
import { ensureTicket, toChatMessage, type TicketResult } from './tickets.js';

export interface SyncProcessorDeps extends SyncHooks {
  /** Command connection: mappings, hook state, the hook lock. */
  redis: RedisConnection;
  keys: RedisKeys;
  hooks: ReadonlyMap<string, HookConfig>;
  glpiFor: (hookId: string) => GlpiClient;
  logger: Logger;
  /** ms since epoch (tests pin it). */
  clock?: () => number;
  metrics?: Pick<Metrics, 'lockWait'> & Partial<Pick<Metrics, 'customerBindings'>>;
  lock?: HookLockOptions;
  /**
   * GLPI's offset from UTC in minutes, when known from configuration. Default: learnt from GLPI's
   * session (`glpi_currenttime`) and cached in Redis for an hour.
   */
  glpiUtcOffsetMin?: (hookId: string) => number | undefined;
  /** REDIS_WAIT_REPLICAS for the write intents (see MappingStore); default none. */
  replicaWait?: ReplicaWait;
}

export interface ProcessOptions {
  /** Aborted when the worker shuts down: the job stops before its next GLPI write. */
  signal?: AbortSignal;
  jobId?: string;
}

export interface SyncOutcome {
  /** What the job did, e.g. "followup-posted", "ticket-created", "skipped". */
  action: string;
  /** Why nothing was done, for skips. */
  reason?: string;
  ticketId?: number;
  followupId?: number;
  /** GLPI client calls this job made (a search that pages counts once). */
  glpiCalls: number;
}

export interface SyncProcessor {
  process(data: SyncJobData, options?: ProcessOptions): Promise<SyncOutcome>;
}

/**
 * Routes a job to the sync services, under the hook's mutex. Errors are thrown as they are
 * (BridgeError / GlpiError); the worker decides with dispositionOf().
 */
const SUCCESS_WRITE_EVERY_MS = 5_000;

export function createSyncProcessor(deps: SyncProcessorDeps): SyncProcessor {
  const clock = deps.clock ?? Date.now;
  const lock = new HookLock(deps.redis, deps.keys, deps.lock, (err) =>
    deps.logger.debug({ err: { message: (err as Error).message } }, 'hook lock release failed (it expires on its own)'),
  );
  const hooks: SyncHooks = {
    onTicketCreated: deps.onTicketCreated,
    isOwnEcho: deps.isOwnEcho,
    fetchAttachment: deps.fetchAttachment,
    fault: deps.fault,
    onCustomerBinding:
      deps.onCustomerBinding ??
      ((hookId, result, reason) => deps.metrics?.customerBindings?.inc({ hook: hookId, result, reason })),
  };
  const profiles = new ProfileInterfaceCache(DEFAULTS.profileCacheTtlMs, clock);

  // lastGlpiSuccessAt is for /ready, not an audit trail: written at most every few seconds per
  // hook instead of one more Redis round trip per job, but always right after an error so the
  // hook shows healthy again as soon as GLPI answers.
  const hookStates = new HookStateStore(deps.redis, deps.keys);
  const successWrittenAt = new Map<string, number>();
  async function noteGlpiSuccess(hookId: string): Promise<void> {
    const now = clock();
    if (now - (successWrittenAt.get(hookId) ?? -Infinity) < SUCCESS_WRITE_EVERY_MS) return;
    successWrittenAt.set(hookId, now);
    // The version the hook's GLPI reported when its session opened, for /ready.
    await hookStates.noteSuccess(hookId, new Date(now), deps.glpiFor(hookId).glpiVersion);
  }

  async function process(data: SyncJobData, options: ProcessOptions = {}): Promise<SyncOutcome> {
    const hook = deps.hooks.get(data.hookId);
    if (hook === undefined) {
      throw new ConfigError(
        `hook "${data.hookId}" is not configured in this worker`,
        'add the hook back to HOOKS_FILE (or the environment) and replay the failed events',
      );
    }
    if (!hook.enabled) {
      // Events queued before the hook was disabled were answered 202: keep them (failed, with
      // advice) instead of completing them unsynced, so `replay --hook` brings them back.
      throw new HookDisabledError(hook.id);
    }
    const parsed = parseChatwootEvent(data.payload);
    if (!parsed.ok) throw new InvalidEventError(`${data.event}: ${parsed.error}`);
    const event = parsed.event;
    if (await hooks.isOwnEcho?.(event, hook)) return { action: 'skipped', reason: 'own echo', glpiCalls: 0 };
    const skip = cheapSkip(event);
    if (skip !== undefined) return { action: 'skipped', reason: skip, glpiCalls: 0 };

    const logger = deps.logger.child({
      hookId: hook.id,
      event: event.event,
      deliveryId: data.deliveryId,
      jobId: options.jobId,
      conversationId: data.conversationId,
    });
    const counter = { count: 0 };
    const glpi = countingClient(deps.glpiFor(hook.id), counter);
    const store = new MappingStore(deps.redis, deps.keys, hook.id, deps.replicaWait);
    try {
      const outcome = await lock.run(hook.id, async (run) => {
        deps.metrics?.lockWait.observe({ hook: hook.id }, run.waitedMs / 1000);
        const signal = options.signal ? AbortSignal.any([run.signal, options.signal]) : run.signal;
        let tzCached: number | undefined = deps.glpiUtcOffsetMin?.(hook.id);
        const ctx: SyncContext = {
          hook,
          glpi,
          store,
          logger,
          now: clock,
          signal,
          glpiCalls: counter,
          hooks,
          profiles,
          tzOffsetMin: async () => {
            if (tzCached === undefined) {
              const discovered = await discoverGlpiOffsetMin(glpi, clock());
              if (discovered === undefined) logger.warn('GLPI did not tell its local time; followup dates are written in UTC');
              tzCached = discovered ?? 0;
              await store.setTzOffset(tzCached);
            }
            return tzCached;
          },
        };
        return route(ctx, event, (tz) => {
          if (tzCached === undefined && tz !== undefined) tzCached = tz;
        });
      });
      if (counter.count > 0) await noteGlpiSuccess(hook.id);
      return { ...outcome, glpiCalls: counter.count };
    } catch (err) {
      // Contention, shutdown, a lost lease and a bug meeting a payload are not GLPI's health: keep
      // them out of /ready (the failed job carries the bug's code and advice).
      const { disposition, category } = classifyError(err);
      if (disposition !== 'hand-back' && category !== 'bug') {
        successWrittenAt.delete(hook.id);
        await hookStates.noteError(hook.id, new Date(clock()), errorCode(err) ?? 'UNKNOWN', errorAdvice(err)).catch(() => undefined);
      }
      throw err;
    }
  }

  return { process };
}

type Routed = Omit<SyncOutcome, 'glpiCalls'>;

/** Decisions that need neither the lock nor any stored state. */
function cheapSkip(event: ChatwootEvent): string | undefined {
  switch (event.event) {
    case 'contact_updated':
      // Fires on every incoming message (last_activity_at) and on attribute writes.
      return changesIdentity(event) ? undefined : 'no identity change';
    case 'message_created':
      return event.message_type === 'activity' ? 'activity message' : undefined;
    default:
      return undefined;
  }
}

async function route(ctx: SyncContext, event: ChatwootEvent, learnTz: (tz: number | undefined) => void): Promise<Routed> {
  switch (event.event) {
    case 'contact_created':
    case 'contact_updated': {
      const outcome = await syncContactEvent(ctx, event);
      return { action: `contact-${outcome}` };
    }
    case 'conversation_created':
    case 'conversation_updated':
    case 'conversation_status_changed':
      return syncConversation(ctx, event, learnTz);
    case 'message_created':
      return syncMessage(ctx, event, learnTz);
  }
}

async function syncConversation(ctx: SyncContext, event: ConversationEvent, learnTz: (tz: number | undefined) => void): Promise<Routed> {
  const contact = contactOf(event);
  const read = await ctx.store.readConversationContext(event.id, contact?.id);
  learnTz(read.tzOffsetMin);
  let record = read.conversation;
  const request = {
    conversation: event,
    trigger: undefined,
    inboxName: undefined,
    accountId: undefined,
    contact,
    storedCustomer: read.customer,
    verified: identityVerified(event),
  };
  let ticket = await ensureTicket(ctx, { ...request, record });
  if (ticket.created || ticket.contentIds.length > 0) record = await ctx.store.getConversation(event.id);
  let status;
  try {
    status = await syncStatus(ctx, event, ticket.ticketId, record);
  } catch (err) {
    if (!isGlpiNotFound(err)) throw err;
    // The ticket was deleted in GLPI: forget it, give the conversation a new one, apply again.
    ctx.logger.warn({ ticketId: ticket.ticketId }, 'ticket is gone from GLPI; creating a new one');
    await ctx.store.forgetTicket(event.id);
    ticket = await ensureTicket(ctx, { ...request, record: emptyRecord() });
    status = await syncStatus(ctx, event, ticket.ticketId, await ctx.store.getConversation(event.id));
  }
  return { action: ticket.created ? 'ticket-created' : `status-${status}`, ticketId: ticket.ticketId };
}

async function syncMessage(ctx: SyncContext, event: MessageEvent, learnTz: (tz: number | undefined) => void): Promise<Routed> {
  const conversationId = event.conversation.id;
  const contact = contactOf(event);
  const agentEmail =
    event.message_type !== 'incoming' && event.sender?.type === 'user' && event.sender.email ? event.sender.email : undefined;
  const read = await ctx.store.readMessageContext(conversationId, event.id, contact?.id, agentEmail);
  learnTz(read.tzOffsetMin);
  if (read.slot.state === 'followup') return { action: 'skipped', reason: 'already posted', followupId: read.slot.followupId };
  if (read.slot.state === 'content') return { action: 'skipped', reason: 'used as ticket content' };

  const request = {
    conversation: event.conversation,
    trigger: toChatMessage(event),
    inboxName: event.inbox?.name ?? undefined,
    accountId: event.account?.id,
    contact,
    storedCustomer: read.customer,
    verified: identityVerified(event),
  };
  let ticket: TicketResult = await ensureTicket(ctx, { ...request, record: read.conversation });
  if (ticket.contentIds.includes(event.id)) return { action: ticket.created ? 'ticket-created' : 'skipped', ticketId: ticket.ticketId };

  // The customer record was read with the context; only a first contact costs GLPI calls here.
  const customer =
    event.message_type === 'incoming' && contact !== undefined ? await resolveCustomer(ctx, contact, read.customer, request.verified) : read.customer;
  const author = await authorFor(ctx, event, customer, read.agentUserId);
  try {
    const outcome = await postFollowup(ctx, { message: event, ticketId: ticket.ticketId, slot: read.slot, author });
    return {
      action: outcome.action === 'posted' || outcome.action === 'recovered' ? `followup-${outcome.action}` : 'skipped',
      ticketId: ticket.ticketId,
      ...('followupId' in outcome ? { followupId: outcome.followupId } : {}),
    };
  } catch (err) {
    // GLPI answers a followup on a deleted or a closed ticket with ERROR_GLPI_ADD ("permission"),
    // not 404: only then is the ticket looked up. A missing ticket is replaced; so is a closed one
    // (closed is final in ITIL: a new message after closure is a new ticket for the conversation).
    if (!isGlpiError(err) || err.transient) throw err;
    const state = await ticketState(ctx, ticket.ticketId);
    if (state === 'open') throw err;
    ctx.logger.warn({ ticketId: ticket.ticketId, state }, `ticket is ${state} in GLPI; creating a new one for the conversation`);
    await ctx.store.forgetTicket(conversationId);
    ticket = await ensureTicket(ctx, { ...request, record: emptyRecord() });
    if (ticket.contentIds.includes(event.id)) return { action: 'ticket-created', ticketId: ticket.ticketId };
    const outcome = await postFollowup(ctx, { message: event, ticketId: ticket.ticketId, slot: { state: 'none' }, author });
    return { action: 'followup-posted', ticketId: ticket.ticketId, ...('followupId' in outcome ? { followupId: outcome.followupId } : {}) };
  }
}

async function ticketState(ctx: SyncContext, ticketId: number): Promise<'gone' | 'closed' | 'open'> {
  try {
    const ticket = await ctx.glpi.getItem('Ticket', ticketId);
    return Number(ticket.status) === GLPI_STATUS.closed ? 'closed' : 'open';
  } catch (err) {
    if (isGlpiNotFound(err)) return 'gone';
    throw err;
  }
}

function emptyRecord(): ConversationRecord {
  return { ticketId: undefined, ticketIntent: undefined, status: undefined, statusAt: undefined };
}

/** The hook's client, counting calls for the hook state and the job's outcome. */
function countingClient(client: GlpiClient, counter: { count: number }): GlpiClient {
  const counted = new Set<string | symbol>([
    'getItem',
    'getSubItems',
    'addItem',
    'addItems',
    'addSubItem',
    'updateItem',
    'search',
    'uploadDocument',
    'getFullSession',
  ]);
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (!counted.has(property)) return value.bind(target);
      return (...args: unknown[]) => {
        counter.count += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
