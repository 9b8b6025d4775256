import { ERROR_CATALOGUE, catalogueEntry, type ErrorCode } from './catalogue.js';
import type { CatalogueEntry, Disposition, ErrorCategory } from './types.js';

export interface BridgeErrorOptions {
  /** Says more than the catalogue's advice for the code (which hook, which variable, which URL). */
  advice?: string;
  /** HTTP status of the remote answer, when there was one. */
  status?: number;
  cause?: unknown;
  /**
   * Replaces the catalogue's entry: GLPI's message says more than its code (a permission, an item
   * that is gone), or the remote side sent a code the catalogue does not list.
   */
  entry?: CatalogueEntry;
}

/**
 * The error type of the whole bridge. `code` is stable (logs, metrics, /ready, the failed list);
 * disposition, category and advice come from the catalogue entry of that code.
 */
export class BridgeError extends Error {
  readonly code: string;
  readonly disposition: Disposition;
  readonly category: ErrorCategory;
  readonly advice: string;
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options?: BridgeErrorOptions);
  /** A code the catalogue does not list (a newer GLPI's): the caller says what it means. */
  constructor(code: string, message: string, options: BridgeErrorOptions & { entry: CatalogueEntry });
  constructor(code: string, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // The overloads guarantee one of the first two; UNKNOWN only guards against untyped callers.
    const entry = options.entry ?? catalogueEntry(code) ?? ERROR_CATALOGUE.UNKNOWN;
    this.name = 'BridgeError';
    this.code = code;
    this.disposition = entry.disposition;
    this.category = entry.category;
    this.advice = options.advice ?? entry.advice;
    this.status = options.status;
  }

  /** Worth another try (retried or handed back) rather than given up: `dispositionOf(err) !== 'fail'`. */
  get transient(): boolean {
    return this.disposition !== 'fail';
  }
}

/** The per-hook mutex is held by another job: the job goes back to the queue, never fails. */
export class LockBusyError extends BridgeError {
  constructor(resource: string, cause?: unknown) {
    super('LOCK_BUSY', `lock ${resource} is held by another job`, { cause });
    this.name = 'LockBusyError';
  }
}

/** The lock was lost while the job ran (not extended in time): stop before the next GLPI write. */
export class LockLostError extends BridgeError {
  constructor(resource: string, cause?: unknown) {
    super('LOCK_LOST', `lock ${resource} was lost while the job ran`, { cause });
    this.name = 'LockLostError';
  }
}

/** The job was asked to stop (worker shutdown) before its next GLPI write; it goes back to the queue. */
export class JobAbortedError extends BridgeError {
  constructor(reason: unknown) {
    super('JOB_ABORTED', `job stopped before its next GLPI write (${typeof reason === 'string' ? reason : 'aborted'})`);
    this.name = 'JobAbortedError';
  }
}

/** The payload does not fit the event schema: replaying it cannot help until the code changes. */
export class InvalidEventError extends BridgeError {
  constructor(message: string) {
    super('EVENT_INVALID', message);
    this.name = 'InvalidEventError';
  }
}

/**
 * Events queued before their hook was disabled were answered 202: they fail (with advice) instead
 * of completing unsynced, so `replay --hook` brings them back.
 */
export class HookDisabledError extends BridgeError {
  constructor(hookId: string) {
    super('HOOK_DISABLED', `hook "${hookId}" is disabled in this worker`, {
      advice: `set the hook enabled again, restart the workers, then: chatwoot-glpi-bridge replay --hook ${hookId}`,
    });
    this.name = 'HookDisabledError';
  }
}

/** Configuration that cannot work; the process stops (at start) or the job fails (at run time). */
export class ConfigError extends BridgeError {
  constructor(message: string, advice?: string) {
    super('CONFIG_INVALID', message, { advice });
    this.name = 'ConfigError';
  }
}

/**
 * Fewer replicas than REDIS_WAIT_REPLICAS confirmed a write in time: the api spools the webhook as
 * well; the worker retries the job (its intent may not survive a failover yet).
 */
export class ReplicationLagError extends BridgeError {
  constructor(wanted: number, got: number) {
    super('REDIS_NOT_REPLICATED', `only ${got} of ${wanted} Redis replica(s) confirmed the write in time`);
    this.name = 'ReplicationLagError';
  }
}

/**
 * A download link resolves to a private or reserved address. Thrown by the connect-time lookup;
 * its code is how the attachment fetcher recognises it through undici's wrapping.
 */
export class AddressRefusedError extends BridgeError {
  constructor(hostname: string, address: string) {
    super('ATTACHMENT_ADDRESS_REFUSED', `${hostname} resolves to ${address}, which is not a public address`);
    this.name = 'AddressRefusedError';
  }
}
