import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import { ChatwootError, ConfigError, HookDisabledError, InvalidEventError, classifyError, errorAdvice, errorCode } from '../../errors/index.js';
import type { GlpiClient } from '../../glpi/types.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { RedisConnection } from '../../redis/connection.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { AfterLockTask } from '../context.js';
import { HookLock, type HookLockOptions } from '../hook-lock.js';
import { HookStateStore } from '../hook-state.js';
import { ReadAheadBoard } from '../read-ahead.js';
import type { SyncJobData } from '../job.js';
import { MappingStore, type ReplicaWait } from '../mapping-store.js';
import { GlpiTimezone } from '../timezone.js';
import type { ProcessOptions, SyncOutcome, SyncProcessor, UseCases } from '../use-case.js';
import { countedGlpi } from './counted-glpi.js';

interface JobRunnerDeps {
  /** Command connection: mappings, hook state, the hook lock. */
  redis: RedisConnection;
  keys: RedisKeys;
  hooks: ReadonlyMap<string, HookConfig>;
  glpiFor: (hookId: string) => GlpiClient;
  logger: Logger;
  useCases: UseCases;
  /** ms since epoch (tests pin it). */
  clock?: () => number;
  metrics?: Pick<Metrics, 'lockWait'> & Partial<Pick<Metrics, 'contextReads'>>;
  lock?: HookLockOptions;
  /** GLPI's offset from UTC in minutes, when known from configuration (see timezone.ts). */
  glpiUtcOffsetMin?: (hookId: string) => number | undefined;
  /** REDIS_WAIT_REPLICAS for the write intents (see MappingStore); default none. */
  replicaWait?: ReplicaWait;
}

/**
 * Runs every job, of either direction, the same way: the hook, the payload, the cheap skips, then
 * the use case under the hook's mutex with a context built for the job, and the hook's health
 * for /ready. Errors are thrown as they are (BridgeError / GlpiError); the worker decides retry,
 * failure or hand-back.
 */
