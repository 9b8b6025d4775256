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
}

export function throwIfAborted(signal: AbortSignal): void {
  if (!signal.aborted) return;
  throw signal.reason instanceof BridgeError ? signal.reason : new JobAbortedError(signal.reason);
}
