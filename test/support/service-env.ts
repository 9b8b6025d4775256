import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deletePrefix, REDIS_URL, testPrefix, testRedis } from './redis.js';

/**
 * The environment every whole-service test starts from: the test Redis under a key prefix of its
 * own, a fresh spool directory, loopback only, and one GLPI. Each test adds what it is about.
 */
export function serviceTestEnv(
  name: string,
  glpi: { url: string; userToken?: string },
): { prefix: string; spoolDir: string; env: Record<string, string>; removeState: () => Promise<void> } {
  const prefix = testPrefix(name);
  const spoolDir = mkdtempSync(join(tmpdir(), `cgb-${name}-`));
  return {
    prefix,
    spoolDir,
    env: {
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SPOOL_DIR: spoolDir,
      HOST: '127.0.0.1',
      GLPI_API_URL: glpi.url,
      GLPI_USER_TOKEN: glpi.userToken ?? 'admin-user-token',
    },
    /** Deletes what the test left: its Redis keys and its spool directory. */
    async removeState() {
      const redis = testRedis();
      try {
        await deletePrefix(redis, prefix);
      } finally {
        redis.disconnect();
        rmSync(spoolDir, { recursive: true, force: true });
      }
    },
  };
}
