import { ExecutionError, Redlock, type Lock } from '@sesamecare-oss/redlock';
import { connectionDb, type RedisConnection } from '../redis/connection.js';
import { DEFAULTS } from '../config/defaults.js';
import { LockBusyError, LockLostError } from '../errors/index.js';
import type { RedisKeys } from '../redis/keys.js';

export interface HookLockOptions {
  /** Lock lifetime; extended while the job runs. */
  ttlMs?: number;
  /** Extend when less than this remains. */
  extendThresholdMs?: number;
  /** How long to wait for a busy lock before handing the job back to the queue. */
  acquireWaitMs?: number;
  /** Pause between two acquisition attempts (plus up to the same again as jitter). */
  retryDelayMs?: number;
  /** The Redis key locked for an id (default: the hook's lock key). Other claims use their own names. */
  resourceOf?: (id: string) => string;
}

interface LockedRun {
  /** Aborted when the lock could not be extended; check before every write. */
  signal: AbortSignal;
  /** ms spent waiting for the lock. */
  waitedMs: number;
}

/**
 * One mutex per hook (Redlock, quorum of one, on the bridge's own connection: the single Redis, the
 * Sentinel master, or the cluster master owning the hook's slot). Every job of a hook runs inside it,
 * which is what makes "look up, then create" safe: two workers can never both decide that a
 * conversation has no ticket yet.
 *
 * The same lock, under another resource name (`resourceOf`), is the bridge's one mechanism for
 * other claims too: the write-back's retry of a parked write-back claims it this way.
 *
 * Redlock's own `using()` is not used because it throws from its `finally` when the release fails,
 * which would turn a finished job (GLPI already written and recorded) into a failed one; here a
 * failed release is only logged, since the lock expires on its own anyway.
 */
export class HookLock {
  private readonly redlock: Redlock;
  private readonly ttlMs: number;
  private readonly extendThresholdMs: number;
  private readonly acquireWaitMs: number;
  private readonly retryDelayMs: number;
  private readonly resourceOf: (id: string) => string;
  /** Tail of each hook's local line: the promise the next job of that hook waits for. */
  private readonly lines = new Map<string, Promise<void>>();

  constructor(
    redis: RedisConnection,
    keys: RedisKeys,
    options: HookLockOptions = {},
    private readonly onReleaseError: (err: unknown) => void = () => undefined,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULTS.lock.ttlMs;
    this.extendThresholdMs = options.extendThresholdMs ?? DEFAULTS.lock.extendThresholdMs;
    this.acquireWaitMs = options.acquireWaitMs ?? DEFAULTS.lock.acquireWaitMs;
    this.retryDelayMs = options.retryDelayMs ?? DEFAULTS.lock.retryDelayMs;
    this.resourceOf = options.resourceOf ?? ((hookId) => keys.lock(hookId));
    if (this.extendThresholdMs >= this.ttlMs - 100) {
      throw new RangeError('lock extendThresholdMs must be at least 100 ms below ttlMs');
    }
    // Redlock's scripts begin with `SELECT <db>` (db 0 unless told): without the connection's own
    // database the lock keys land in database 0, where bridges kept apart by database number would
    // share each other's locks. The library only accepts 0-15 and silently falls back to 0 above.
    const db = connectionDb(redis);
    if (!Number.isInteger(db) || db < 0 || db > 15) {
      throw new RangeError(`the per-hook lock supports Redis databases 0-15 only (REDIS_URL selects ${db})`);
    }
    this.redlock = new Redlock([redis], {
      db,
      // A single Redis: quorum of one, no clock drift worth modelling beyond Redlock's default.
      retryCount: Math.max(0, Math.ceil(this.acquireWaitMs / this.retryDelayMs)),
      retryDelay: this.retryDelayMs,
      retryJitter: this.retryDelayMs,
    });
    // Redlock emits 'error' for every failed vote; without a listener that would crash the process.
    this.redlock.on('error', () => undefined);
  }

  /**
   * Runs `fn` holding the hook's lock. Throws LockBusyError (transient, never a failure) when the
   * lock stays busy for acquireWaitMs.
   */
  async run<T>(hookId: string, fn: (run: LockedRun) => Promise<T>): Promise<T> {
    // Jobs of one hook that this process holds wait in a local line, in the order BullMQ handed
    // them out (FIFO), and only the head contends for the Redis lock. Without it they all poll
    // Redlock with jitter and win in random order, so a conversation's events run scrambled
    // (the ticket built from a later message). Other processes still interleave; correctness
    // never depends on order, this only keeps one worker's work in arrival order and cheap.
    const started = Date.now();
    const queued = this.lines.get(hookId);
    const ahead = queued ?? Promise.resolve();
    let leave!: () => void;
    const gate = new Promise<void>((resolve) => (leave = resolve));
    const tail = ahead.then(() => gate);
    this.lines.set(hookId, tail);
    if (queued !== undefined && !(await this.turnWithin(ahead, this.acquireWaitMs))) {
      // A waiting job holds one of the worker's concurrency slots: past acquireWaitMs (a slow
      // GLPI on this hook) it gives its slot back so other hooks' jobs can run, and passes its
      // place in line on once the job ahead of it is done.
      void ahead.then(leave);
      void tail.then(() => {
        if (this.lines.get(hookId) === tail) this.lines.delete(hookId);
      });
      throw new LockBusyError(this.resourceOf(hookId));
    }
    try {
      return await this.runLocked(hookId, started, fn);
    } finally {
      leave();
      if (this.lines.get(hookId) === tail) this.lines.delete(hookId);
    }
  }

  /** True when `ahead` settles within `ms`. */
  private async turnWithin(ahead: Promise<void>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([ahead.then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async runLocked<T>(hookId: string, started: number, fn: (run: LockedRun) => Promise<T>): Promise<T> {
    const resource = this.resourceOf(hookId);
    let lock: Lock;
    try {
      lock = await this.redlock.acquire([resource], this.ttlMs);
    } catch (err) {
      // ExecutionError is how Redlock reports "someone else holds it" after its retries (and also
      // "Redis did not answer"); either way the job comes back later.
      if (err instanceof ExecutionError) throw new LockBusyError(resource, err);
      throw err;
    }
    const waitedMs = Date.now() - started;

    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let extending: Promise<void> | undefined;
    const schedule = () => {
      const inMs = Math.max(0, lock.expiration - Date.now() - this.extendThresholdMs);
      timer = setTimeout(() => {
        extending = lock
          .extend(this.ttlMs)
          .then((extended) => {
            lock = extended;
            if (!controller.signal.aborted) schedule();
          })
          .catch((err: unknown) => {
            // Not extended: another worker may take the lock once it expires, so the job must
            // stop writing. The signal tells it; the job is retried and idempotency does the rest.
            controller.abort(new LockLostError(resource, err));
          });
      }, inMs);
      timer.unref();
    };
    schedule();

    try {
      return await fn({ signal: controller.signal, waitedMs });
    } finally {
      if (timer) clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort(new LockLostError(resource));
      if (extending) await extending.catch(() => undefined);
      // Redlock's release is a compare-and-delete script: it only deletes the key if it still
      // holds this lock's random value, so a lock that expired and was taken over stays intact.
      await lock.release().catch((err: unknown) => this.onReleaseError(err));
    }
  }
}
