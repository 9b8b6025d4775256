import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.js';

const ADMIN = 'admin-token-for-admin-routes-7c1e';
const bearer = { authorization: `Bearer ${ADMIN}` };

/**
 * The admin plugin inside the whole app: Fastify's own JSON parsing (the webhook plugins' raw-body
 * parser does not reach it) and the route schemas, with the answers the admin routes always gave.
 */
describe('admin routes in the app', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { ADMIN_TOKEN: ADMIN } });
  });
  afterAll(async () => {
    await t.close();
  });

  const replay = (payload: string, query = '', contentType = 'application/json') =>
    t.app.inject({ method: 'POST', url: `/admin/replay${query}`, headers: { ...bearer, 'content-type': contentType }, payload });

  it('takes a JSON body parsed by Fastify, and ?all=true with an empty body', async () => {
    const byHook = await replay('{"hookId":"acme"}');
    expect(byHook.statusCode).toBe(200);
    expect(byHook.json()).toEqual({ replayed: [], skipped: [] });
    expect((await replay('', '?all=true')).statusCode).toBe(200);
    expect((await replay('{"jobId":"acme.none"}')).json()).toMatchObject({ error: 'not_replayed', skipped: [{ jobId: 'acme.none', reason: 'no such job' }] });
  });

  it.each([
    ['not JSON', '{"all":', 'the body must be a JSON object'],
    ['a JSON array', '[1]', 'the body must be a JSON object'],
    ['two selectors', '{"all":true,"hookId":"acme"}', 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}'],
    ['no selector', '{}', 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}'],
    // Types are checked, not coerced: {"all": 1} must never replay everything.
    ['all as a number', '{"all":1}', 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}'],
    ['all as a string', '{"all":"true"}', 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}'],
    ['a numeric jobId', '{"jobId":123}', 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}'],
    ['a hookId list', '{"hookId":["acme"]}', 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}'],
  ])('answers 400 bad_request to %s', async (_name, body, message) => {
    const res = await replay(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad_request', message });
  });

  it('checks ?limit= by its schema and ?hook= against the configured hooks', async () => {
    for (const limit of ['0', '10001', '1.5', 'ten']) {
      const res = await t.app.inject({ url: `/admin/failed?limit=${limit}`, headers: bearer });
      expect(res.statusCode, limit).toBe(400);
      expect(res.json()).toEqual({ error: 'bad_request', message: 'limit must be an integer from 1 to 10000' });
    }
    expect((await t.app.inject({ url: '/admin/failed?limit=5', headers: bearer })).json()).toMatchObject({ total: 0, events: [] });
    expect((await t.app.inject({ url: '/admin/failed?hook=nope', headers: bearer })).statusCode).toBe(404);
  });

  it('reads the body as JSON also when curl -d sends it as a form or as text', async () => {
    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain']) {
      const res = await replay('{"hookId":"acme"}', '', contentType);
      expect(res.statusCode, contentType).toBe(200);
      expect(res.json()).toEqual({ replayed: [], skipped: [] });
    }
  });

  it('answers a repeated ?hook= with a 400 that names it', async () => {
    const res = await t.app.inject({ url: '/admin/failed?hook=acme&hook=other', headers: bearer });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad_request', message: 'hook must be given once' });
  });

  it("leaves other refusals to the app's error handler", async () => {
    const res = await replay('<all/>', '', 'application/xml');
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'Unsupported Media Type' });
  });

  it('checks the token before it reads anything', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/admin/replay', headers: { 'content-type': 'application/json' }, payload: '{"all":' });
    expect(res.statusCode).toBe(401);
  });
});
