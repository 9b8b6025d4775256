import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../../src/chatwoot/signature.js';
import { jobIdFor } from '../../../src/queue/job.js';
import { Ingest } from '../../../src/queue/producer.js';
import { loadFixture, signatureVector } from '../../support/fixtures.js';
import { startTestApp, TEST_SECRET, TEST_URL_TOKEN, type TestApp } from '../../support/app.js';

const vector = signatureVector();
const vectorBody = Buffer.from(vector.body_base64, 'base64');
const vectorTs = Number(vector.headers['X-Chatwoot-Timestamp']);
const fixedClock = () => vectorTs * 1000 + 2_000;

let seq = 0;
function signedPost(t: TestApp, body: string | Buffer, opts: { hook?: string; delivery?: string | null; ts?: number; secret?: string } = {}) {
  const ts = opts.ts ?? vectorTs;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-chatwoot-timestamp': String(ts),
    'x-chatwoot-signature': sign(opts.secret ?? TEST_SECRET, ts, body),
  };
  if (opts.delivery !== null) headers['x-chatwoot-delivery'] = opts.delivery ?? `delivery-${(seq += 1)}-${Math.random().toString(36).slice(2)}`;
  return t.app.inject({ method: 'POST', url: `/webhooks/chatwoot/${opts.hook ?? 'acme'}`, headers, payload: body });
}

function fixtureBody(name: string, mutate?: (p: Record<string, unknown>) => void): string {
  const payload = loadFixture(name);
  mutate?.(payload);
  return JSON.stringify(payload);
}

