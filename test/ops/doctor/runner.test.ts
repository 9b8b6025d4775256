import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { redisKeys } from '../../../src/redis/keys.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { writeBackKeys } from '../../../src/sync/chatwoot-account.js';
import { SYNC_QUEUE_NAME } from '../../../src/queue/job.js';
import type { DoctorCheck, DoctorReport } from '../../../src/ops/doctor/types.js';
import { startChatwootApi, type ChatwootApiDouble } from '../../support/chatwoot-api/index.js';
import { REDIS_URL, deletePrefix, testPrefix, testRedis } from '../../support/redis.js';

/**
 * Doctor checks that need no GLPI (configuration, Redis, URL shape, network, TLS, webhook auth,
 * Chatwoot token). The GLPI-side checks run against the simulator in glpi.test.ts.
 */

const prefix = testPrefix('doctor');
const SECRETS = ['glpi-user-token-secret-1', 'webhook-secret-value-1', 'chatwoot-admin-token', 'revoked-chatwoot-token'];
let chatwoot: ChatwootApiDouble;
let tlsServer: Server;
let tlsPort: number;

beforeAll(async () => {
  chatwoot = await startChatwootApi();
  const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
  tlsServer = createServer({ key: readFileSync(`${fixtures}self-signed.key`), cert: readFileSync(`${fixtures}self-signed.crt`) }, (_req, res) => {
    res.end('{}');
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsServer.address() as AddressInfo).port;
});

afterAll(async () => {
  await chatwoot.close();
  tlsServer.closeAllConnections();
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  const redis = testRedis();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

function baseEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    HOOK_ID: 'acme',
    // Nothing listens on port 9 (discard): connection refused at once.
    GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
    GLPI_USER_TOKEN: SECRETS[0],
    CHATWOOT_WEBHOOK_SECRET: SECRETS[1],
    GLPI_TIMEOUT_MS: '3000',
    ...overrides,
  };
}

async function doctor(env: Record<string, string | undefined>, extra: string[] = []): Promise<{ code: number; report: DoctorReport; text: string }> {
  const out: string[] = [];
  const code = await main(['doctor', '--json', ...extra], { env, out: (t) => void out.push(t), err: (t) => void out.push(t), redisTimeoutMs: 1_500 });
  const text = out.join('\n');
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  const human: string[] = [];
  await main(['doctor', ...extra], { env, out: (t) => void human.push(t), err: (t) => void human.push(t), redisTimeoutMs: 1_500 });
  for (const secret of SECRETS) expect(human.join('\n')).not.toContain(secret);
  return { code, report: JSON.parse(text) as DoctorReport, text: human.join('\n') };
}

function check(report: DoctorReport, id: string): DoctorCheck {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
}

describe('doctor: configuration, Redis and reachability', () => {
  it('fails "configuration valid" naming the missing variable, and checks nothing else', async () => {
    const { code, report, text } = await doctor(baseEnv({ GLPI_USER_TOKEN: undefined }));
    expect(code).toBe(1);
    expect(report.checks).toHaveLength(1);
    expect(check(report, 'config')).toMatchObject({ status: 'fail', code: 'CONFIG_INVALID' });
    expect(check(report, 'config').detail).toContain('GLPI_USER_TOKEN');
    expect(text).toMatch(/\[FAIL\] configuration valid: .*GLPI_USER_TOKEN/);
  });

  it('explains a GLPI_API_URL without /apirest.php with the URL to use', async () => {
    const { code, report } = await doctor(baseEnv({ GLPI_API_URL: 'https://glpi.example.com/glpi' }));
    expect(code).toBe(1);
    const config = check(report, 'config');
    expect(config.detail).toMatch(/does not end with \/apirest\.php/);
    expect(config.fix).toContain('https://glpi.example.com/glpi/apirest.php');
  });

  it('fails "spool directory writable" naming the directory when SPOOL_DIR cannot be created, and passes the default', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cgb-doctor-spool-')), 'a-file');
    writeFileSync(file, 'not a directory');
    const { code, report, text } = await doctor(baseEnv({ SPOOL_DIR: join(file, 'spool') }));
    expect(code).toBe(1);
    expect(check(report, 'spool')).toMatchObject({ status: 'fail', code: 'SPOOL_UNWRITABLE' });
    expect(check(report, 'spool').detail).toContain(file);
    expect(text).toMatch(/\[FAIL\] spool directory writable/);
    rmSync(dirname(file), { recursive: true, force: true });

    const fine = await doctor(baseEnv({ SPOOL_DIR: join(tmpdir(), `cgb-doctor-not-created-${process.pid}`, 'spool') }));
    expect(check(fine.report, 'spool').status).toBe('pass');
    expect(existsSync(join(tmpdir(), `cgb-doctor-not-created-${process.pid}`))).toBe(false); // doctor creates nothing
  });

  it('fails "Redis reachable" when Redis does not answer', async () => {
    const { code, report } = await doctor(baseEnv({ REDIS_URL: 'redis://127.0.0.1:1' }));
    expect(code).toBe(1);
    expect(check(report, 'redis')).toMatchObject({ status: 'fail', code: 'REDIS_UNAVAILABLE' });
    expect(check(report, 'redis').fix).toMatch(/REDIS_URL/);
  });

  it('refuses http:// to a remote GLPI (tokens in clear text)', async () => {
    const { code, report } = await doctor(baseEnv({ GLPI_API_URL: 'http://glpi.invalid/apirest.php', GLPI_TIMEOUT_MS: '1000' }));
    expect(code).toBe(1);
    expect(check(report, 'glpi.url')).toMatchObject({ status: 'fail', code: 'GLPI_URL_INSECURE' });
    expect(check(report, 'glpi.url').fix).toContain('https://glpi.invalid/apirest.php');
  });

  it('warns about a trailing slash and shows the URL to set', async () => {
    const { report } = await doctor(baseEnv({ GLPI_API_URL: 'http://127.0.0.1:9/apirest.php/' }));
    expect(check(report, 'glpi.url')).toMatchObject({ status: 'warn' });
    expect(check(report, 'glpi.url').detail).toMatch(/slash/);
  });

  it('fails "GLPI reachable" for a host where nothing listens, and skips what depends on it', async () => {
    const { code, report, text } = await doctor(baseEnv());
    expect(code).toBe(1);
    expect(check(report, 'redis').status).toBe('pass');
    expect(check(report, 'glpi.reachable')).toMatchObject({ status: 'fail', code: 'GLPI_NETWORK_ERROR' });
    expect(check(report, 'glpi.reachable').fix).toMatch(/GLPI_API_URL/);
    expect(check(report, 'glpi.user-token').status).toBe('skip');
    expect(check(report, 'glpi.entity').status).toBe('skip');
    expect(text).toMatch(/\[FAIL\] GLPI reachable.*\n\s+fix: /);
  });

  it('fails "GLPI reachable" with TLS advice for a certificate Node does not trust', async () => {
    const { report } = await doctor(baseEnv({ GLPI_API_URL: `https://127.0.0.1:${tlsPort}/apirest.php` }));
    expect(check(report, 'glpi.reachable')).toMatchObject({ status: 'fail', code: 'GLPI_TLS_ERROR' });
    expect(check(report, 'glpi.reachable').fix).toMatch(/NODE_EXTRA_CA_CERTS/);
  });

  it('fails the webhook check when the hook accepts unauthenticated webhooks', async () => {
    const { code, report } = await doctor(baseEnv({ CHATWOOT_WEBHOOK_SECRET: undefined, ALLOW_UNAUTHENTICATED: 'true' }));
    expect(code).toBe(1);
    expect(check(report, 'webhook.auth')).toMatchObject({ status: 'fail', code: 'WEBHOOK_UNAUTHENTICATED' });
    expect(check(report, 'webhook.auth').fix).toMatch(/CHATWOOT_WEBHOOK_SECRET/);
  });

  it('passes the webhook check with a URL token only', async () => {
    const { report } = await doctor(baseEnv({ CHATWOOT_WEBHOOK_SECRET: undefined, CHATWOOT_WEBHOOK_TOKEN: 'url-token-value-1' }));
    expect(check(report, 'webhook.auth')).toMatchObject({ status: 'pass', detail: 'a URL token' });
  });

  it('checks the Chatwoot API token when write-back is configured', async () => {
    const good = await doctor(baseEnv({ CHATWOOT_BASE_URL: chatwoot.url, CHATWOOT_API_TOKEN: 'chatwoot-admin-token' }));
    expect(check(good.report, 'chatwoot.api')).toMatchObject({ status: 'pass' });
    const bad = await doctor(baseEnv({ CHATWOOT_BASE_URL: chatwoot.url, CHATWOOT_API_TOKEN: 'revoked-chatwoot-token' }));
    expect(check(bad.report, 'chatwoot.api')).toMatchObject({ status: 'fail', code: 'CHATWOOT_UNAUTHORIZED' });
    expect(check(bad.report, 'chatwoot.api').fix).toMatch(/CHATWOOT_API_TOKEN/);
    const off = await doctor(baseEnv());
    expect(check(off.report, 'chatwoot.api')).toMatchObject({ status: 'pass' });
    expect(check(off.report, 'chatwoot.api').detail).toMatch(/no write-back/);
  });

  it('tells a write-back being made for a new ticket from one left queued by a stopped worker', async () => {
    const env = baseEnv({ CHATWOOT_BASE_URL: chatwoot.url, CHATWOOT_API_TOKEN: 'chatwoot-admin-token' });
    const redis = testRedis();
    const pendingKey = writeBackKeys(prefix).pending('acme');
    const entry = (conversationId: number, at: string) =>
      JSON.stringify({ accountId: 3, conversationId, ticketId: conversationId + 1000, code: 'WRITE_BACK_QUEUED', advice: 'queued', at });
    try {
      await redis.hset(pendingKey, '3:1', entry(1, new Date().toISOString()));
      expect(check((await doctor(env)).report, 'chatwoot.write-back')).toMatchObject({ status: 'pass', detail: 'none pending; 1 being written for new tickets' });

      await redis.hset(pendingKey, '3:2', entry(2, new Date(Date.now() - DEFAULTS.writeBack.queuedStaleAfterMs - 60_000).toISOString()));
      const stale = check((await doctor(env)).report, 'chatwoot.write-back');
      expect(stale).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^1 ticket link\(s\) not written.*conversation 2 ticket 1002 \(WRITE_BACK_QUEUED\)/) as unknown });

      // A garbled time, or one far ahead of this clock (skew, a forged entry), does not hide an entry.
      await redis.hdel(pendingKey, '3:2');
      await redis.hset(pendingKey, '3:3', entry(3, 'not a date'));
      expect(check((await doctor(env)).report, 'chatwoot.write-back')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/conversation 3 /) as unknown });
      await redis.hdel(pendingKey, '3:3');
      await redis.hset(pendingKey, '3:4', entry(4, new Date(Date.now() + DEFAULTS.writeBack.queuedClockSkewMaxMs + 60_000).toISOString()));
      expect(check((await doctor(env)).report, 'chatwoot.write-back')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/conversation 4 /) as unknown });

      // An entry nothing can deliver (not JSON; JSON of another shape) is named, not a failed read.
      await redis.hdel(pendingKey, '3:4');
      await redis.hset(pendingKey, '3:5', '{"conversationId":');
      await redis.hset(pendingKey, '3:6', JSON.stringify({ conversationId: '<script>', ticketId: -1 }));
      const unreadable = check((await doctor(env)).report, 'chatwoot.write-back');
      expect(unreadable).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^2 unreadable entries \(account:conversation 3:[56], 3:[56]\); 1 being written for new tickets$/) as unknown });
      expect(unreadable.detail).not.toMatch(/could not read|script/);
      expect(unreadable.fix).toBe("unreadable entries are dropped by a running worker's retry timer within a minute; if they stay, start a worker");

      // With a parked entry and another one being made (3:1 still is): all named, both fixes given.
      await redis.hset(pendingKey, '3:7', entry(7, new Date(Date.now() - DEFAULTS.writeBack.queuedStaleAfterMs - 60_000).toISOString()));
      await redis.hset(pendingKey, '3:8', entry(8, new Date().toISOString()));
      const mixed = check((await doctor(env)).report, 'chatwoot.write-back');
      expect(mixed.detail).toMatch(/^1 ticket link\(s\) not written to Chatwoot yet; last: conversation 7 ticket 1007 \(WRITE_BACK_QUEUED\); 2 unreadable entries \(account:conversation 3:[56], 3:[56]\); 2 being written for new tickets$/);
      expect(mixed.fix).toBe("queued; unreadable entries are dropped by a running worker's retry timer within a minute; if they stay, start a worker");
    } finally {
      await redis.del(pendingKey);
      redis.disconnect();
    }
  });

  it('checks that the Chatwoot token can post answers and change status when GLPI_TO_CHATWOOT is on', async () => {
    const on = { CHATWOOT_BASE_URL: chatwoot.url, CHATWOOT_API_TOKEN: 'chatwoot-admin-token', GLPI_TO_CHATWOOT: 'true' };
    const good = await doctor(baseEnv(on));
    expect(check(good.report, 'chatwoot.glpi-to-chatwoot')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/administrator of account 3/) });
    const off = await doctor(baseEnv({ ...on, GLPI_TO_CHATWOOT: undefined }));
    expect(off.report.checks.some((c) => c.id === 'chatwoot.glpi-to-chatwoot')).toBe(false);
    const multi = await startChatwootApi({
      tokens: { 'two-accounts-token': { id: 9, name: 'bridge', accounts: [{ id: 1, role: 'administrator' }, { id: 2, role: 'administrator' }] } },
    });
    try {
      const two = await doctor(baseEnv({ ...on, CHATWOOT_BASE_URL: multi.url, CHATWOOT_API_TOKEN: 'two-accounts-token' }));
      expect(check(two.report, 'chatwoot.glpi-to-chatwoot')).toMatchObject({ status: 'fail', code: 'CHATWOOT_ACCOUNT_UNKNOWN' });
      // CHATWOOT_ACCOUNT_ID names the hook's account among them; an account the token is not in fails.
      const chosen = await doctor(baseEnv({ ...on, CHATWOOT_BASE_URL: multi.url, CHATWOOT_API_TOKEN: 'two-accounts-token', CHATWOOT_ACCOUNT_ID: '2' }));
      expect(check(chosen.report, 'chatwoot.glpi-to-chatwoot')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/administrator of account 2/) });
      const foreign = await doctor(baseEnv({ ...on, CHATWOOT_BASE_URL: multi.url, CHATWOOT_API_TOKEN: 'two-accounts-token', CHATWOOT_ACCOUNT_ID: '7' }));
      expect(check(foreign.report, 'chatwoot.glpi-to-chatwoot')).toMatchObject({ status: 'fail', code: 'CHATWOOT_ACCOUNT_UNKNOWN' });
    } finally {
      await multi.close();
    }
  });

  it('warns when no worker consumes the queue', async () => {
    const { report } = await doctor(baseEnv());
    expect(check(report, 'queue.worker')).toMatchObject({ status: 'warn' });
    expect(check(report, 'queue.worker').fix).toMatch(/ROLE=worker/);
  });

  it('counts only the workers of its own database: a worker of the same prefix in another database is none', async () => {
    const url = new URL(REDIS_URL);
    const ownDb = Number(url.pathname.slice(1) || '0');
    url.pathname = `/${ownDb === 15 ? 14 : 15}`;
    const connection = new Redis(url.toString(), { maxRetriesPerRequest: null });
    const elsewhere = new Worker(SYNC_QUEUE_NAME, null, { connection, prefix: redisKeys(prefix).bullPrefix, autorun: false });
    try {
      await elsewhere.waitUntilReady();
      const { report } = await doctor(baseEnv());
      expect(check(report, 'queue.worker')).toMatchObject({ status: 'warn' });

      const hereConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const here = new Worker(SYNC_QUEUE_NAME, null, { connection: hereConnection, prefix: redisKeys(prefix).bullPrefix, autorun: false });
      try {
        await here.waitUntilReady();
        const withOwn = await doctor(baseEnv());
        expect(check(withOwn.report, 'queue.worker')).toMatchObject({ status: 'pass', detail: '1 worker connection(s)' });
      } finally {
        await here.close();
        hereConnection.disconnect();
      }
    } finally {
      await elsewhere.close();
      await deletePrefix(connection, prefix);
      connection.disconnect();
    }
  });

  it('fails for an unknown --hook', async () => {
    const { code, report } = await doctor(baseEnv(), ['--hook', 'nope']);
    expect(code).toBe(1);
    expect(check(report, 'hook')).toMatchObject({ status: 'fail' });
    expect(check(report, 'hook').fix).toContain('acme');
  });
});
