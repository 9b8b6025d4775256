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
  /** Hand-overs to this process's next job of the hook before another process may have the lock. */
  handOverMaxJobs?: number;
  handOverMaxMs?: number;
}

interface LockedRun {
  /** Aborted when the lock could not be extended; check before every write. */
  signal: AbortSignal;
  /** ms spent waiting for the lock. */
  waitedMs: number;
  /** This acquisition of the lock, as `holding` named it (the same object for every job it is handed on to). */
  lease: object;
}

/** One acquisition of a hook's Redis lock, possibly carried through several jobs of the hook. */
interface Held {
  lock: Lock;
  /** Aborted when the lease could not be extended: whoever runs under it must stop writing. */
  lost: AbortController;
  timer: NodeJS.Timeout | undefined;
  extending: Promise<void> | undefined;
  /** Jobs run under it since it was taken (or since the last check for a waiting process). */
  jobs: number;
  since: number;
}

/** This process's jobs of one hook: one runs, the others wait in line (FIFO). */
interface Line {
  /** A job of the hook is running, or the lock is being passed to the next one. */
  busy: boolean;
  /** Wakes each waiting job, in arrival order. */
  waiting: (() => void)[];
  held: Held | undefined;
  /** The lock was just given up for another process: the next job lets it in before trying. */
  yieldFirst: boolean;
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
 * Between two jobs of a hook that this process holds, the lock is handed on instead of released
 * and taken again (two Redis round trips per job saved): the lease and its extension go with it,
 * and every job still gets a signal that aborts when the lease is lost. After handOverMaxJobs jobs
 * or handOverMaxMs, if a worker in another process has asked for the hook (it marks the `wanted`
 * key while it waits), the lock is released and this process's next job waits long enough for
 * that worker's next try before it tries itself.
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
  private readonly handOverMaxJobs: number;
  private readonly handOverMaxMs: number;
  private readonly resourceOf: (id: string) => string;
  private readonly lines = new Map<string, Line>();

  constructor(
    private readonly redis: RedisConnection,
    keys: RedisKeys,
    options: HookLockOptions = {},
    private readonly onReleaseError: (err: unknown) => void = () => undefined,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULTS.lock.ttlMs;
    this.extendThresholdMs = options.extendThresholdMs ?? DEFAULTS.lock.extendThresholdMs;
    this.acquireWaitMs = options.acquireWaitMs ?? DEFAULTS.lock.acquireWaitMs;
    this.retryDelayMs = options.retryDelayMs ?? DEFAULTS.lock.retryDelayMs;
    this.handOverMaxJobs = options.handOverMaxJobs ?? DEFAULTS.lock.handOverMaxJobs;
    this.handOverMaxMs = options.handOverMaxMs ?? DEFAULTS.lock.handOverMaxMs;
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
    // A single Redis: quorum of one, no clock drift worth modelling beyond Redlock's default. One
    // attempt per call: acquire() retries itself, to mark the hook as wanted between attempts.
    this.redlock = new Redlock([redis], { db, retryCount: 0 });
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
    let line = this.lines.get(hookId);
    if (line === undefined) {
      line = { busy: false, waiting: [], held: undefined, yieldFirst: false };
      this.lines.set(hookId, line);
    }
    if (!line.busy) {
      line.busy = true;
    } else if (!(await this.turnWithin(line, this.acquireWaitMs))) {
      // A waiting job holds one of the worker's concurrency slots: past acquireWaitMs (a slow
      // GLPI on this hook) it gives its slot back so other hooks' jobs can run.
      throw new LockBusyError(this.resourceOf(hookId));
    }
    try {
      return await this.runHeld(hookId, line, started, fn);
    } finally {
      await this.passOn(hookId, line);
    }
  }

