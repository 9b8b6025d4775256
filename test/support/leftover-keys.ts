import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DEFAULTS } from '../../src/config/defaults.js';
import { REDIS_URL, TEST_RUN_ENV, testRunPrefix } from './redis.js';

/**
 * vitest globalSetup: `npm test` must leave Redis as it found it. It gives the run an id that every
 * testPrefix() carries, and afterwards fails the run, naming them, when keys of this run are left
 * in the database REDIS_URL selects or in database 0 (where a test that forgets REDIS_URL lands),
 * or when new keys under the service's default prefix are left in the test database. Keys of other
 * runs (other checkouts sharing this Redis) are none of its business.
 */
const SHOWN = 10;

function testDb(): number {
  return Number(new URL(REDIS_URL).pathname.slice(1) || '0');
}

function patternsByDb(): Map<number, string[]> {
  const own = `${testRunPrefix()}*`;
  const db = testDb();
  const byDb = new Map<number, string[]>([[0, [own]]]);
  byDb.set(db, [own, `${DEFAULTS.redisKeyPrefix}:*`]);
  return byDb;
}

async function snapshot(): Promise<Map<number, Set<string>>> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await redis.connect();
    const found = new Map<number, Set<string>>();
    for (const [db, patterns] of patternsByDb()) {
      await redis.select(db);
      const keys = new Set<string>();
      for (const pattern of patterns) {
        let cursor = '0';
        do {
          const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
          cursor = next;
          for (const key of batch) keys.add(key);
        } while (cursor !== '0');
      }
      found.set(db, keys);
    }
    return found;
  } finally {
    redis.disconnect();
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  // Inherited by the test workers, which vitest forks after global setup.
  process.env[TEST_RUN_ENV] ??= randomUUID().slice(0, 8);
  const before = await snapshot();
  return async () => {
    const after = await snapshot();
    const leaks: string[] = [];
    for (const [db, keys] of after) {
      const known = before.get(db) ?? new Set<string>();
      const added = [...keys].filter((key) => !known.has(key));
      if (added.length > 0) {
        leaks.push(`database ${db}: ${added.length} key(s) left, e.g. ${added.slice(0, SHOWN).join(', ')}`);
      }
    }
    if (leaks.length > 0) {
      // vitest only logs an error thrown here and still exits 0: set the exit code as well.
      process.exitCode = 1;
      throw new Error(`the tests left Redis keys behind (each test deletes the keys it creates):\n${leaks.join('\n')}`);
    }
  };
}