export function createJobRunner(deps: JobRunnerDeps): SyncProcessor {
  const clock = deps.clock ?? Date.now;
  const lock = new HookLock(deps.redis, deps.keys, deps.lock, (err) =>
    deps.logger.debug({ err: { message: (err as Error).message } }, 'hook lock release failed (it expires on its own)'),
  );
  const hookStates = new HookStateStore(deps.redis, deps.keys);
  // One board for the process: every job's store reports its writes to it (read-ahead.ts).
  const readAheads = new ReadAheadBoard();
  const successWrittenAt = new Map<string, number>();

  async function noteGlpiSuccess(hookId: string, glpiVersion: string | undefined): Promise<void> {
    const now = clock();
    if (now - (successWrittenAt.get(hookId) ?? -Infinity) < DEFAULTS.hookStateSuccessWriteEveryMs) return;
    successWrittenAt.set(hookId, now);
    await hookStates.noteSuccess(hookId, new Date(now), glpiVersion);
  }

  async function noteError(hookId: string, err: unknown): Promise<void> {
    // Contention, shutdown, a lost lease, a bug meeting a payload and Chatwoot's answers (the GLPI
    // -> Chatwoot poll) are not GLPI's health: keep them out of /ready (the failed job carries
    // its code and advice).
    const { disposition, category } = classifyError(err);
    if (disposition === 'hand-back' || category === 'bug' || err instanceof ChatwootError) return;
    successWrittenAt.delete(hookId);
    await hookStates.noteError(hookId, new Date(clock()), errorCode(err), errorAdvice(err)).catch(() => undefined);
  }

  async function process(data: SyncJobData, options: ProcessOptions = {}): Promise<SyncOutcome> {
    const useCase = deps.useCases.get(data.event);
    const known = deps.hooks.get(data.hookId);
    if (useCase?.whenHookOff !== undefined && (known === undefined || !known.enabled)) {
      return { action: 'skipped', reason: useCase.whenHookOff.skip, glpiCalls: 0 };
    }
    const hook = hookOf(deps.hooks, data.hookId);
    const parsed = useCase?.parse(data.payload) ?? { ok: false, error: 'no use case for this event' };
    if (useCase === undefined || !parsed.ok) throw new InvalidEventError(`${data.event}: ${parsed.ok ? '' : parsed.error}`);
    const skip = await useCase.skip?.(parsed.event, hook);
    if (skip !== undefined) return { action: 'skipped', reason: skip, glpiCalls: 0 };

    const logger = deps.logger.child({ hookId: hook.id, event: data.event, deliveryId: data.deliveryId, jobId: options.jobId, conversationId: data.conversationId });
    const client = deps.glpiFor(hook.id);
    const { glpi, calls } = countedGlpi(client);
    // The store's first read brings the offset cached in Redis along; a discovered one is cached there.
    const timezone: GlpiTimezone = new GlpiTimezone({
      configuredMin: deps.glpiUtcOffsetMin?.(hook.id),
      glpi,
      now: clock,
      logger,
      persist: (offsetMin: number) => store.setTzOffset(offsetMin),
    });
    const store: MappingStore = new MappingStore(deps.redis, deps.keys, hook.id, {
      replicaWait: deps.replicaWait,
      timezone,
      readAheads,
      countRead: (read) => deps.metrics?.contextReads?.inc({ hook: hook.id, read }),
    });
    // A job that will wait behind another of the hook (this process holds the lock) sends its read now.
    const lease = lock.holding(hook.id);
    if (lease !== undefined) useCase.readAhead?.(store, parsed.event, lease, clock());
    const afterLock: AfterLockTask[] = [];
    try {
      const outcome = await lock.run(hook.id, async (run) => {
        store.ownTurn(run.lease);
        deps.metrics?.lockWait.observe({ hook: hook.id }, run.waitedMs / 1000);
        const signal = options.signal ? AbortSignal.any([run.signal, options.signal]) : run.signal;
        return useCase.run({ hook, glpi, store, logger, now: clock, signal, timezone, afterLock: (task) => afterLock.push(task) }, parsed.event);
      });
      // Records the job sent without waiting, while the lock went on to the hook's next job: stored
      // before the job is acknowledged.
      await store.settle();
      await runAfterLock(afterLock, logger, options.signal);
      // The version the hook's GLPI reported when its session opened, for /ready.
      if (calls() > 0) await noteGlpiSuccess(hook.id, client.glpiVersion);
      return { ...outcome, glpiCalls: calls() };
    } catch (err) {
      await noteError(hook.id, err);
      // A job that failed after owing a write-back still makes it.
      await runAfterLock(afterLock, logger, options.signal);
      throw err;
    } finally {
      store.close();
    }
  }

  return { process };
}

/**
 * One task after the other (a hook's write-backs are few); a failure is logged, never the job's.
 * None once the worker is stopping: what they owe is stored, and the workers' retry timer makes it.
 */
async function runAfterLock(tasks: AfterLockTask[], logger: Logger, stopping: AbortSignal | undefined): Promise<void> {
  for (const task of tasks.splice(0)) {
    if (stopping?.aborted === true) return;
    try {
      await task();
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'work after the hook lock failed; what it owed stays stored for the retry timer');
    }
  }
}

function hookOf(hooks: ReadonlyMap<string, HookConfig>, hookId: string): HookConfig {
  const hook = hooks.get(hookId);
  if (hook === undefined) {
    throw new ConfigError(
      `hook "${hookId}" is not configured in this worker`,
      'add the hook back to HOOKS_FILE (or the environment) and replay the failed events',
    );
  }
  if (!hook.enabled) {
    // Events queued before the hook was disabled were answered 202: keep them (failed, with
    // advice) instead of completing them unsynced, so `replay --hook` brings them back.
    throw new HookDisabledError(hook.id);
  }
  return hook;
}