  /** True when the job's turn comes within `ms`; false (and out of the line) otherwise. */
  private turnWithin(line: Line, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const at = line.waiting.indexOf(wake);
        // Not found: already woken (resolved true), nothing to give back.
        if (at >= 0) {
          line.waiting.splice(at, 1);
          resolve(false);
        }
      }, ms);
      line.waiting.push(wake);
    });
  }

  private async runHeld<T>(hookId: string, line: Line, started: number, fn: (run: LockedRun) => Promise<T>): Promise<T> {
    if (line.held === undefined) {
      if (line.yieldFirst) {
        // Another process asked for the hook and the lock was just released for it: wait out one
        // of its retry intervals (at most 2 x retryDelayMs) so that its next try finds it free.
        line.yieldFirst = false;
        await sleep(2 * this.retryDelayMs + 1);
      }
      line.held = await this.acquire(this.resourceOf(hookId));
    }
    const held = line.held;
    held.jobs += 1;
    const waitedMs = Date.now() - started;
    // The job's own signal: aborted when the lease is lost, and when the job is over (anything it
    // left running must not write after the lock went on to the next job).
    const job = new AbortController();
    const onLost = () => job.abort(held.lost.signal.reason);
    if (held.lost.signal.aborted) onLost();
    else held.lost.signal.addEventListener('abort', onLost, { once: true });
    try {
      return await fn({ signal: job.signal, waitedMs, lease: held });
    } finally {
      held.lost.signal.removeEventListener('abort', onLost);
      if (!job.signal.aborted) job.abort(new LockLostError(this.resourceOf(hookId)));
    }
  }

  /** After a job: the lock goes on to this process's next job of the hook, or is released. */
  private async passOn(hookId: string, line: Line): Promise<void> {
    const held = line.held;
    const next = line.waiting.shift();
    if (held !== undefined && !(next !== undefined && (await this.mayHandOver(hookId, held)))) {
      line.held = undefined;
      await this.release(held);
    }
    if (next !== undefined) {
      next();
      return;
    }
    line.busy = false;
    if (line.held === undefined && line.waiting.length === 0) this.lines.delete(hookId);
  }

  private async mayHandOver(hookId: string, held: Held): Promise<boolean> {
    // A lease lost, or run out while its extension was late: the next job takes the lock anew.
    if (held.lost.signal.aborted || held.lock.expiration <= Date.now()) return false;
    if (held.jobs < this.handOverMaxJobs && Date.now() - held.since < this.handOverMaxMs) return true;
    // The bound: one look (a round trip per bound, not per job) at whether another process waits.
    const wanted = await this.redis.exists(wantedKey(this.resourceOf(hookId))).catch(() => 1);
    if (wanted === 0) {
      held.jobs = 0;
      held.since = Date.now();
      return true;
    }
    const line = this.lines.get(hookId);
    if (line !== undefined) line.yieldFirst = true;
    return false;
  }

  /**
   * The acquisition of the hook's lock this process holds now (a job of the hook runs, or is being
   * handed the lock), or undefined. A job that will later run under the same object knows that no
   * other process held the lock in between (read-ahead.ts).
   */
  holding(hookId: string): object | undefined {
    const held = this.lines.get(hookId)?.held;
    return held === undefined || held.lost.signal.aborted ? undefined : held;
  }

  /** Takes the lock, trying every retryDelayMs (plus jitter) for acquireWaitMs; starts its extension. */
  private async acquire(resource: string): Promise<Held> {
    const deadline = Date.now() + this.acquireWaitMs;
    let lock: Lock;
    let marked = false;
    for (;;) {
      try {
        lock = await this.redlock.acquire([resource], this.ttlMs);
        // Our own mark would make us give the lock up at our first bound for nobody; another
        // waiting process marks again at its next try.
        if (marked) await this.redis.del(wantedKey(resource)).catch(() => undefined);
        break;
      } catch (err) {
        // ExecutionError is how Redlock reports "someone else holds it" (and also "Redis did not
        // answer"); either way the job comes back later.
        if (!(err instanceof ExecutionError)) throw err;
        if (Date.now() >= deadline) throw new LockBusyError(resource, err);
        // Let the holder know (it checks at its hand-over bound); kept for the whole wait, so a
        // holder that reaches its bound while this worker's job is being handed back still yields.
        marked = true;
        await this.redis.set(wantedKey(resource), '1', 'PX', this.acquireWaitMs).catch(() => undefined);
        await sleep(this.retryDelayMs + Math.random() * this.retryDelayMs);
      }
    }
    const held: Held = { lock, lost: new AbortController(), timer: undefined, extending: undefined, jobs: 0, since: Date.now() };
    this.extendLater(resource, held);
    return held;
  }

  private extendLater(resource: string, held: Held): void {
    const inMs = Math.max(0, held.lock.expiration - Date.now() - this.extendThresholdMs);
    held.timer = setTimeout(() => {
      held.extending = held.lock
        .extend(this.ttlMs)
        .then((extended) => {
          held.lock = extended;
          if (!held.lost.signal.aborted) this.extendLater(resource, held);
        })
        .catch((err: unknown) => {
          // Not extended: another worker may take the lock once it expires, so the job must
          // stop writing. The signal tells it; the job is retried and idempotency does the rest.
          held.lost.abort(new LockLostError(resource, err));
        });
    }, inMs);
    held.timer.unref();
  }

  private async release(held: Held): Promise<void> {
    if (held.timer) clearTimeout(held.timer);
    if (!held.lost.signal.aborted) held.lost.abort(new LockLostError(held.lock.resources.join(',')));
    if (held.extending) await held.extending.catch(() => undefined);
    // Redlock's release is a compare-and-delete script: it only deletes the key if it still
    // holds this lock's random value, so a lock that expired and was taken over stays intact.
    await held.lock.release().catch((err: unknown) => this.onReleaseError(err));
  }
}

function wantedKey(resource: string): string {
  return `${resource}:wanted`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