async function jobCount(t: TestApp): Promise<number> {
  const counts = await t.queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('POST /webhooks/chatwoot/:hookId (signed hook)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock: fixedClock });
  });
  afterAll(async () => {
    await t.close();
  });

  it('accepts the signed test vector with 202 and the job is in Redis with the raw payload', async () => {
    const res = await signedPost(t, vectorBody, { delivery: vector.headers['X-Chatwoot-Delivery'] });
    expect(res.statusCode).toBe(202);
    const body = res.json<{ status: string; id: string }>();
    expect(body.status).toBe('queued');
    expect(body.id).toBe(jobIdFor('acme', vector.headers['X-Chatwoot-Delivery'] as string));
    const job = await t.queue.getJob(body.id);
    expect(job?.data.event).toBe('message_created');
    expect(job?.data.conversationId).toBe(58);
    expect(job?.data.hookId).toBe('acme');
    expect((job?.data.payload as { id: number }).id).toBe(9801);
    expect(job?.opts.attempts).toBeGreaterThan(1);
    // The contact's ActionCable token is a credential: it is never stored.
    expect(vector.body).toContain('Xb7kQm2RvT9pLs4NwY6cZa3D');
    expect(JSON.stringify(job?.data)).not.toContain('pubsub_token');
    // One line per delivery says who, what and where it went, enough to find it at 3 a.m.
    const accepted = t.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'webhook accepted');
    expect(accepted).toMatchObject({ hookId: 'acme', event: 'message_created', deliveryId: vector.headers['X-Chatwoot-Delivery'], jobId: body.id, conversationId: 58, durable: 'queued' });
  });

  it('answers the same delivery again with 200 duplicate and enqueues nothing', async () => {
    const before = await jobCount(t);
    const res = await signedPost(t, vectorBody, { delivery: vector.headers['X-Chatwoot-Delivery'] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'duplicate' });
    expect(await jobCount(t)).toBe(before);
  });

  it('recognises the same message re-sent under a new delivery id (Chatwoot listener retry)', async () => {
    const body = fixtureBody('message_created.outgoing');
    const first = await signedPost(t, body);
    expect(first.statusCode).toBe(202);
    const before = await jobCount(t);
    const again = await signedPost(t, body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ status: 'duplicate', id: first.json<{ id: string }>().id });
    expect(await jobCount(t)).toBe(before);
  });

  it('accepts a signature made with either rotated secret', async () => {
    const res = await signedPost(t, fixtureBody('conversation_updated'), { secret: 'rotated-new-secret' });
    expect(res.statusCode).toBe(202);
  });

  it.each([
    ['a wrong secret', { secret: 'wrong-secret' }, 'signature does not match'],
    ['a stale timestamp', { ts: vectorTs - 400 }, 'old'],
    ['a timestamp from the future', { ts: vectorTs + 400 }, 'future'],
  ])('refuses %s with 401 and enqueues nothing', async (_name, opts, message) => {
    const before = await jobCount(t);
    const res = await signedPost(t, fixtureBody('conversation_updated.labels'), opts);
    expect(res.statusCode).toBe(401);
    expect(res.json<{ message: string }>().message).toContain(message);
    expect(await jobCount(t)).toBe(before);
  });

  it('refuses a tampered body and missing signature headers with 401', async () => {
    const before = await jobCount(t);
    const ts = vectorTs;
    const good = fixtureBody('message_created.private_note');
    const tampered = await t.app.inject({
      method: 'POST',
      url: '/webhooks/chatwoot/acme',
      headers: { 'content-type': 'application/json', 'x-chatwoot-timestamp': String(ts), 'x-chatwoot-signature': sign(TEST_SECRET, ts, good) },
      payload: good.replace('"private":true', '"private":false'),
    });
    expect(tampered.statusCode).toBe(401);
    const unsigned = await t.app.inject({ method: 'POST', url: '/webhooks/chatwoot/acme', headers: { 'content-type': 'application/json' }, payload: good });
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.json<{ message: string }>().message).toContain('missing X-Chatwoot-Signature');
    expect(await jobCount(t)).toBe(before);
  });

  it('never logs the secret or the signature', () => {
    const all = t.logLines.join('\n');
    expect(all).not.toContain(TEST_SECRET);
    expect(all).not.toContain('rotated-new-secret');
    expect(all).not.toContain('glpi-user-token-secret-value');
  });

  it('answers 404 for an unknown hook', async () => {
    const res = await signedPost(t, vectorBody, { hook: 'nope' });
    expect(res.statusCode).toBe(404);
  });

  it.each(['conversation_typing_on', 'message_updated', 'webwidget_triggered'])('ignores %s with 200 and a reason', async (name) => {
    const before = await jobCount(t);
    const res = await signedPost(t, fixtureBody(name));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ignored' });
    expect(res.json<{ reason: string }>().reason).toContain(name.split('.')[0]);
    expect(await jobCount(t)).toBe(before);
  });

  it('answers 400 for a body that is not JSON, with nothing enqueued', async () => {
    const before = await jobCount(t);
    const res = await signedPost(t, '{"event":"message_created",');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_json' });
    expect(await jobCount(t)).toBe(before);
  });

  it('answers 400 naming the field when the JSON does not fit the event schema', async () => {
    const before = await jobCount(t);
    const res = await signedPost(t, fixtureBody('message_created.incoming', (p) => { p.id = 'nine'; }));
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toMatch(/^message_created: id: /);
    const noEvent = await signedPost(t, JSON.stringify({ id: 3 }));
    expect(noEvent.statusCode).toBe(400);
    const array = await signedPost(t, '[1,2]');
    expect(array.statusCode).toBe(400);
    expect(await jobCount(t)).toBe(before);
  });

  it('answers 413 when the body is over BODY_LIMIT_BYTES', async () => {
    const huge = fixtureBody('message_created.incoming', (p) => { p.content = 'x'.repeat(70_000); });
    const res = await signedPost(t, huge);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('reports liveness and readiness with per-hook state', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    await t.redis.hset(t.keys.hookState('acme'), { lastErrorCode: 'ERROR_RIGHT_MISSING', lastErrorAdvice: 'grant the right' });
    const ready = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    const body = ready.json<{ hooks: Record<string, { lastErrorCode: string; glpiOk: boolean; queue: { waiting: number } }>; queue: Record<string, number> }>();
    expect(body.hooks.acme?.lastErrorCode).toBe('ERROR_RIGHT_MISSING');
    expect(body.hooks.acme?.glpiOk).toBeNull(); // no lastErrorAt, no success: GLPI not reached yet
    expect(body.hooks.acme?.queue.waiting).toBe(body.queue.waiting);
    await t.redis.hset(t.keys.hookState('acme'), { lastErrorAt: '2026-11-22T10:00:00.000Z', lastGlpiSuccessAt: '2026-11-22T09:00:00.000Z' });
    const failing = (await t.app.inject({ method: 'GET', url: '/ready' })).json<{ hooks: Record<string, { glpiOk: boolean }> }>();
    expect(failing.hooks.acme?.glpiOk).toBe(false);
    expect(body.queue.waiting).toBeGreaterThan(0);
    expect(ready.body).not.toContain('glpi-user-token-secret-value');
  });
});

