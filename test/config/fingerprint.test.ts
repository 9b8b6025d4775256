import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { configFingerprint } from '../../src/config/fingerprint.js';
import { loadConfig } from '../../src/config/load.js';
import type { DoctorReport } from '../../src/ops/doctor/types.js';
import { redisKeys } from '../../src/redis/keys.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { REDIS_URL, deletePrefix, testPrefix, testRedis } from '../support/redis.js';

/**
 * `doctor` read the fixed `.env` and passed while the running service still used the old token;
 * `replay` then failed again. The service publishes a fingerprint; both now say "restart".
 */
const prefix = testPrefix('fingerprint');
// A token a hostile or careless operator might paste: quotes, braces, a newline.
const OLD_TOKEN = 'old-token-"}\n{"x":1';
const NEW_TOKEN = 'new-token-after-the-fix';
const spoolDir = mkdtempSync(join(tmpdir(), 'cgb-fingerprint-'));

function env(token: string, role = 'api'): Record<string, string> {
  return {
    ROLE: role,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SPOOL_DIR: spoolDir,
    HOOK_ID: 'acme',
    GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
    GLPI_USER_TOKEN: token,
    GLPI_TIMEOUT_MS: '1000',
    CHATWOOT_WEBHOOK_SECRET: 'fingerprint-webhook-secret',
  };
}

async function runCli(argv: string[], vars: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { env: vars, out: (t) => void out.push(t), err: (t) => void err.push(t), redisTimeoutMs: 3_000 });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('configuration fingerprint', () => {
  let runtime: Runtime | undefined;
  beforeAll(async () => {
    runtime = await startRuntime(loadConfig(env(OLD_TOKEN)), pino({ level: 'silent' }), { port: 0 });
  });
  afterAll(async () => {
    await runtime?.close();
    const redis = testRedis();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('changes with a secret, not with per-process settings, and reveals no value', async () => {
    expect(configFingerprint(loadConfig(env(OLD_TOKEN)))).not.toBe(configFingerprint(loadConfig(env(NEW_TOKEN))));
    expect(configFingerprint(loadConfig(env(OLD_TOKEN, 'api')))).toBe(configFingerprint(loadConfig({ ...env(OLD_TOKEN, 'worker'), PORT: '4000', LOG_LEVEL: 'debug' })));
    const redis = testRedis();
    const published = JSON.stringify(await redis.hgetall(redisKeys(prefix).configFingerprint));
    redis.disconnect();
    expect(published).toContain(configFingerprint(loadConfig(env(OLD_TOKEN))));
    expect(published).not.toContain('old-token');
    expect(published).not.toContain('fingerprint-webhook-secret');
  });

  it('doctor passes the check with the running configuration and says "restart the service" with a changed one', async () => {
    const same = JSON.parse((await runCli(['doctor', '--json'], env(OLD_TOKEN))).out) as DoctorReport;
    expect(same.checks.find((c) => c.id === 'config.running')).toMatchObject({ status: 'pass' });

    const fixed = await runCli(['doctor', '--json'], env(NEW_TOKEN));
    const report = JSON.parse(fixed.out) as DoctorReport;
    expect(report.checks.find((c) => c.id === 'config.running')).toMatchObject({ status: 'fail', code: 'CONFIG_NOT_APPLIED' });
    expect(report.checks.find((c) => c.id === 'config.running')?.fix).toMatch(/ROLE=api .*restart the service/);
    expect(fixed.code).toBe(1);
    expect(fixed.out).not.toContain(NEW_TOKEN);
    expect(fixed.out).not.toContain('old-token');
  });

  it('replay warns "restart the service" when its configuration differs from the running one', async () => {
    const fixed = await runCli(['replay', '--all'], env(NEW_TOKEN));
    expect(fixed.code).toBe(0);
    expect(fixed.err).toMatch(/restart the service/);
    const same = await runCli(['replay', '--all'], env(OLD_TOKEN));
    expect(same.err).not.toMatch(/restart/);
  });
});
