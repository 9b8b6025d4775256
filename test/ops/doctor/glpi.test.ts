import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { DoctorCheck, DoctorReport } from '../../../src/ops/doctor/types.js';
import { SIM_GLPI_VERSIONS, startGlpiSimulator, type GlpiSimulator } from '../../support/glpi-simulator/index.js';
import { REDIS_URL, deletePrefix, testPrefix, testRedis } from '../../support/redis.js';

/** Doctor's GLPI checks, each made to fail through one of the simulator's fault modes. */

const APP_TOKEN = 'sim-app-token-0123456789abcdef';
const prefix = testPrefix('doctorglpi');

describe('doctor against the GLPI simulator', () => {
  let sim: GlpiSimulator;
  let simWithAppToken: GlpiSimulator;

  beforeAll(async () => {
    sim = await startGlpiSimulator();
    simWithAppToken = await startGlpiSimulator({ appToken: APP_TOKEN });
  });
  afterAll(async () => {
    await sim.close();
    await simWithAppToken.close();
    const redis = testRedis();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });
  afterEach(() => {
    sim.setApiEnabled(true);
    sim.setIpAllowed(true);
    sim.clearFaults();
  });

  function env(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url,
      GLPI_USER_TOKEN: 'admin-user-token',
      CHATWOOT_WEBHOOK_SECRET: 'webhook-secret-value-1',
      GLPI_TIMEOUT_MS: '5000',
      ...overrides,
    };
  }

  async function doctor(vars: Record<string, string | undefined>): Promise<{ code: number; report: DoctorReport }> {
    const out: string[] = [];
    const code = await main(['doctor', '--json'], { env: vars, out: (t) => void out.push(t), err: (t) => void out.push(t), redisTimeoutMs: 2_000 });
    const text = out.join('\n');
    for (const secret of ['admin-user-token', 'selfservice-user-token', APP_TOKEN, 'webhook-secret-value-1']) expect(text).not.toContain(secret);
    return { code, report: JSON.parse(text) as DoctorReport };
  }

  function check(report: DoctorReport, id: string): DoctorCheck {
    const found = report.checks.find((c) => c.id === id);
    if (!found) throw new Error(`no check ${id}`);
    return found;
  }

  it('passes every GLPI check for a super-admin token, and leaves no session open', async () => {
    const { report } = await doctor(env());
    const glpi = report.checks.filter((c) => c.id.startsWith('glpi.'));
    expect(glpi.filter((c) => c.status === 'fail' || c.status === 'skip')).toEqual([]);
    expect(check(report, 'glpi.rights.itilfollowups').status).toBe('pass');
    expect(sim.state.sessions).toEqual([]);
    // Nothing was created to probe rights.
    expect(sim.count('POST')).toBe(0);
  });

  it('reads the active profile once for the rights and the privilege checks', async () => {
    sim.resetCalls();
    const { report } = await doctor(env());
    expect(check(report, 'glpi.privileges').status).not.toBe('skip');
    expect(sim.count('GET', '/getActiveProfile')).toBe(1);
  });

  it('warns when the user token is a super-admin\'s, and not for a profile without those rights', async () => {
    const admin = check((await doctor(env())).report, 'glpi.privileges');
    expect(admin).toMatchObject({ status: 'warn', code: 'GLPI_TOKEN_SUPER_ADMIN' });
    expect(admin.detail).toMatch(/Super-Admin.*configuration/);
    // Self-Service cannot update the configuration; it cannot read profiles either, which the
    // default binding policy needs.
    const selfService = check((await doctor(env({ GLPI_USER_TOKEN: 'selfservice-user-token' }))).report, 'glpi.privileges');
    expect(selfService).toMatchObject({ status: 'warn', code: 'GLPI_PROFILES_UNREADABLE' });
    const createdOnly = check((await doctor(env({ GLPI_USER_TOKEN: 'selfservice-user-token', CUSTOMER_BINDING: 'created-only' }))).report, 'glpi.privileges');
    expect(createdOnly.status).toBe('pass');
  });

  it('exits 0 when every check passes', async () => {
    const { code, report } = await doctor(env());
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
  });

  it('fails "GLPI REST API enabled" when the API is disabled', async () => {
    sim.setApiEnabled(false);
    const { code, report } = await doctor(env());
    expect(code).toBe(1);
    expect(check(report, 'glpi.reachable').status).toBe('pass');
    expect(check(report, 'glpi.api-enabled')).toMatchObject({ status: 'fail', code: 'GLPI_API_DISABLED' });
    expect(check(report, 'glpi.api-enabled').fix).toMatch(/Enable Rest API/);
    expect(check(report, 'glpi.user-token').status).toBe('skip');
  });

  it("fails the API client check when GLPI refuses the bridge's address", async () => {
    sim.setIpAllowed(false);
    const { report } = await doctor(env());
    expect(check(report, 'glpi.api-client')).toMatchObject({ status: 'fail', code: 'ERROR_NOT_ALLOWED_IP' });
    expect(check(report, 'glpi.api-client').fix).toMatch(/API client/);
  });

  it('fails "GLPI app token valid" when the token is missing or wrong', async () => {
    const missing = await doctor(env({ GLPI_API_URL: simWithAppToken.url }));
    expect(check(missing.report, 'glpi.app-token')).toMatchObject({ status: 'fail', code: 'ERROR_APP_TOKEN_PARAMETERS_MISSING' });
    const wrong = await doctor(env({ GLPI_API_URL: simWithAppToken.url, GLPI_APP_TOKEN: 'not-the-app-token' }));
    expect(check(wrong.report, 'glpi.app-token')).toMatchObject({ status: 'fail', code: 'ERROR_WRONG_APP_TOKEN_PARAMETER' });
    expect(check(wrong.report, 'glpi.app-token').fix).toMatch(/GLPI_APP_TOKEN/);
    const right = await doctor(env({ GLPI_API_URL: simWithAppToken.url, GLPI_APP_TOKEN: APP_TOKEN }));
    expect(check(right.report, 'glpi.app-token').status).toBe('pass');
  });

  it('fails "GLPI user token valid" for a token GLPI does not know', async () => {
    const { report } = await doctor(env({ GLPI_USER_TOKEN: 'unknown-user-token' }));
    expect(check(report, 'glpi.app-token').status).toBe('pass');
    expect(check(report, 'glpi.user-token')).toMatchObject({ status: 'fail', code: 'ERROR_GLPI_LOGIN_USER_TOKEN' });
    expect(check(report, 'glpi.user-token').fix).toMatch(/GLPI_USER_TOKEN/);
  });

  it('fails the rights checks for a self-service profile, naming the missing rights', async () => {
    const { code, report } = await doctor(env({ GLPI_USER_TOKEN: 'selfservice-user-token' }));
    expect(code).toBe(1);
    const users = check(report, 'glpi.rights.users');
    expect(users).toMatchObject({ status: 'fail', code: 'GLPI_RIGHT_MISSING' });
    expect(users.detail).toMatch(/read, create, update/);
    expect(check(report, 'glpi.rights.tickets').detail).toMatch(/update/);
    expect(check(report, 'glpi.rights.itilfollowups').detail).toMatch(/add \(all tickets\)/);
  });

  it('fails one rights line when one right is taken away, and passes again when it is granted', async () => {
    sim.setRight('super-admin', 'ITILFollowup', 'create', false);
    try {
      const { report } = await doctor(env());
      expect(check(report, 'glpi.rights.itilfollowups')).toMatchObject({ status: 'fail' });
      expect(check(report, 'glpi.rights.tickets').status).toBe('pass');
    } finally {
      sim.setRight('super-admin', 'ITILFollowup', 'create', true);
    }
    sim.setRight('super-admin', 'Contact', 'create', false);
    try {
      const { report } = await doctor(env({ GLPI_SYNC_TYPE: 'contact' }));
      expect(check(report, 'glpi.rights.contacts')).toMatchObject({ status: 'fail' });
      expect(check(report, 'glpi.rights.contacts').detail).toMatch(/create/);
    } finally {
      sim.setRight('super-admin', 'Contact', 'create', true);
    }
    expect(check((await doctor(env())).report, 'glpi.rights.itilfollowups').status).toBe('pass');
  });

  it('fails "entity visible" for an entity the user does not see', async () => {
    const { report } = await doctor(env({ GLPI_ENTITY_ID: '4242' }));
    expect(check(report, 'glpi.entity')).toMatchObject({ status: 'fail', code: 'GLPI_ENTITY_NOT_VISIBLE' });
    expect(check(report, 'glpi.entity').detail).toMatch(/Root entity/);
  });

  it('fails the category and default-user checks for ids GLPI does not have', async () => {
    const { report } = await doctor(env({ GLPI_CATEGORY_ID: '4242', GLPI_DEFAULT_USER_ID: '4243' }));
    expect(check(report, 'glpi.category')).toMatchObject({ status: 'fail' });
    expect(check(report, 'glpi.category').fix).toMatch(/GLPI_CATEGORY_ID/);
    expect(check(report, 'glpi.default-user')).toMatchObject({ status: 'fail' });
    expect(check(report, 'glpi.default-user').fix).toMatch(/GLPI_DEFAULT_USER_ID/);
    const ok = await doctor(env({ GLPI_DEFAULT_USER_ID: '2' }));
    expect(check(ok.report, 'glpi.default-user').status).toBe('pass');
  });

  it('fails "GLPI reachable" when GLPI answers a fatal PHP error (empty 200)', async () => {
    sim.failNext({ kind: 'empty200' }, 1);
    const { report } = await doctor(env());
    expect(check(report, 'glpi.reachable')).toMatchObject({ status: 'fail', code: 'GLPI_EMPTY_RESPONSE' });
    expect(check(report, 'glpi.reachable').fix).toMatch(/php-errors\.log/);
  });
});

