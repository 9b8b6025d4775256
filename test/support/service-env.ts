import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_URL, testPrefix } from './redis.js';

/**
 * The environment every whole-service test starts from: the test Redis under a key prefix of its
 * own, a fresh spool directory, loopback only, and one GLPI. Each test adds what it is about.
 */
export function serviceTestEnv(name: string, glpi: { url: string; userToken?: string }): { prefix: string; spoolDir: string; env: Record<string, string> } {
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
  };
}