describe('POST /webhooks/chatwoot/:hookId (URL token hook, older Chatwoot)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { CHATWOOT_WEBHOOK_SECRET: '', CHATWOOT_WEBHOOK_TOKEN: TEST_URL_TOKEN } });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (query: string, body: string) =>
    t.app.inject({ method: 'POST', url: `/webhooks/chatwoot/acme${query}`, headers: { 'content-type': 'application/json' }, payload: body });

  it('accepts the right token and dedupes unsigned deliveries by content', async () => {
    const body = fixtureBody('conversation_status_changed');
    const first = await post(`?token=${TEST_URL_TOKEN}`, body);
    expect(first.statusCode).toBe(202);
    const second = await post(`?token=${TEST_URL_TOKEN}`, body);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ status: 'duplicate' });
  });

  it('refuses a wrong or missing token with 401', async () => {
    const body = fixtureBody('conversation_updated');
    expect((await post('?token=nope', body)).statusCode).toBe(401);
    expect((await post('', body)).statusCode).toBe(401);
    expect(t.logLines.join('\n')).not.toContain(TEST_URL_TOKEN);
  });
});

describe('a disabled hook', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { HOOK_ENABLED: 'false' }, clock: fixedClock });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 200 ignored and enqueues nothing', async () => {
    const res = await signedPost(t, vectorBody);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ignored', reason: 'hook is disabled' });
    expect(await jobCount(t)).toBe(0);
  });
});

describe('when Redis is unreachable', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Nothing listens on this port: every Redis command fails at once.
    t = await startTestApp({ redisUrl: 'redis://127.0.0.1:6399', clock: fixedClock });
  });
  afterAll(async () => {
    await t.close();
  });

  it('/ready answers 503 while /health still answers 200', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('spools an accepted webhook to disk, answers 202, and drains it into a working queue later', async () => {
    const res = await signedPost(t, vectorBody, { delivery: 'spooled-delivery-1' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'queued', spooled: true });
    expect(await t.spool.size()).toBe(1);
    const [file] = await t.spool.list();
    expect(readFileSync(join(t.spoolDir, file as string), 'utf8')).not.toContain('pubsub_token');

    // "Redis is back": drain the same spool through a healthy app's ingest.
    const healthy = await startTestApp({ clock: fixedClock });
    try {
      const healthyIngest = new Ingest({
        queue: healthy.queue, redis: healthy.redis, keys: healthy.keys, spool: t.spool, metrics: healthy.metrics, logger: pino({ level: 'silent' }),
      });
      expect(await healthyIngest.drainSpool()).toBe(0);
      expect(await t.spool.size()).toBe(0);
      const job = await healthy.queue.getJob(jobIdFor('acme', 'spooled-delivery-1'));
      expect(job?.data.event).toBe('message_created');
      // Draining twice (e.g. after a crash mid-drain) cannot create a second job.
      expect(await healthyIngest.drainSpool()).toBe(0);
      expect(await jobCount(healthy)).toBe(1);
      healthyIngest.close();
    } finally {
      await healthy.close();
    }
  });
});
