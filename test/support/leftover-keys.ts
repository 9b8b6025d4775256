import { Redis } from 'ioredis';
import { DEFAULTS } from '../../src/config/defaults.js';
import { REDIS_URL } from './redis.js';

/**
 * vitest globalSetup: `npm test` must leave Redis as it found it. Before the run it notes every key
 * under the test prefixes (`cgbtest-*`, see testPrefix) and the service's default prefix, in the
 * database REDIS_URL selects and in database 0 (where a test that forgets REDIS_URL lands); after
 * the run any key that was not there before fails the run, named.
 */
const PATTERNS = ['cgbtest-*', `${DEFAULTS.redisKeyPrefix}:*`];
const SHOWN = 10;

function databases(): number[] {
  const db = Number(new URL(REDIS_URL).pathname.slice(1) || '0');
  return db === 0 ? [0] : [0, db];
}

async function snapshot(): Promise<Map<number, Set<string>>> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await redis.connect();
    const found = new Map<number, Set<string>>();
    for (const db of databases()) {
      await redis.select(db);
      const keys = new Set<string>();
      for (const pattern of PATTERNS) {
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
