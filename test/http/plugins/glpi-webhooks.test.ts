import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signGlpiWebhook, verifyGlpiWebhook } from '../../../src/glpi/webhook-signature.js';
import { GLPI_POLL_EVENT } from '../../../src/sync/glpi-to-chatwoot/poller.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { glpiSignedHeaders } from '../../support/signed-webhook.js';

const SECRET = 'glpi-webhook-secret-0123456789';
const NOW_S = 1_796_126_478;

/** The body GLPI 11.0.8 sent for a followup (pretty-printed, `\/` escaped, no trailing newline). */
const BODY = `{
    "item": {
        "id": 16,
        "itemtype": "Ticket",
        "items_id": 3,
        "content": "<p>Webhook test 1 &amp; \\"quotes\\"<\\/p>",
        "is_private": false,
        "date_mod": "2026-12-01T12:01:18+00:00",
        "user": {
            "id": 4,
            "name": "tech"
        }
    },
    "event": "new"
}`;

describe('GLPI webhook signature (observed recipe, GLPI 11.0.8)', () => {
  it('signs the raw body followed by the timestamp (hex HMAC-SHA256), accepts rotated secrets, refuses other orders', () => {
    const expected = createHmac('sha256', SECRET).update(`${BODY}${NOW_S}`).digest('hex');
    expect(signGlpiWebhook(SECRET, BODY, NOW_S)).toBe(expected);
    const verify = (signature: string, secrets = [SECRET]) =>
      verifyGlpiWebhook({ rawBody: Buffer.from(BODY), signature, timestamp: String(NOW_S), secrets, toleranceS: 86_400, nowMs: NOW_S * 1000 + 5 * 60_000 });
    expect(verify(expected)).toEqual({ ok: true });
    expect(verify(expected, ['new-secret-value-xxxxxx', SECRET])).toEqual({ ok: true });
    // Other orders GLPI does not use are refused.
    expect(verify(createHmac('sha256', SECRET).update(`${NOW_S}${BODY}`).digest('hex'))).toEqual({ ok: false, reason: 'mismatch' });
    expect(verify(createHmac('sha256', SECRET).update(JSON.stringify(JSON.parse(BODY)) + NOW_S).digest('hex'))).toEqual({ ok: false, reason: 'mismatch' });
  });
});

describe('POST /webhooks/glpi/:hookId', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({
      env: { GLPI_TO_CHATWOOT: 'true', CHATWOOT_BASE_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'chatwoot-token', GLPI_WEBHOOK_SECRET: SECRET },
      clock: () => NOW_S * 1000 + 10 * 60_000,
    });
  });
  afterEach(async () => {
    await t?.close();
  });

  const post = (body: string, headers: Record<string, string>) =>
    // No Content-Type, as GLPI sends it.
    t.app.inject({ method: 'POST', url: '/webhooks/glpi/acme', payload: Buffer.from(body), headers: { 'user-agent': 'GuzzleHttp/7', ...headers } });
  const signed = (body = BODY, ts = NOW_S) => glpiSignedHeaders(SECRET, body, ts * 1000);
  const polls = async () => (await t.queue.getJobs(['waiting', 'delayed', 'active'])).filter((j) => j.name === GLPI_POLL_EVENT);

  it('queues one poll of the hook for a signed webhook without Content-Type', async () => {
    const res = await post(BODY, signed());
    expect(res.statusCode).toBe(202);
    const jobs = await polls();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data).toMatchObject({ hookId: 'acme', event: GLPI_POLL_EVENT });
  });

  it('refuses a bad signature, a tampered body and a missing header, and queues nothing', async () => {
    expect((await post(BODY, { ...signed(), 'x-glpi-signature': 'ab'.repeat(32) })).statusCode).toBe(401);
    expect((await post(BODY.replace('tech', 'evil'), signed())).statusCode).toBe(401);
    expect((await post(BODY, { 'x-glpi-timestamp': String(NOW_S) })).statusCode).toBe(401);
    expect(await polls()).toHaveLength(0);
  });

  it("takes GLPI's retry of the same request (same timestamp, minutes later) as a duplicate", async () => {
    expect((await post(BODY, signed())).statusCode).toBe(202);
    const again = await post(BODY, signed());
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ status: 'duplicate' });
  });

  it('refuses a timestamp older than a day (a replay long after GLPI gave up)', async () => {
    const old = NOW_S - 2 * 86_400;
    expect((await post(BODY, signed(BODY, old))).statusCode).toBe(401);
  });

  it('answers the CRA challenge with HMAC(secret, token), and only for a token of GLPI\'s shape', async () => {
    const token = createHmac('sha256', SECRET).update(BODY).digest('hex');
    const res = await t.app.inject({ method: 'GET', url: `/webhooks/glpi/acme?crc_token=${token}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe(createHmac('sha256', SECRET).update(token).digest('hex'));
    // Not a signing oracle: a forged body followed by a timestamp is not answered.
    const forged = encodeURIComponent(`${BODY}${NOW_S}`);
    expect((await t.app.inject({ method: 'GET', url: `/webhooks/glpi/acme?crc_token=${forged}` })).statusCode).toBe(400);
  });

  it('is not there for a hook without GLPI -> Chatwoot or without a secret', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/webhooks/glpi/other', payload: BODY })).statusCode).toBe(404);
    await t.close();
    t = await startTestApp({ env: { GLPI_TO_CHATWOOT: 'true', CHATWOOT_BASE_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'chatwoot-token' } });
    expect((await post(BODY, signed())).statusCode).toBe(404);
  });
});
