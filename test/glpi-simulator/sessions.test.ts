/** Conformance: session resources and configuration errors, as glpi-apirest-observed.md sections A-D and L. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { ADMIN, APP_TOKEN, call, login, withDoc } from './support.js';

let sim: GlpiSimulator;

beforeAll(async () => {
  sim = await startGlpiSimulator({ appToken: APP_TOKEN, credentials: undefined });
});

afterAll(async () => {
  await sim.close();
});

const JSON_HEADERS = {
  'content-type': 'application/json; charset=UTF-8',
  'cache-control': 'no-store, no-cache, must-revalidate',
  pragma: 'no-cache',
  expires: 'Mon, 26 Jul 1997 05:00:00 GMT',
  'access-control-expose-headers': 'content-type, content-range, accept-range',
};

describe('initSession', () => {
  it('opens a session with Authorization: user_token and answers a PHP session id', async () => {
    const res = await call(sim, 'GET', 'initSession', { headers: { authorization: `user_token ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject(JSON_HEADERS);
    expect(res.json).toEqual({ session_token: expect.stringMatching(/^[0-9a-v]{26}$/) });
    expect(sim.state.sessions).toContain((res.json as { session_token: string }).session_token);
  });

  it('accepts app_token and user_token as query parameters', async () => {
    const res = await call(sim, 'GET', `initSession?app_token=${APP_TOKEN}&user_token=${ADMIN}`, { appToken: null });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ session_token: expect.stringMatching(/^[0-9a-v]{26}$/) });
  });

  it('accepts the tokens in a POST JSON body', async () => {
    const res = await call(sim, 'POST', 'initSession', { appToken: null, body: { app_token: APP_TOKEN, user_token: ADMIN } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ session_token: expect.stringMatching(/^[0-9a-v]{26}$/) });
  });

  it('adds the session with get_full_session=true', async () => {
    const res = await call(sim, 'GET', 'initSession?get_full_session=true', { headers: { authorization: `user_token ${ADMIN}` } });
    const body = res.json as { session_token: string; session: Record<string, unknown> };
    expect(res.status).toBe(200);
    expect(body.session).toMatchObject({ valid_id: body.session_token, glpiID: 2, glpiname: 'glpi', glpilist_limit: 20 });
  });

  it('refuses a wrong App-Token with 400 ERROR_WRONG_APP_TOKEN_PARAMETER', async () => {
    const res = await call(sim, 'GET', 'initSession', { appToken: 'badbadbadbad', headers: { authorization: `user_token ${ADMIN}` } });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(withDoc(sim, 'ERROR_WRONG_APP_TOKEN_PARAMETER', 'parameter app_token seems wrong'));
  });

  it('refuses a missing App-Token with 400 ERROR_APP_TOKEN_PARAMETERS_MISSING', async () => {
    const res = await call(sim, 'GET', 'initSession', { appToken: null, headers: { authorization: `user_token ${ADMIN}` } });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(withDoc(sim, 'ERROR_APP_TOKEN_PARAMETERS_MISSING', 'missing parameter app_token'));
  });

  it('refuses an unknown user token with 401 ERROR_GLPI_LOGIN_USER_TOKEN (no doc link)', async () => {
    const res = await call(sim, 'GET', 'initSession', { headers: { authorization: 'user_token nonexistenttoken123' } });
    expect(res.status).toBe(401);
    expect(res.json).toEqual(['ERROR_GLPI_LOGIN_USER_TOKEN', 'parameter user_token seems invalid']);
  });

  it('answers 400 ERROR_LOGIN_PARAMETERS_MISSING without any Authorization', async () => {
    const res = await call(sim, 'GET', 'initSession');
    expect(res.status).toBe(400);
    expect(res.json).toEqual(
      withDoc(sim, 'ERROR_LOGIN_PARAMETERS_MISSING', 'parameter(s) login, password or user_token are missing'),
    );
  });

  it('refuses Basic credentials as GLPI does by default (enable_api_login_credentials=0)', async () => {
    const res = await call(sim, 'GET', 'initSession', { headers: { authorization: 'Basic Z2xwaTpnbHBp' } });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(['ERROR_LOGIN_WITH_CREDENTIALS_DISABLED', 'usage of initSession resource with credentials is disabled']);
  });

  it('logs in with Basic credentials when they are enabled, and refuses a wrong password with 401 ERROR_GLPI_LOGIN', async () => {
    const withCredentials = await startGlpiSimulator({ credentials: { glpi: { password: 'glpi', userId: 2, profile: 'super-admin' } } });
    try {
      const ok = await call(withCredentials, 'GET', 'initSession', { appToken: null, headers: { authorization: 'Basic Z2xwaTpnbHBp' } });
      expect(ok.status).toBe(200);
      const bad = await call(withCredentials, 'GET', 'initSession', { appToken: null, headers: { authorization: 'Basic Z2xwaTp3cm9uZw==' } });
      expect(bad.status).toBe(401);
      expect(bad.json).toEqual(['ERROR_GLPI_LOGIN', 'Incorrect username or password']);
    } finally {
      await withCredentials.close();
    }
  });
});

describe('configuration-state errors', () => {
  it('answers 400 ["ERROR","API disabled"] while the API is disabled', async () => {
    sim.setApiEnabled(false);
    try {
      const res = await call(sim, 'GET', 'initSession', { headers: { authorization: `user_token ${ADMIN}` } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual(['ERROR', 'API disabled']);
    } finally {
      sim.setApiEnabled(true);
    }
  });

  it('answers 400 ERROR_NOT_ALLOWED_IP when no API client matches the caller', async () => {
    sim.setIpAllowed(false);
    try {
      const res = await call(sim, 'GET', 'initSession', { headers: { authorization: `user_token ${ADMIN}` } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual([
        'ERROR_NOT_ALLOWED_IP',
        "There isn't an active API client matching your IP address in the configuration (127.0.0.1)",
      ]);
    } finally {
      sim.setIpAllowed(true);
    }
  });

  it('without a configured App-Token accepts calls without one and refuses a stray one', async () => {
    const open = await startGlpiSimulator();
    try {
      expect((await call(open, 'GET', 'initSession', { appToken: null, headers: { authorization: `user_token ${ADMIN}` } })).status).toBe(200);
      const stray = await call(open, 'GET', 'initSession', { appToken: 'something', headers: { authorization: `user_token ${ADMIN}` } });
      expect(stray.json).toEqual(withDoc(open, 'ERROR_WRONG_APP_TOKEN_PARAMETER', 'parameter app_token seems wrong'));
    } finally {
      await open.close();
    }
  });
});

describe('session resources', () => {
  let token: string;
  beforeAll(async () => {
    token = await login(sim);
  });

  it('getMyProfiles', async () => {
    const res = await call(sim, 'GET', 'getMyProfiles', { session: token });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ myprofiles: [{ id: 4, name: 'Super-Admin', entities: [{ id: 0, name: 'Root entity', is_recursive: 1 }] }] });
  });

  it('getActiveProfile shows the Super-Admin rights bitmasks', async () => {
    const res = await call(sim, 'GET', 'getActiveProfile', { session: token });
    expect(res.json).toEqual({
      active_profile: expect.objectContaining({ id: 4, name: 'Super-Admin', interface: 'central', ticket: 261151, followup: 31767, user: 7327 }),
    });
  });

  it('getMyEntities and getActiveEntities', async () => {
    expect((await call(sim, 'GET', 'getMyEntities', { session: token })).json).toEqual({ myentities: [{ id: 0, name: 'Root entity' }] });
    expect((await call(sim, 'GET', 'getActiveEntities', { session: token })).json).toEqual({
      active_entity: { id: 0, active_entity_recursive: 1, active_entities: [{ id: 0 }] },
    });
  });

  it('getFullSession', async () => {
    const res = await call(sim, 'GET', 'getFullSession', { session: token });
    expect(res.json).toEqual({ session: expect.objectContaining({ valid_id: token, glpiID: 2, glpiname: 'glpi' }) });
  });

  it('takes the session token as a query parameter too', async () => {
    const res = await call(sim, 'GET', `getActiveProfile?session_token=${token}&app_token=${APP_TOKEN}`, { appToken: null });
    expect(res.status).toBe(200);
  });

  it('changeActiveEntities answers true', async () => {
    const res = await call(sim, 'POST', 'changeActiveEntities', { session: token, body: { entities_id: 0, is_recursive: true } });
    expect([res.status, res.json]).toEqual([200, true]);
  });

  it('checks the App-Token before the session', async () => {
    const res = await call(sim, 'GET', 'getMyProfiles', { session: token, appToken: 'wrongapptoken' });
    expect(res.json).toEqual(withDoc(sim, 'ERROR_WRONG_APP_TOKEN_PARAMETER', 'parameter app_token seems wrong'));
    const missing = await call(sim, 'GET', 'getMyProfiles', { session: token, appToken: null });
    expect(missing.json).toEqual(withDoc(sim, 'ERROR_APP_TOKEN_PARAMETERS_MISSING', 'missing parameter app_token'));
  });
});

describe('session errors', () => {
  it('answers 401 ERROR_SESSION_TOKEN_INVALID to an unknown token', async () => {
    const res = await call(sim, 'GET', 'getMyProfiles', { session: 'deadbeefdeadbeefdeadbeef00' });
    expect(res.status).toBe(401);
    expect(res.json).toEqual(['ERROR_SESSION_TOKEN_INVALID', 'session_token seems invalid']);
  });

  it('answers 400 ERROR_SESSION_TOKEN_MISSING without a token', async () => {
    const res = await call(sim, 'GET', 'getMyProfiles');
    expect(res.status).toBe(400);
    expect(res.json).toEqual(withDoc(sim, 'ERROR_SESSION_TOKEN_MISSING', 'parameter session_token is missing or empty'));
  });

  it('killSession answers true, then the token is invalid, also for killSession', async () => {
    const token = await login(sim);
    const killed = await call(sim, 'GET', 'killSession', { session: token });
    expect([killed.status, killed.text]).toEqual([200, 'true']);
    expect(sim.state.sessions).not.toContain(token);
    for (const resource of ['getMyProfiles', 'killSession']) {
      const again = await call(sim, 'GET', resource, { session: token });
      expect([again.status, again.json]).toEqual([401, ['ERROR_SESSION_TOKEN_INVALID', 'session_token seems invalid']]);
    }
  });

  it('expireSessions() ends every open session like PHP session GC', async () => {
    const a = await login(sim);
    const b = await login(sim);
    sim.expireSessions();
    expect(sim.state.sessions).toEqual([]);
    for (const token of [a, b]) expect((await call(sim, 'GET', 'getActiveEntities', { session: token })).status).toBe(401);
  });
});
