import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '../support/fixtures.js';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { waitFor } from '../support/redis.js';
import { RedisChild, signedHeaders, startBridgeProcess, type BridgeProcess } from './support.js';

/**
 * No configured token or secret, and no Chatwoot pubsub_token from a payload, may appear in a
 * log line or an HTTP answer. The whole service runs as a child process (every byte it prints is
 * captured) through a run full of errors: bad signatures, wrong URL and admin tokens, malformed
 * bodies, Redis killed and restarted, GLPI failing (5xx, PHP fatal, expired sessions) and the
 * Chatwoot API refusing write-backs. GLPI session tokens handed out during the run count too.
 */

const SECRETS = {
  webhookSecret: 'whsec-Q7m2Lx9Pv4Tz8Kc3',
  oldWebhookSecret: 'whsec-old-R5n8Wd2Hy6Jb',
  urlToken: 'urltok-Fh3Ks8Mq1Zx7Vb',
  glpiUserToken: 'glpiuser-N4c9Gt2Lw7Pr5Xs',
  glpiAppToken: 'glpiapp-B8v3Kd6Qm1Yh4Tj',
  chatwootApiToken: 'cwapi-T2x7Pm5Rk9Ls3Qd',
  adminToken: 'admin-W6j1Zc8Hn3Vf5Kb',
  redisPassword: 'redispw-M9q4Xt7Bd2Gs6Ln',
  pubsubToken: 'pubsub-Y3h8Rv1Nk6Wc9Pz',
} as const;

/** Stands in for the Chatwoot API: every write-back fails. */
function failingChatwoot(): Promise<{ server: Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    calls += 1;
    req.resume();
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"error":"internal"}');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}`, calls: () => calls });
    });
  });
}

function messageBody(id: number): string {
  const payload = loadFixture<Record<string, unknown> & { conversation: { contact_inbox: Record<string, unknown> } }>('message_created.incoming');
  payload.id = id;
  payload.conversation.contact_inbox.pubsub_token = SECRETS.pubsubToken;
  return JSON.stringify(payload);
}

