import type { HookConfig } from '../config/schema.js';
import type { JobContext } from './context.js';
import type { SyncJobData } from './job.js';
import type { MappingStore } from './mapping-store.js';

/**
 * What a use case is to the job runner (runner/job-runner.ts), and what a job's outcome is to the
 * queue worker. The use cases of both directions implement it; the runner calls them.
 */

export interface ProcessOptions {
  /** Aborted when the worker shuts down: the job stops before its next write. */
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

/** What the queue worker runs for every job. */
export interface SyncProcessor {
  process(data: SyncJobData, options?: ProcessOptions): Promise<SyncOutcome>;
}

export type UseCaseOutcome = Omit<SyncOutcome, 'glpiCalls'>;

/**
 * One use case: what a job of one event name does. `parse` reads the stored payload (zod, at the
 * edge); `skip` says why the event needs no work, deciding without the lock or any stored state
 * (echoes of the bridge's own writes, noise); `run` does the work under the hook's lock.
 */
export interface UseCase<E> {
  /**
   * Jobs of a hook that is not configured or is disabled fail (kept, with advice, for replay)
   * unless this says to skip them (a poll scheduled by an older configuration).
   */
  whenHookOff?: { skip: string };
  parse(payload: unknown): { ok: true; event: E } | { ok: false; error: string };
  skip?(event: E, hook: HookConfig): string | undefined | Promise<string | undefined>;
  run(ctx: JobContext, event: E): Promise<UseCaseOutcome>;
  /**
   * Sends the Redis read `run` begins with while the job still waits for its turn in the hook's
   * line (read-ahead.ts); `lease` is the acquisition of the lock this process holds now. Called
   * only then; `run` reads the same way and gets this read when it is still true.
   */
  readAhead?(store: MappingStore, event: E, lease: object, now: number): void;
}

/** Use cases by the job's event name (SyncJobData.event). */
export type UseCases = ReadonlyMap<string, UseCase<unknown>>;

/** A typed use case as an entry of the table (the runner only passes `parse`'s result to `run`). */
export function registered<E>(useCase: UseCase<E>): UseCase<unknown> {
  return {
    ...(useCase.whenHookOff ? { whenHookOff: useCase.whenHookOff } : {}),
    parse: (payload) => useCase.parse(payload),
    skip: (event, hook) => useCase.skip?.(event as E, hook),
    run: (ctx, event) => useCase.run(ctx, event as E),
    ...(useCase.readAhead ? { readAhead: (store: MappingStore, event: unknown, lease: object, now: number) => useCase.readAhead?.(store, event as E, lease, now) } : {}),
  };
}

