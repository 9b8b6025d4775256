import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.js';

interface ReadyHook {
  glpiOk: boolean | null;
  glpi: string;
}

/** /ready said `glpiOk: true` before GLPI was ever reached (and with a placeholder URL). */
describe('/ready per-hook GLPI state', () => {
  let t: TestApp;
  beforeAll(async () => {
    // A placeholder GLPI URL nobody can reach: nothing may claim it works.
    t = await startTestApp({ env: { GLPI_API_URL: 'https://glpi.example.com/apirest.php' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function acme(): Promise<ReadyHook | undefined> {
    const res = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(200);
    return res.json<{ hooks: Record<string, ReadyHook> }>().hooks.acme;
  }

  it('is unknown (null, "not reached yet") until GLPI was first reached, then follows the last outcome', async () => {
    expect(await acme()).toMatchObject({ glpiOk: null, glpi: 'not reached yet' });
    // A hostile or broken state value (not a date) is no success either.
    await t.redis.hset(t.keys.hookState('acme'), { lastGlpiSuccessAt: 'not-a-date<script>' });
    expect((await acme())?.glpiOk).not.toBe(true);
    await t.redis.hset(t.keys.hookState('acme'), { lastGlpiSuccessAt: '2026-11-22T09:00:00.000Z' });
    expect(await acme()).toMatchObject({ glpiOk: true, glpi: 'ok' });
    await t.redis.hset(t.keys.hookState('acme'), { lastErrorAt: '2026-11-22T10:00:00.000Z' });
    expect(await acme()).toMatchObject({ glpiOk: false, glpi: 'failing' });
  });
});

/** A probe without the admin token gets the bare verdict from a PING: no hook state, no job counts. */
describe('/ready for a probe without the admin token', () => {
  const ADMIN = 'ready-admin-token-2b7d';
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { ADMIN_TOKEN: ADMIN } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers from the PING alone, while the detailed answer reads the hook state', async () => {
    // A hook-state key of the wrong type: reading it fails (WRONGTYPE), so only a read can notice it.
    await t.redis.set(t.keys.hookState('acme'), 'not a hash');
    const probe = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(probe.statusCode).toBe(200);
    expect(probe.json()).toEqual({ status: 'ready' });
    const operator = await t.app.inject({ method: 'GET', url: '/ready', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(operator.statusCode).toBe(503);
    expect(operator.json()).toMatchObject({ status: 'not_ready' });
    await t.redis.del(t.keys.hookState('acme'));
    expect((await t.app.inject({ method: 'GET', url: '/ready', headers: { authorization: `Bearer ${ADMIN}` } })).json()).toMatchObject({ status: 'ready', redis: 'up' });
  });
});
