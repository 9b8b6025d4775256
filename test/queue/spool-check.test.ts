import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';
import { startRuntime } from '../../src/runtime.js';
import { REDIS_URL, deletePrefix, testPrefix, testRedis } from '../support/redis.js';

/**
 * With an unwritable SPOOL_DIR and Redis down, a webhook got 500 and was lost: the receiver now
 * refuses to start, naming the directory.
 */
describe('the receiver checks its spool directory at start', () => {
  const parent = mkdtempSync(join(tmpdir(), 'cgb-spool-check-'));
  const prefix = testPrefix('spoolcheck');
  afterAll(async () => {
    rmSync(parent, { recursive: true, force: true });
    const redis = testRedis();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  function config(spoolDir: string, role: 'all' | 'api' | 'worker') {
    return loadConfig({
      ROLE: role,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SPOOL_DIR: spoolDir,
      HOOK_ID: 'acme',
      GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
      GLPI_USER_TOKEN: 'spool-check-token',
      CHATWOOT_WEBHOOK_SECRET: 'spool-check-secret',
    });
  }

  it.each(['all', 'api'] as const)('ROLE=%s refuses to start with a SPOOL_DIR it cannot create, naming it, before touching Redis', async (role) => {
    const file = join(parent, `file-${role}`);
    writeFileSync(file, 'a file where the spool directory would go');
    const cfg = config(join(file, 'spool'), role);
    const started = startRuntime(cfg, pino({ level: 'silent' }), { port: 0 });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(`SPOOL_DIR: ${join(file, 'spool')} cannot be written (ENOTDIR)`);
    const redis = testRedis();
    const [, keys] = await redis.scan('0', 'MATCH', `${cfg.redisKeyPrefix}:*`, 'COUNT', 1_000);
    redis.disconnect();
    expect(keys).toEqual([]);
  });

  it('creates a missing spool directory and leaves no probe file in it', async () => {
    const dir = join(parent, 'fresh', 'spool');
    const runtime = await startRuntime(config(dir, 'api'), pino({ level: 'silent' }), { port: 0 });
    await runtime.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});
