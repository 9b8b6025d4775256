import type { Logger } from 'pino';
import { BridgeError, JobAbortedError } from '../errors/index.js';
import type { HookConfig } from '../config/schema.js';
import type { GlpiClient } from '../glpi/types.js';
import type { MappingStore } from './mapping-store.js';
import type { GlpiTimezone } from './timezone.js';

/**
 * What the job runner hands every use case, of either direction: built once per job, under the
 * hook's lock.
 */
export interface JobContext {
  hook: HookConfig;
  /** The hook's GLPI client; the runner counts the calls made through it. */
  glpi: GlpiClient;
  store: MappingStore;
  /** Carries the hook, event, delivery, job and conversation ids. */
  logger: Logger;
  /** ms since epoch. */
  now: () => number;
  /** Aborted when the hook lock is lost or the worker shuts down: checked before every write. */
  signal: AbortSignal;
  /** GLPI's offset from UTC (local time is what GLPI stores). */
  timezone: GlpiTimezone;
  /**
   * Work that must not hold up the hook's other jobs (calls to Chatwoot): run by the runner once
   * the hook's lock has gone on and the job's records are stored, before the job is acknowledged.
   * What it owes must already be stored durably (its own retry path covers a crash in between).
   */
  afterLock(task: AfterLockTask): void;
}

/** A job's work for after the hook's lock; it never throws into the job (the runner logs). */
export type AfterLockTask = () => Promise<void>;

export function throwIfAborted(signal: AbortSignal): void {
  if (!signal.aborted) return;
  throw signal.reason instanceof BridgeError ? signal.reason : new JobAbortedError(signal.reason);
}