describe.each(SIM_GLPI_VERSIONS)('doctor against the simulator behaving like GLPI %s', (version) => {
  let sim: GlpiSimulator;
  const versionPrefix = testPrefix('doctorversion');

  beforeAll(async () => {
    sim = await startGlpiSimulator({ version });
  });
  afterAll(async () => {
    await sim.close();
    const redis = testRedis();
    await deletePrefix(redis, versionPrefix);
    redis.disconnect();
  });

  it('exits 0, names the version and says how text is handled on it', async () => {
    const out: string[] = [];
    const env = {
      REDIS_URL,
      REDIS_KEY_PREFIX: versionPrefix,
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url.replace(/\/$/, ''),
      GLPI_USER_TOKEN: 'admin-user-token',
      CHATWOOT_WEBHOOK_SECRET: 'webhook-secret-value-1',
    };
    const code = await main(['doctor', '--json'], { env, out: (t) => void out.push(t), err: (t) => void out.push(t), redisTimeoutMs: 2_000 });
    const report = JSON.parse(out.join('\n')) as DoctorReport;
    // glpi.privileges warns by design here: the simulator's admin token is a super-admin's.
    expect(report.checks.filter((c) => c.id.startsWith('glpi.') && c.id !== 'glpi.privileges' && c.status !== 'pass')).toEqual([]);
    const checked = report.checks.find((c) => c.id === 'glpi.version');
    expect(checked?.detail).toContain(`GLPI ${version}:`);
    expect(checked?.detail).toMatch(version.startsWith('11.') ? /stores text as written/ : /HTML-encoded/);
    expect(sim.state.sessions).toEqual([]);
    // The worker check may warn (no worker runs here) but fails nothing.
    expect(code).toBe(0);
  });
});