describe('secrets never leave the process', () => {
  let redis: RedisChild;
  let upstream: Awaited<ReturnType<typeof failingChatwoot>>;
  let sim: GlpiSimulator;
  let bridge: BridgeProcess | undefined;
  let spoolDir: string;
  const answers: string[] = [];

  beforeAll(async () => {
    redis = await RedisChild.start({ password: SECRETS.redisPassword });
    upstream = await failingChatwoot();
    sim = await startGlpiSimulator({
      appToken: SECRETS.glpiAppToken,
      userTokens: { [SECRETS.glpiUserToken]: { userId: 2, profile: 'super-admin' } },
    });
    spoolDir = mkdtempSync(join(tmpdir(), 'cgb-secrets-spool-'));
    bridge = await startBridgeProcess({
      ROLE: 'all',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'cgbsecrets',
      SPOOL_DIR: spoolDir,
      WORKER_CONCURRENCY: '2',
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url,
      GLPI_USER_TOKEN: SECRETS.glpiUserToken,
      GLPI_APP_TOKEN: SECRETS.glpiAppToken,
      CHATWOOT_WEBHOOK_SECRET: `${SECRETS.webhookSecret},${SECRETS.oldWebhookSecret}`,
      CHATWOOT_WEBHOOK_TOKEN: SECRETS.urlToken,
      CHATWOOT_BASE_URL: upstream.url,
      CHATWOOT_API_TOKEN: SECRETS.chatwootApiToken,
      ADMIN_TOKEN: SECRETS.adminToken,
    });
  });

  afterAll(async () => {
    await bridge?.kill();
    await redis?.stop();
    await new Promise((resolve) => upstream?.server.close(resolve));
    await sim?.close();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  const logLines = () => bridge?.lines ?? [];
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${bridge?.url}${path}`, init);
    const text = await res.text();
    answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
    return { status: res.status, text };
  };
  const post = (path: string, body: string, headers: Record<string, string>) => call(path, { method: 'POST', body, headers });
  /** Chatwoot deliveries the bridge took (queued or spooled), from its metrics. */
  const acceptedDeliveries = async () => {
    const { text } = await call('/metrics', { headers: { authorization: `Bearer ${SECRETS.adminToken}` } });
    return text
      .split('\n')
      .filter((l) => l.startsWith('cgb_webhooks_total{') && l.includes('hook="acme"') && /outcome="(queued|spooled)"/.test(l))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  it('keeps every secret out of logs and answers through a run full of errors', async () => {
    const hook = '/webhooks/chatwoot/acme';
    let id = 8_100_000;
    const signed = (secret: string = SECRETS.webhookSecret) => {
      const body = messageBody((id += 1));
      return post(hook, body, signedHeaders(secret, body));
    };

    // Accepted deliveries, signed with either rotated secret, and by URL token (older Chatwoot).
    expect((await signed()).status).toBe(202);
    expect((await signed(SECRETS.oldWebhookSecret)).status).toBe(202);
    const byToken = messageBody((id += 1));
    expect((await post(`${hook}?token=${SECRETS.urlToken}`, byToken, { 'content-type': 'application/json' })).status).toBe(202);

    // Refused: wrong secret, stale, no signature, wrong URL token, unknown hook carrying the token.
    expect((await signed('not-the-secret')).status).toBe(401);
    const stale = messageBody((id += 1));
    expect((await post(hook, stale, signedHeaders(SECRETS.webhookSecret, stale, undefined, Date.now() - 3_600_000))).status).toBe(401);
    expect((await post(hook, stale, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post(`${hook}?token=${SECRETS.urlToken}x`, stale, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post(`/webhooks/chatwoot/other?token=${SECRETS.urlToken}`, stale, { 'content-type': 'application/json' })).status).toBe(404);

    // Malformed bodies that carry the pubsub token, signed so they reach the parser.
    // (V8's JSON error quotes ~10 characters either side of the error: an unquoted token is cut.)
    const malformed = [
      messageBody((id += 1)).replace(`"${SECRETS.pubsubToken}"`, SECRETS.pubsubToken),
      messageBody((id += 1)).slice(0, 900),
      messageBody((id += 1)).replace('"status":"open"', '"status":7'),
      messageBody((id += 1)).replace('"pubsub_token"', '"pubsub_token" '),
    ];
    for (const body of malformed) {
      const res = await post(hook, body, signedHeaders(SECRETS.webhookSecret, body));
      expect([202, 400]).toContain(res.status);
    }
    // Oversized (over BODY_LIMIT_BYTES) with the token in it.
    const huge = messageBody((id += 1)).replace('"content":"', `"content":"${SECRETS.pubsubToken.repeat(80_000)}`);
    // The bridge answers 413 from the Content-Length and may close the connection while the 2 MB
    // are still being written: the client then sees EPIPE/ECONNRESET instead of the answer (status
    // 0 here). A crash closes the connection too, so then the bridge must still answer /health and
    // have accepted nothing; any answer that did arrive is a 413 (and is checked for secrets).
    const acceptedBefore = await acceptedDeliveries();
    expect(acceptedBefore).toBeGreaterThanOrEqual(3); // the three accepted above: the count is read right
    const oversized = await post(hook, huge, signedHeaders(SECRETS.webhookSecret, huge)).catch((err: unknown) => {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'EPIPE' || code === 'ECONNRESET') return { status: 0, text: '' };
      throw err;
    });
    expect([413, 0]).toContain(oversized.status);
    if (oversized.status === 0) {
      expect((await call('/health')).status).toBe(200);
      expect(await acceptedDeliveries()).toBe(acceptedBefore);
    }

    // Admin and metrics with wrong and right tokens (Bearer and query), health and readiness.
    await call('/admin/status', { headers: { authorization: 'Bearer wrong-admin-token' } });
    await call('/admin/status', { headers: { authorization: `Bearer ${SECRETS.adminToken}` } });
    await call(`/admin/failed?token=${SECRETS.adminToken}`);
    await call(`/metrics?token=${SECRETS.adminToken}`);
    await call('/metrics');
    await call('/ready');
    await call('/health');

    // Redis dies: accepted webhooks go to the spool, /ready says why; then Redis returns.
    await redis.kill();
    expect((await signed()).status).toBe(202);
    expect((await signed()).status).toBe(202);
    expect((await call('/ready')).status).toBe(503);
    await call(`/admin/status`, { headers: { authorization: `Bearer ${SECRETS.adminToken}` } });
    await redis.start();
    await waitFor(() => (readdirSync(spoolDir).some((f) => f.endsWith('.json')) ? undefined : true), 'the spool to drain', 600, 100);
    expect((await call('/ready')).status).toBe(200);

    // The worker syncs (a GLPI session is opened: its token is a secret too), then GLPI fails in
    // every way the simulator knows while more events arrive.
    await waitFor(() => (sim.state.followups.length + sim.state.tickets.length > 0 ? true : undefined), 'the worker to reach GLPI', 600, 50);
    const sessionTokens = new Set(sim.state.sessions);
    sim.failNext({ kind: 'php-fatal' }, 2);
    expect((await signed()).status).toBe(202);
    sim.expireSessions();
    sim.failNext({ kind: 'status', status: 500 }, 3);
    expect((await signed()).status).toBe(202);
    sim.failNext({ kind: 'empty200' }, 1);
    expect((await signed()).status).toBe(202);
    await waitFor(() => (logLines().some((l) => l.includes('will be retried')) ? true : undefined), 'a GLPI error to be logged', 600, 50);
    sim.setRight('super-admin', 'ITILFollowup', 'create', false);
    expect((await signed()).status).toBe(202);
    await waitFor(() => (logLines().some((l) => l.includes('failed permanently')) ? true : undefined), 'a permanent GLPI error to be logged', 600, 50);
    sim.setRight('super-admin', 'ITILFollowup', 'create', true);
    for (const token of sim.state.sessions) sessionTokens.add(token);
    await waitFor(() => (upstream.calls() > 0 ? true : undefined), 'a write-back attempt to Chatwoot', 600, 50);
    await bridge?.stop();

    const output = bridge?.lines ?? [];
    expect(sessionTokens.size).toBeGreaterThan(0);
    const secrets: [string, string][] = [...Object.entries(SECRETS), ...[...sessionTokens].map((t, i): [string, string] => [`GLPI session token ${i}`, t])];
    // The run really went through the error paths it claims to cover.
    expect(output.some((l) => l.includes('authentication failed'))).toBe(true);
    expect(output.some((l) => l.includes('spool'))).toBe(true);
    expect(answers.length).toBeGreaterThan(15);

    const leaks: string[] = [];
    for (const [name, secret] of secrets) {
      for (const line of output) if (line.includes(secret)) leaks.push(`log line leaks ${name}: ${line.slice(0, 300)}`);
      for (const answer of answers) if (answer.includes(secret)) leaks.push(`answer leaks ${name}: ${answer.slice(0, 300)}`);
    }
    expect(leaks).toEqual([]);
  });
});
