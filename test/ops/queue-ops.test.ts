import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { adminRoutes } from '../../src/http/plugins/admin.js';
import { metricsRoutes } from '../../src/http/plugins/metrics.js';
import { listFailed, queueStatus, replay } from '../../src/ops/queue-ops.js';
import { testPrefix, waitFor } from '../support/redis.js';
import { queueFixture, type QueueFixture } from './support.js';

const ADMIN_TOKEN = 'admin-token-3f9a1c7e5b';
const RIGHT_MISSING = "GLPI POST /User answered 400 ERROR_GLPI_ADD: You don't have permission to perform this action.";
let fx: QueueFixture;

beforeAll(async () => {
  fx = await queueFixture(testPrefix('queueops'));
});
afterAll(async () => {
  await fx.close();
});

describe('failed, replay, status', () => {
  it('lists failed events with event, conversation, reason, code and advice, per hook', async () => {
    const a = await fx.failJob('acme', 'delivery-a1', RIGHT_MISSING, { conversationId: 58, event: 'message_created' });
    await fx.failJob('globex', 'delivery-g1', 'GLPI GET /initSession answered 401 ERROR_GLPI_LOGIN_USER_TOKEN: parameter user_token seems invalid');

    const acme = await listFailed(fx.queue, { hookId: 'acme' });
    expect(acme.total).toBe(1);
    expect(acme.events[0]).toMatchObject({
      jobId: a,
      hookId: 'acme',
      event: 'message_created',
      conversationId: 58,
      deliveryId: 'delivery-a1',
      reason: RIGHT_MISSING,
      code: 'ERROR_GLPI_ADD',
    });
    expect(acme.events[0]!.advice).toMatch(/permission/);
    const all = await listFailed(fx.queue);
    expect(all.events.map((e) => e.hookId).sort()).toEqual(['acme', 'globex']);
    expect(all.events.find((e) => e.hookId === 'globex')!.advice).toMatch(/GLPI_USER_TOKEN/);
  });

  it('replays one failed job, which then runs again and completes', async () => {
    const jobId = await fx.failJob('acme', 'delivery-a2', RIGHT_MISSING);
    const result = await replay(fx.queue, { jobId });
    expect(result).toEqual({ replayed: [jobId], skipped: [] });
    await waitFor(async () => ((await fx.queue.getJobState(jobId)) === 'completed' ? true : undefined), 'the replayed job to complete');
    const again = await replay(fx.queue, { jobId });
    expect(again.replayed).toEqual([]);
    expect(again.skipped[0]!.reason).toMatch(/completed/);
    expect((await replay(fx.queue, { jobId: 'acme.nope' })).skipped).toEqual([{ jobId: 'acme.nope', reason: 'no such job' }]);
  });

  it('replays the failed jobs of one hook only, or all', async () => {
    const acme = await fx.failJob('acme', 'delivery-a3', RIGHT_MISSING);
    const globex = await fx.failJob('globex', 'delivery-g3', RIGHT_MISSING);
    const byHook = await replay(fx.queue, { hookId: 'globex' });
    expect(byHook.replayed).toContain(globex);
    expect(byHook.replayed).not.toContain(acme);
    expect(await fx.queue.getJobState(acme)).toBe('failed');
    const all = await replay(fx.queue, { all: true });
    expect(all.replayed).toContain(acme);
    await waitFor(async () => ((await listFailed(fx.queue)).total === 0 ? true : undefined), 'no failed job left');
  });

  it('counts waiting, delayed and failed jobs per hook', async () => {
    await fx.failJob('acme', 'delivery-a4', RIGHT_MISSING);
    await fx.stopWorker();
    await fx.add('acme', 'delivery-a5');
    await fx.add('globex', 'delivery-g5');
    await fx.add('globex', 'delivery-g6');
    await fx.queue.add('x', { hookId: 'globex', event: 'x', deliveryId: 'd7', receivedAt: '', conversationId: undefined, payload: {} }, { jobId: 'globex.delayed', delay: 3_600_000 });
    await fx.queue.add('x', { hookId: 'gone', event: 'x', deliveryId: 'd8', receivedAt: '', conversationId: undefined, payload: {} }, { jobId: 'gone.one' });
    const status = await queueStatus(fx.queue, ['acme', 'globex']);
    expect(status.hooks.acme).toEqual({ waiting: 1, active: 0, delayed: 0, failed: 1 });
    expect(status.hooks.globex).toEqual({ waiting: 2, active: 0, delayed: 1, failed: 0 });
    expect(status.other).toEqual({ waiting: 1, active: 0, delayed: 0, failed: 0 });
    expect(status.total).toEqual({ waiting: 4, active: 0, delayed: 1, failed: 1 });
  });
});

