import { afterAll, describe, expect, it } from 'vitest';
import { LockBusyError, LockLostError } from '../../src/errors/index.js';
import { redisKeys } from '../../src/redis/keys.js';
import { HookLock } from '../../src/sync/hook-lock.js';
import { Redis } from 'ioredis';
import { REDIS_URL, deletePrefix, testPrefix, testRedis, waitFor } from '../support/redis.js';

const redis = testRedis();
const prefix = testPrefix('hooklock');
const keys = redisKeys(prefix);

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('HookLock', () => {
  it('runs the jobs of one hook one at a time, in the order they asked (local FIFO line)', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000 });
    const order: number[] = [];
    let inside = 0;
    let maxInside = 0;
    const gate = deferred();
    const firstInside = deferred();
    const runs = Array.from({ length: 12 }, (_, i) =>
      lock.run('acme', async () => {
        inside += 1;
        maxInside = Math.max(maxInside, inside);
        if (i === 0) {
          firstInside.resolve();
          await gate.promise; // hold the first so the others all queue up behind it
        }
        await redis.ping(); // real I/O inside the critical section: overlap would show
        order.push(i);
        inside -= 1;
      }),
    );
    await firstInside.promise;
    gate.resolve();
    await Promise.all(runs);
    expect(order).toEqual([...Array(12).keys()]);
    expect(maxInside).toBe(1);
  });

  it('gives a waiting job back (LockBusyError) after acquireWaitMs in the local line, and the line goes on', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, acquireWaitMs: 0 });
    const gate = deferred();
    const holderInside = deferred();
    const holder = lock.run('slow-hook', async () => {
      holderInside.resolve();
      await gate.promise;
      return 'held';
    });
    await holderInside.promise;
    await expect(lock.run('slow-hook', async () => 'never')).rejects.toBeInstanceOf(LockBusyError);
    gate.resolve();
    await expect(holder).resolves.toBe('held');
    await expect(lock.run('slow-hook', async () => 'next')).resolves.toBe('next');
  });

  it('lets different hooks run at the same time', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000 });
    const bothInside = deferred();
    let count = 0;
    const enter = async () => {
      count += 1;
      if (count === 2) bothInside.resolve();
      await bothInside.promise;
    };
    await Promise.all([lock.run('hook-a', enter), lock.run('hook-b', enter)]);
    expect(count).toBe(2);
  });

  it('keeps the line moving when a job throws', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000 });
    const failing = lock.run('acme', async () => {
      throw new Error('boom');
    });
    const next = lock.run('acme', async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });

  it('reports a lock held by another process as LockBusyError (retry later, never a failure)', async () => {
    const holder = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000 });
    const other = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, acquireWaitMs: 0 });
    const release = deferred();
    const held = holder.run('busy', () => release.promise);
    // Wait (bounded) until the holder really holds the Redis key.
    await waitFor(async () => ((await redis.exists(keys.lock('busy'))) === 1 ? true : undefined), 'the holder to hold the lock key');
    await expect(other.run('busy', async () => 'never')).rejects.toBeInstanceOf(LockBusyError);
    release.resolve();
    await held;
    await expect(other.run('busy', async () => 'now')).resolves.toBe('now');
  });

  it('hands the held lock on to the next local job of the hook instead of releasing it, and releases it when the line is empty', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, handOverMaxJobs: 4 });
    const gate = deferred();
    const firstInside = deferred();
    const seen: (string | null)[] = [];
    const runs = Array.from({ length: 10 }, (_, i) =>
      lock.run('handover', async ({ signal }) => {
        if (i === 0) {
          firstInside.resolve();
          await gate.promise;
        }
        seen.push(await redis.get(keys.lock('handover')));
        expect(signal.aborted).toBe(false);
        return signal;
      }),
    );
    await firstInside.promise;
    gate.resolve();
    const signals = await Promise.all(runs);
    // One acquisition (one random lock value) for the whole run: past the bound of 4 nobody else
    // asked for the hook, so the lock went on.
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]).toMatch(/./);
    // Each job's signal ends with its job: nothing it left running may write under the next job's lock.
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(await redis.exists(keys.lock('handover'))).toBe(0);
  });

  it('names the acquisition it holds (holding): the same for every job it is handed to, another once taken anew, none when lost or free', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 2_000, extendThresholdMs: 1_500, acquireWaitMs: 5_000 });
    expect(lock.holding('lease')).toBeUndefined();
    const firstInside = deferred();
    const gate = deferred();
    const first = lock.run('lease', async ({ lease }) => {
      firstInside.resolve();
      await gate.promise;
      return lease;
    });
    await firstInside.promise;
    const whileHeld = lock.holding('lease');
    const second = lock.run('lease', async ({ lease }) => lease);
    gate.resolve();
    expect(whileHeld).toBeDefined();
    expect(await first).toBe(whileHeld);
    expect(await second).toBe(whileHeld);
    expect(lock.holding('lease')).toBeUndefined(); // released: the line was empty

    const again = await lock.run('lease', async ({ lease }) => lease);
    expect(again).not.toBe(whileHeld);

    // A lost lease is named by nobody: a job that waits behind it must not count on it.
    const lostInside = deferred();
    const lostGate = deferred();
    const losing = lock.run('lease', async ({ signal }) => {
      lostInside.resolve();
      await redis.set(keys.lock('lease'), 'another-worker', 'PX', 60_000);
      await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
      await lostGate.promise;
    });
    await lostInside.promise;
    await waitFor(() => (lock.holding('lease') === undefined ? true : undefined), 'the lost lease to be noticed');
    lostGate.resolve();
    await losing;
    await redis.del(keys.lock('lease'));
  });

  it('aborts the job the lock was handed to when the lease is lost, and the job after it takes the lock anew', async () => {
    const lock = new HookLock(redis, keys, { ttlMs: 2_000, extendThresholdMs: 1_500, acquireWaitMs: 5_000 });
    const key = keys.lock('lost-lease');
    const firstInside = deferred();
    const gate = deferred();
    const first = lock.run('lost-lease', async () => {
      firstInside.resolve();
      await gate.promise;
      // The lease expired and another worker took the hook: the extension (due about 500 ms after
      // the lock was taken) fails from now on.
      await redis.set(key, 'another-worker', 'PX', 60_000);
    });
    await firstInside.promise;
    const second = lock.run('lost-lease', async ({ signal }) => {
      // Handed over while the lease still looked valid; its extension fails and must abort this job.
      const reason = await new Promise<unknown>((resolve) => {
        if (signal.aborted) resolve(signal.reason);
        signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
      });
      await redis.del(key); // the other worker is done
      return reason;
    });
    const third = lock.run('lost-lease', async ({ signal }) => ({ aborted: signal.aborted, value: await redis.get(key) }));
    gate.resolve();
    await first;
    expect(await second).toBeInstanceOf(LockLostError);
    const after = await third;
    expect(after.aborted).toBe(false);
    expect(after.value).not.toBeNull();
    expect(after.value).not.toBe('another-worker');
    expect(await redis.exists(key)).toBe(0);
  });

  it('lets a worker of another process have the hook after the bound of hand-overs, though this one still has jobs', async () => {
    const a = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, handOverMaxJobs: 3, acquireWaitMs: 10_000 });
    const b = new HookLock(redis, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, acquireWaitMs: 10_000 });
    const key = keys.lock('shared');
    const firstInside = deferred();
    const gate = deferred();
    let aDone = 0;
    let bRan: number | undefined;
    const aJob = (i: number) =>
      a.run('shared', async () => {
        if (i === 0) {
          firstInside.resolve();
          await gate.promise;
        }
        await redis.ping();
        aDone += 1;
      });
    // Process A keeps its line for the hook full (bounded: at most 300 jobs) until B has had it.
    const aRuns: Promise<void>[] = [aJob(0)];
    await firstInside.promise;
    const bRun = b.run('shared', async () => {
      bRan = aDone;
    });
    await waitFor(async () => ((await redis.exists(`${key}:wanted`)) === 1 ? true : undefined), 'B to ask for the hook');
    for (let i = 1; i < 8; i++) aRuns.push(aJob(i));
    gate.resolve();
    for (let i = 8; i < 300 && bRan === undefined; i++) {
      aRuns.push(aJob(i));
      await aRuns[aRuns.length - 8];
    }
    await bRun;
    await Promise.all(aRuns);
    expect(bRan).toBeDefined();
    expect(bRan).toBeLessThan(aRuns.length);
    expect(await redis.exists(key)).toBe(0);
    expect(await redis.exists(`${key}:wanted`)).toBe(0);
  });

  it('keeps its lock key in the database REDIS_URL selects, never in database 0', async () => {
    // A non-zero database even when the suite runs on 0, so the test always means something.
    const url = new URL(REDIS_URL);
    const db = Number(url.pathname.slice(1) || '0') || 15;
    url.pathname = `/${db}`;
    const onDb = new Redis(url.toString(), { maxRetriesPerRequest: 3 });
    const onZero = new Redis(url.toString(), { maxRetriesPerRequest: 3 });
    try {
      await onZero.select(0);
      const lock = new HookLock(onDb, keys, { ttlMs: 5_000, extendThresholdMs: 1_000 });
      const seen = await lock.run('db-hook', async () => ({
        onDb: await onDb.exists(keys.lock('db-hook')),
        onZero: await onZero.exists(keys.lock('db-hook')),
      }));
      expect(seen).toEqual({ onDb: 1, onZero: 0 });
      expect(await onDb.exists(keys.lock('db-hook'))).toBe(0); // released where it was taken
    } finally {
      await deletePrefix(onDb, prefix);
      await deletePrefix(onZero, prefix);
      onDb.disconnect();
      onZero.disconnect();
    }
  });

  it('refuses a database the lock library cannot select instead of silently using database 0', () => {
    const url = new URL(REDIS_URL);
    url.pathname = '/16';
    const high = new Redis(url.toString(), { lazyConnect: true });
    expect(() => new HookLock(high, keys)).toThrow(/0-15/);
    high.disconnect();
  });
});
