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