describe('admin HTTP routes', () => {
  let app: FastifyInstance;
  let open: FastifyInstance;
  const register = new Registry();
  const metrics = createMetrics(register);

  beforeAll(async () => {
    app = Fastify();
    await app.register(adminRoutes, { adminToken: ADMIN_TOKEN, queue: fx.queue, hookIds: ['acme', 'globex'] });
    await app.register(metricsRoutes, { adminToken: ADMIN_TOKEN, register, queue: fx.queue, metrics });
    open = Fastify();
    await open.register(adminRoutes, { adminToken: undefined, queue: fx.queue, hookIds: ['acme'] });
    await open.register(metricsRoutes, { adminToken: undefined, register });
  });
  afterAll(async () => {
    await app.close();
    await open.close();
  });

  const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

  it('refuses requests without the token, or with a wrong one', async () => {
    for (const url of ['/admin/failed', '/admin/status', '/metrics']) {
      const none = await app.inject({ url });
      expect(none.statusCode, url).toBe(401);
      expect(none.body).not.toContain(ADMIN_TOKEN);
      expect((await app.inject({ url, headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
      expect((await app.inject({ url: `${url}?token=${ADMIN_TOKEN.slice(0, -1)}` })).statusCode).toBe(401);
    }
    expect((await app.inject({ method: 'POST', url: '/admin/replay', payload: { all: true } })).statusCode).toBe(401);
  });

  it('keeps admin routes closed when ADMIN_TOKEN is unset, /metrics open', async () => {
    const res = await open.inject({ url: '/admin/failed' });
    expect(res.statusCode).toBe(403);
    expect(res.json().message).toMatch(/ADMIN_TOKEN/);
    expect((await open.inject({ method: 'POST', url: '/admin/replay', payload: { all: true } })).statusCode).toBe(403);
    expect((await open.inject({ url: '/metrics' })).statusCode).toBe(200);
  });

  it('serves failed, status and metrics with the token as a Bearer header, never from the query string', async () => {
    const failed = await app.inject({ url: '/admin/failed?hook=acme', headers: bearer });
    expect(failed.statusCode).toBe(200);
    expect(failed.json().events[0]).toMatchObject({ hookId: 'acme', code: 'ERROR_GLPI_ADD' });
    expect((await app.inject({ url: `/admin/status?token=${ADMIN_TOKEN}` })).statusCode).toBe(401);
    const status = await app.inject({ url: '/admin/status', headers: bearer });
    expect(status.json().hooks.acme.failed).toBe(1);
    const scrape = await app.inject({ url: '/metrics', headers: bearer });
    expect(scrape.statusCode).toBe(200);
    expect(scrape.headers['content-type']).toMatch(/text\/plain/);
    expect(scrape.body).toMatch(/cgb_queue_jobs\{state="failed"\} 1/);
    expect((await app.inject({ url: '/admin/failed?hook=nope', headers: bearer })).statusCode).toBe(404);
  });

  it('replays through POST /admin/replay and says what it did', async () => {
    const [failedJob] = (await listFailed(fx.queue, { hookId: 'acme' })).events;
    const bad = await app.inject({ method: 'POST', url: '/admin/replay', headers: { ...bearer, 'content-type': 'application/json' }, payload: '{}' });
    expect(bad.statusCode).toBe(400);
    const missing = await app.inject({ method: 'POST', url: '/admin/replay', headers: { ...bearer, 'content-type': 'application/json' }, payload: { jobId: 'acme.unknown' } });
    expect(missing.statusCode).toBe(404);
    const res = await app.inject({ method: 'POST', url: '/admin/replay', headers: { ...bearer, 'content-type': 'application/json' }, payload: { jobId: failedJob!.jobId } });
    expect(res.statusCode).toBe(200);
    expect(res.json().replayed).toEqual([failedJob!.jobId]);
    expect(await fx.queue.getJobState(failedJob!.jobId)).toBe('waiting');
  });
});
