import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { GLPI_ERROR_CODES, GlpiError, isGlpiNotFound, isTransient } from '../../src/errors/index.js';
import { createGlpiClients, glpiMetricsObserver } from '../../src/glpi/registry.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { HookConfig } from '../../src/config/schema.js';
import {
  APP_TOKEN,
  ORIGIN,
  USER_TOKEN,
  clientFor,
  createMockGlpi,
  hookConfig,
  withSession,
  type MockGlpi,
} from './mock-glpi.js';

let mock: MockGlpi | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function caught(promise: Promise<unknown>): Promise<GlpiError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof GlpiError) return err;
    throw err;
  }
  throw new Error('expected a GlpiError');
}

describe('URLs and headers', () => {
  it('resolves every call under the base path, keeping apirest.php', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) => (req.resource === 'Ticket/12' ? { status: 200, json: { id: 12, name: 'x' } } : undefined));
    const { client } = clientFor(mock);
    await expect(client.getItem('Ticket', 12)).resolves.toMatchObject({ id: 12 });
    expect(mock.requests.map((r) => `${r.method} ${r.resource}`)).toEqual(['GET initSession', 'GET getGlpiConfig', 'GET Ticket/12']);
  });

  it('keeps apirest.php when the base URL was given without its trailing slash', async () => {
    mock = createMockGlpi();
    const { client } = clientFor(mock, { baseUrl: `${ORIGIN}/glpi/apirest.php` });
    await client.ensureSession();
    expect(mock.requests[0]?.resource).toBe('initSession');
  });

  it('logs in with user_token and App-Token, then sends Session-Token, App-Token and X-GLPI-Sanitized-Content on calls', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 3 } }));
    const { client } = clientFor(mock);
    await client.getItem('User', 3);
    const [login, call] = mock.requests;
    expect(login?.headers.authorization).toBe(`user_token ${USER_TOKEN}`);
    expect(login?.headers['app-token']).toBe(APP_TOKEN);
    expect(login?.headers['x-glpi-sanitized-content']).toBe('false');
    expect(login?.headers['session-token']).toBeUndefined();
    expect(call?.headers['session-token']).toMatch(/^sess1/);
    expect(call?.headers['app-token']).toBe(APP_TOKEN);
    expect(call?.headers['x-glpi-sanitized-content']).toBe('false');
    expect(call?.headers['content-type']).toBe('application/json');
    expect(call?.headers.authorization).toBeUndefined();
    expect(call?.body).toBeUndefined();
  });

  it('sends no App-Token when the hook has none', async () => {
    mock = createMockGlpi();
    const { client } = clientFor(mock, { appToken: undefined });
    await client.ensureSession();
    expect(mock.requests[0]?.headers['app-token']).toBeUndefined();
  });

  it('reports every call to the observer with its endpoint template and status', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) =>
      req.method === 'POST' ? { status: 201, json: { id: 7, message: '' } } : undefined,
    );
    const { client, observed } = clientFor(mock);
    await client.addSubItem('Ticket', 12, 'ITILFollowup', { content: 'hi' });
    expect(observed.map((o) => [o.endpoint, o.status])).toEqual([
      ['GET /initSession', 200],
      ['GET /getGlpiConfig', 200],
      ['POST /Ticket/:id/ITILFollowup', 201],
    ]);
    expect(observed.every((o) => o.durationMs >= 0)).toBe(true);
  });

  it('reports network failures to the observer as network-error', async () => {
    mock = createMockGlpi(() => ({ error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    const { client, observed } = clientFor(mock);
    await expect(client.ensureSession()).rejects.toThrow(GlpiError);
    expect(observed).toEqual([expect.objectContaining({ endpoint: 'GET /initSession', status: 'network-error' })]);
  });
});

describe('session', () => {
  it('opens one session and reuses it for later calls', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 1 } }));
    const { client } = clientFor(mock);
    await client.getItem('Ticket', 1);
    await client.getItem('Ticket', 1);
    expect(mock.count('GET', 'initSession')).toBe(1);
  });

  it('shares one initSession between 10 concurrent first callers', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 1 } }));
    const { client } = clientFor(mock);
    await Promise.all(Array.from({ length: 10 }, () => client.getItem('Ticket', 1)));
    expect(mock.count('GET', 'initSession')).toBe(1);
    expect(mock.count('GET', 'Ticket/1')).toBe(10);
  });

  it('re-inits the GLPI session once when it expired, single-flight under 10 concurrent callers', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 1 } }));
    const { client } = clientFor(mock);
    await client.ensureSession();
    mock.expireSessions();
    const results = await Promise.all(Array.from({ length: 10 }, () => client.getItem('Ticket', 1)));
    expect(results).toHaveLength(10);
    expect(mock.count('GET', 'initSession')).toBe(2);
    // Each call: one refused attempt, one replay.
    expect(mock.count('GET', 'Ticket/1')).toBe(20);
  });

  it('a document download on an expired session re-inits it once, replays, and logs it like any call', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) =>
      req.resource === 'Document/7' ? { status: 200, raw: 'file bytes', headers: { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="a.txt"' } } : undefined,
    );
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const { client } = clientFor(mock, {}, { logger });
    await client.ensureSession();
    mock.expireSessions();
    const got = await client.downloadDocument(7, { maxBytes: 1_000, deadlineMs: 5_000 });
    expect(got).toMatchObject({ kind: 'file', filename: 'a.txt' });
    expect(got.kind === 'file' && got.data.toString()).toBe('file bytes');
    expect(mock.count('GET', 'initSession')).toBe(2);
    expect(mock.count('GET', 'Document/7')).toBe(2);
    const expired = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'GLPI session expired; opening a new one');
    expect(expired).toEqual([expect.objectContaining({ hookId: 'h1', endpoint: 'GET /Document/:id (file)' })]);
  });

  it('gives up after one re-init when GLPI keeps refusing the new session (no loop)', async () => {
    mock = createMockGlpi();
    // GLPI accepts the login but never the token (e.g. web servers without shared session storage).
    mock.route = (req) =>
      req.resource === 'Ticket/1' ? { status: 401, json: ['ERROR_SESSION_TOKEN_INVALID', 'session_token seems invalid'] } : undefined;
    const { client } = clientFor(mock);
    const err = await caught(client.getItem('Ticket', 1));
    expect(err.code).toBe('ERROR_SESSION_TOKEN_INVALID');
    expect(err.transient).toBe(true);
    expect(mock.count('GET', 'initSession')).toBe(2);
    expect(mock.count('GET', 'Ticket/1')).toBe(2);
  });

  it('gives up when the re-init itself fails, without retrying the login', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 1 } }));
    const { client } = clientFor(mock);
    await client.ensureSession();
    mock.expireSessions();
    const previous = mock.route;
    mock.route = (req) =>
      req.resource === 'initSession'
        ? { status: 401, json: ['ERROR_GLPI_LOGIN_USER_TOKEN', 'parameter user_token seems invalid'] }
        : previous(req);
    const errors = await Promise.all(Array.from({ length: 10 }, () => caught(client.getItem('Ticket', 1))));
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERROR_GLPI_LOGIN_USER_TOKEN']));
    expect(errors[0]?.transient).toBe(false);
    expect(mock.count('GET', 'initSession')).toBe(2);
  });

  it('does not cache a failed login: the next call tries again', async () => {
    mock = createMockGlpi();
    let fail = true;
    mock.route = (req) => (req.resource === 'initSession' && fail ? { status: 503, raw: '' } : undefined);
    const { client } = clientFor(mock);
    await expect(client.ensureSession()).rejects.toMatchObject({ code: 'GLPI_SERVER_ERROR' });
    fail = false;
    await expect(client.ensureSession()).resolves.toBeUndefined();
    expect(mock.count('GET', 'initSession')).toBe(2);
  });

  it('does not re-init on other 401/403/400 errors', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 403, json: ['ERROR_RIGHT_MISSING', "You don't have permission to perform this action."] }));
    const { client } = clientFor(mock);
    await expect(client.getItem('User', 7)).rejects.toMatchObject({ code: 'ERROR_RIGHT_MISSING' });
    expect(mock.count('GET', 'initSession')).toBe(1);
  });

  it('kills the session on killSession and opens a new one on the next call', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 1 } }));
    const { client } = clientFor(mock);
    await client.killSession(); // nothing open: no call
    expect(mock.requests).toHaveLength(0);
    await client.ensureSession();
    await client.killSession();
    expect(mock.sessions.size).toBe(0);
    expect(mock.requests.map((r) => r.resource)).toEqual(['initSession', 'getGlpiConfig', 'killSession']);
    await client.getItem('Ticket', 1);
    expect(mock.count('GET', 'initSession')).toBe(2);
  });

  it('killSession tolerates a session GLPI already dropped', async () => {
    mock = createMockGlpi();
    const { client } = clientFor(mock);
    await client.ensureSession();
    mock.expireSessions();
    await expect(client.killSession()).resolves.toBeUndefined();
  });
});

describe('errors', () => {
  const statusOf: Record<string, number> = {
    ERROR_SESSION_TOKEN_INVALID: 401,
    ERROR_GLPI_LOGIN_USER_TOKEN: 401,
    ERROR_GLPI_LOGIN: 401,
    ERROR_ITEM_NOT_FOUND: 404,
    ERROR_RIGHT_MISSING: 403,
    ERROR_METHOD_NOT_ALLOWED: 405,
    ERROR_SQL: 500,
    ERROR_UNKNOWN: 500,
    ERROR_GLPI_PARTIAL_ADD: 207,
    ERROR_GLPI_PARTIAL_UPDATE: 207,
    ERROR_GLPI_PARTIAL_DELETE: 207,
  };

  // Session-invalid on a data call is handled by re-init; it is covered above, so it is asked at login here.
  it.each(Object.keys(GLPI_ERROR_CODES) as (keyof typeof GLPI_ERROR_CODES)[])('maps %s to a GlpiError with its disposition and advice', async (code) => {
    mock = createMockGlpi();
    const status = statusOf[code] ?? 400;
    const message = code.startsWith('ERROR_GLPI_PARTIAL') ? [{ id: 3, message: '' }, { id: false, message: 'Invalid email address x' }] : 'something went wrong';
    mock.route = (req) => (req.resource === 'initSession' ? { status, json: [code, message] } : undefined);
    const { client } = clientFor(mock);
    const err = await caught(client.ensureSession());
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(err.disposition).toBe(GLPI_ERROR_CODES[code].disposition);
    expect(isTransient(err)).toBe(GLPI_ERROR_CODES[code].disposition === 'retry');
    expect(err.advice).toBeTruthy();
    expect(err.endpoint).toBe('GET /initSession');
  });

  it('transient GLPI codes are exactly the session and database ones', () => {
    const transient = Object.entries(GLPI_ERROR_CODES).filter(([, info]) => info.disposition === 'retry').map(([code]) => code);
    expect(transient.sort()).toEqual(['ERROR_SESSION_TOKEN_INVALID', 'ERROR_SQL', 'ERROR_UNKNOWN']);
  });

  it('advises where to fix a wrong app token and a refused IP', async () => {
    mock = createMockGlpi();
    mock.route = () => ({ status: 400, json: ['ERROR_WRONG_APP_TOKEN_PARAMETER', 'parameter app_token seems wrong; view documentation in your browser at http://x/apirest.php/#ERROR_WRONG_APP_TOKEN_PARAMETER'] });
    const { client } = clientFor(mock);
    const appErr = await caught(client.ensureSession());
    expect(appErr.advice).toMatch(/Setup > General > API/);
    expect(appErr.message).not.toMatch(/view documentation/);
    mock.route = () => ({ status: 400, json: ['ERROR_NOT_ALLOWED_IP', "There isn't an active API client matching your IP address in the configuration (10.0.0.5)"] });
    const ipErr = await caught(client.ensureSession());
    expect(ipErr.advice).toMatch(/API client/);
    expect(ipErr.category).toBe('access');
  });

  it('treats ERROR_RIGHT_MISSING (403) and ERROR_GLPI_ADD with a permission message (400) as missing profile rights', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) =>
      req.method === 'GET'
        ? { status: 403, json: ['ERROR_RIGHT_MISSING', "You don't have permission to perform this action."] }
        : { status: 400, json: ['ERROR_GLPI_ADD', "You don't have permission to perform this action."] },
    );
    const { client } = clientFor(mock);
    const readErr = await caught(client.getItem('User', 7));
    const addErr = await caught(client.addItem('User', { name: 'x' }));
    for (const err of [readErr, addErr]) {
      expect(err.category).toBe('permission');
      expect(err.transient).toBe(false);
      expect(err.advice).toMatch(/Profiles/);
    }
    expect(addErr.code).toBe('ERROR_GLPI_ADD');
    expect(addErr.status).toBe(400);
  });

  it('keeps ERROR_GLPI_ADD for invalid input as invalid-request', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 400, json: ['ERROR_GLPI_ADD', 'Unable to add. The user already exists.'] }));
    const { client } = clientFor(mock);
    const err = await caught(client.addItem('User', { name: 'jdoe' }));
    expect(err.category).toBe('invalid-request');
    expect(err.glpiMessage).toBe('Unable to add. The user already exists.');
  });

  it('recognises "API disabled" behind the generic ERROR code', async () => {
    mock = createMockGlpi();
    mock.route = () => ({ status: 400, json: ['ERROR', 'API disabled'] });
    const { client } = clientFor(mock);
    const err = await caught(client.ensureSession());
    expect(err.code).toBe('GLPI_API_DISABLED');
    expect(err.advice).toMatch(/Enable Rest API/);
  });

  it('treats ERROR_GLPI_UPDATE with a null message (unknown id) as not found', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 400, json: ['ERROR_GLPI_UPDATE', null] }));
    const { client } = clientFor(mock);
    const err = await caught(client.updateItem('Ticket', 99999, { status: 2 }));
    expect(err.code).toBe('ERROR_GLPI_UPDATE');
    expect(isGlpiNotFound(err)).toBe(true);
  });

  it('treats 404 ERROR_ITEM_NOT_FOUND as not found', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 404, json: ['ERROR_ITEM_NOT_FOUND', 'Item not found'] }));
    const { client } = clientFor(mock);
    expect(isGlpiNotFound(await caught(client.getItem('Ticket', 5)))).toBe(true);
  });

  it.each([
    ['an empty 200', { status: 200, raw: '' }, 'GLPI_EMPTY_RESPONSE'],
    ['a non-JSON 200 (PHP fatal error page)', { status: 200, raw: '<br />\n<b>Fatal error</b>: Uncaught TypeError' }, 'GLPI_INVALID_RESPONSE'],
    ['a 201 with an empty body', { status: 201, raw: '' }, 'GLPI_EMPTY_RESPONSE'],
  ])('treats %s as a transient error, not success', async (_label, reply, code) => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => reply);
    const { client } = clientFor(mock);
    const err = await caught(client.addItem('Ticket', { name: 't' }));
    expect(err.code).toBe(code);
    expect(err.transient).toBe(true);
    expect(err.advice).toMatch(/php-errors\.log/);
  });

  it.each([500, 502, 503, 504])('treats HTTP %i as transient', async (status) => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status, raw: '<html>Bad gateway</html>' }));
    const { client } = clientFor(mock);
    const err = await caught(client.getItem('Ticket', 1));
    expect(err.code).toBe('GLPI_SERVER_ERROR');
    expect(isTransient(err)).toBe(true);
  });

  it('treats 429 as transient', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 429, raw: '' }));
    const { client } = clientFor(mock);
    const err = await caught(client.getItem('Ticket', 1));
    expect(err.code).toBe('GLPI_RATE_LIMITED');
    expect(isTransient(err)).toBe(true);
  });

  it.each([
    ['ECONNREFUSED', 'GLPI_NETWORK_ERROR'],
    ['ECONNRESET', 'GLPI_NETWORK_ERROR'],
    ['ENOTFOUND', 'GLPI_NETWORK_ERROR'],
    ['UND_ERR_SOCKET', 'GLPI_NETWORK_ERROR'],
    ['UND_ERR_CONNECT_TIMEOUT', 'GLPI_TIMEOUT'],
    ['UND_ERR_HEADERS_TIMEOUT', 'GLPI_TIMEOUT'],
    ['UND_ERR_BODY_TIMEOUT', 'GLPI_TIMEOUT'],
    ['CERT_HAS_EXPIRED', 'GLPI_TLS_ERROR'],
  ])('treats network failure %s as transient %s', async (nodeCode, code) => {
    mock = createMockGlpi(() => ({ error: Object.assign(new Error(`failure ${nodeCode}`), { code: nodeCode }) }));
    const { client } = clientFor(mock);
    const err = await caught(client.ensureSession());
    expect(err.code).toBe(code);
    expect(isTransient(err)).toBe(true);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('treats an aborted (timed out) request as GLPI_TIMEOUT', async () => {
    mock = createMockGlpi(() => ({ error: new DOMException('The operation was aborted due to timeout', 'TimeoutError') }));
    const { client } = clientFor(mock);
    const err = await caught(client.ensureSession());
    expect(err.code).toBe('GLPI_TIMEOUT');
    expect(err.transient).toBe(true);
  });

  it('explains a redirect and a web server 404 as permanent URL problems', async () => {
    mock = createMockGlpi(() => ({ status: 301, raw: '', headers: { location: 'https://glpi.test/glpi/apirest.php/initSession?x=1' } }));
    const { client } = clientFor(mock);
    const redirect = await caught(client.ensureSession());
    expect(redirect.code).toBe('GLPI_REDIRECTED');
    expect(redirect.message).toContain('https://glpi.test/glpi/apirest.php/initSession');
    expect(redirect.message).not.toContain('x=1');
    expect(redirect.transient).toBe(false);
    mock.route = () => ({ status: 404, raw: '<html>Not Found</html>' });
    const notFound = await caught(client.ensureSession());
    expect(notFound.code).toBe('GLPI_HTTP_NOT_FOUND');
    expect(notFound.transient).toBe(false);
    expect(notFound.advice).toMatch(/apirest\.php/);
  });

  it('never puts a token in an error message', async () => {
    mock = createMockGlpi();
    mock.route = () => ({ status: 400, json: ['ERROR_GLPI_LOGIN', `bad token ${USER_TOKEN} with ${APP_TOKEN}`] });
    const { client } = clientFor(mock);
    const err = await caught(client.ensureSession());
    expect(err.message).not.toContain(USER_TOKEN);
    expect(err.message).not.toContain(APP_TOKEN);
    expect(err.glpiMessage).toContain('[redacted]');
  });

  it('accepts a GLPI 11 session token (120-char base64 with + / =) and sends it only in the Session-Token header', async () => {
    mock = createMockGlpi();
    // Shape observed on GLPI 11.0.8: the PHP session id encrypted with the instance key, base64.
    const token11 = `${'Ab+/'.repeat(29)}x0==`;
    expect(token11).toHaveLength(120);
    const glpi = mock;
    const ticket = withSession(glpi, () => ({ status: 200, json: { id: 5 } }));
    glpi.route = (req) => {
      if (req.resource !== 'initSession') return ticket(req);
      glpi.sessions.add(token11);
      return { status: 200, json: { session_token: token11 } };
    };
    const { client } = clientFor(glpi);
    await expect(client.getItem('Ticket', 5)).resolves.toMatchObject({ id: 5 });
    const call = glpi.requests.find((r) => r.resource === 'Ticket/5');
    expect(call?.headers['session-token']).toBe(token11);
    expect(glpi.requests.every((r) => !r.query.has('session_token'))).toBe(true);
  });

  it('rejects a login answer without a usable session token', async () => {
    mock = createMockGlpi();
    mock.route = () => ({ status: 200, json: { session_token: 'has spaces "and quotes"' } });
    const { client } = clientFor(mock);
    const err = await caught(client.ensureSession());
    expect(err.code).toBe('GLPI_UNEXPECTED_RESPONSE');
    expect(err.message).not.toContain('has spaces');
  });
});

describe('GLPI version', () => {
  it('learns the version once per session from getGlpiConfig and exposes it', async () => {
    mock = createMockGlpi();
    mock.glpiVersion = '11.0.8';
    mock.route = withSession(mock, () => ({ status: 200, json: { id: 1 } }));
    const { client } = clientFor(mock);
    expect(client.glpiVersion).toBeUndefined();
    await client.getItem('Ticket', 1);
    await client.getItem('Ticket', 1);
    expect(client.glpiVersion).toBe('11.0.8');
    expect(mock.count('GET', 'getGlpiConfig')).toBe(1);
    mock.expireSessions();
    await client.getItem('Ticket', 1);
    expect(mock.count('GET', 'getGlpiConfig')).toBe(2);
  });

  it('logs the version once per session, never the session token', async () => {
    mock = createMockGlpi();
    mock.glpiVersion = '11.0.8';
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const { client } = clientFor(mock, {}, { logger });
    await client.ensureSession();
    const opened = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'GLPI session opened');
    expect(opened).toEqual([expect.objectContaining({ hookId: 'h1', glpiVersion: '11.0.8', level: 30 })]);
    for (const token of mock.sessions) expect(lines.join('\n')).not.toContain(token);
  });

  it('still opens the session when getGlpiConfig fails or answers something that is no version', async () => {
    mock = createMockGlpi();
    const glpi = mock;
    glpi.route = (req) => (req.resource === 'getGlpiConfig' ? { status: 200, json: { cfg_glpi: { version: '<script>' } } } : undefined);
    const { client } = clientFor(glpi);
    await client.ensureSession();
    expect(client.glpiVersion).toBeUndefined();
    glpi.route = (req) => (req.resource === 'getGlpiConfig' ? { status: 500, raw: '<html>oops</html>' } : undefined);
    await client.killSession();
    await client.ensureSession();
    expect(client.glpiVersion).toBeUndefined();
    expect(glpi.sessions.size).toBe(1);
  });

  it.each([
    ['10.0.3', 'Eve &#38;#60;b&#38;#62; 5 &#38;lt; 6'],
    ['11.0.8', 'Eve &#60;b&#62; 5 &lt; 6'],
  ])('on GLPI %s writes text that looks HTML-encoded so that it reads back as written', async (version, sent) => {
    mock = createMockGlpi();
    mock.glpiVersion = version;
    mock.route = withSession(mock, () => ({ status: 201, json: { id: 3, message: '' } }));
    const { client } = clientFor(mock);
    const html = '<p>&lt;b&gt; stays</p>';
    await client.addItem('Ticket', { name: 'Eve &#60;b&#62; 5 &lt; 6', content: html, _useremails: ['a&b@x.example'], type: 1 });
    const post = mock.requests.find((r) => r.method === 'POST');
    // HTML and plain text with raw special characters are left to GLPI's own encoding.
    expect(JSON.parse(post?.body ?? '')).toEqual({ input: { name: sent, content: html, _useremails: ['a&b@x.example'], type: 1 } });
  });

  const hostileCell = { '2': 9, '1': 'Eve &#60;b&#62; &#38;amp; co', '5': ['a&#38;b@x.example', 'c@x.example'] };
  const rawCell = { '2': 9, '1': 'Eve <b> &amp; co', '5': ['a&b@x.example', 'c@x.example'] };

  it('decodes search cells once on GLPI 10, which answers them HTML-encoded whatever the header', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: { totalcount: 1, count: 1, data: [hostileCell] } }));
    const { client } = clientFor(mock);
    const { rows } = await client.search('User', { criteria: [] });
    expect(client.glpiVersion).toBe('10.0.3');
    expect(rows).toEqual([{ '2': 9, '1': 'Eve <b> &amp; co', '5': ['a&b@x.example', 'c@x.example'] }]);
  });

  it('leaves search cells as they are on GLPI 11, which stores and answers text raw', async () => {
    mock = createMockGlpi();
    mock.glpiVersion = '11.0.8';
    mock.route = withSession(mock, () => ({ status: 200, json: { totalcount: 1, count: 1, data: [rawCell] } }));
    const { client } = clientFor(mock);
    const { rows } = await client.search('User', { criteria: [] });
    // A literal "&amp;" someone typed stays "&amp;" (decoding would turn it into "&").
    expect(rows).toEqual([rawCell]);
  });
});

describe('items', () => {
  it('creates an item with {input} and returns its id (201)', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 201, json: { id: 7, message: 'Item successfully added: Doe John' } }));
    const { client } = clientFor(mock);
    await expect(client.addItem('User', { name: 'jdoe' })).resolves.toEqual({ id: 7 });
    const post = mock.requests.find((r) => r.method === 'POST');
    expect(post?.resource).toBe('User');
    expect(JSON.parse(post?.body ?? '')).toEqual({ input: { name: 'jdoe' } });
  });

  it('fills the parent link of sub-items from the URL (GLPI does not)', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 201, json: { id: 9, message: '' } }));
    const { client } = clientFor(mock);
    await client.addSubItem('Ticket', 12, 'ITILFollowup', { content: 'hi', items_id: 999 });
    await client.addSubItem('Ticket', 12, 'Ticket_User', { users_id: 0, type: 1, alternative_email: 'a@b.c' });
    const [followup, actor] = mock.requests.filter((r) => r.method === 'POST');
    expect(followup?.resource).toBe('Ticket/12/ITILFollowup');
    expect(JSON.parse(followup?.body ?? '')).toEqual({ input: { content: 'hi', itemtype: 'Ticket', items_id: 12 } });
    expect(actor?.resource).toBe('Ticket/12/Ticket_User');
    expect(JSON.parse(actor?.body ?? '').input).toMatchObject({ tickets_id: 12, users_id: 0 });
  });

  it('creates in bulk and returns ids in input order', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 201, json: [{ id: 9, message: 'a' }, { id: 10, message: 'b' }] }));
    const { client } = clientFor(mock);
    await expect(client.addItems('User', [{ name: 'a' }, { name: 'b' }])).resolves.toEqual([{ id: 9 }, { id: 10 }]);
    await expect(client.addItems('User', [])).resolves.toEqual([]);
    expect(mock.count('POST', 'User')).toBe(1);
  });

  it('fails a partial bulk creation (207) naming the failed items and keeping the created ids', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({
      status: 207,
      json: ['ERROR_GLPI_PARTIAL_ADD', [{ id: 8, message: '' }, { id: false, message: 'Invalid email address x' }]],
    }));
    const { client } = clientFor(mock);
    const err = await caught(client.addItems('User', [{ name: 'a' }, { name: 'b' }]));
    expect(err.code).toBe('ERROR_GLPI_PARTIAL_ADD');
    expect(err.message).toContain('item 1: Invalid email address x');
    expect(err.results).toEqual([{ id: 8, message: '' }, { id: false, message: 'Invalid email address x' }]);
  });

  it('updates with PUT /:itemtype/:id and accepts GLPI\'s [{"<id>": true}] answer', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: [{ '1': true, message: '' }] }));
    const { client } = clientFor(mock);
    await client.updateItem('Ticket', 1, { status: 2 });
    const put = mock.requests.find((r) => r.method === 'PUT');
    expect(put?.resource).toBe('Ticket/1');
    expect(JSON.parse(put?.body ?? '')).toEqual({ input: { status: 2 } });
  });

  it('fails an update GLPI flags false', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: [{ '1': false, message: 'Nope' }] }));
    const { client } = clientFor(mock);
    await expect(client.updateItem('Ticket', 1, { status: 2 })).rejects.toMatchObject({ code: 'ERROR_GLPI_UPDATE' });
  });

  it('rejects an id that is not a GLPI id before calling', async () => {
    mock = createMockGlpi();
    const { client } = clientFor(mock);
    await expect(client.getItem('Ticket', 1.5)).rejects.toMatchObject({ code: 'GLPI_INVALID_ARGUMENT' });
    expect(mock.requests).toHaveLength(0);
  });

  it('pages sub-items with range / Content-Range (206) until the total', async () => {
    mock = createMockGlpi();
    const all = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, tickets_id: 3 }));
    mock.route = withSession(mock, (req) => {
      const [start, end] = (req.query.get('range') ?? '').split('-').map(Number) as [number, number];
      const page = all.slice(start, end + 1);
      const last = start + page.length - 1;
      return {
        status: last + 1 < all.length ? 206 : 200,
        json: page,
        headers: { 'content-range': `${start}-${last}/${all.length}` },
      };
    });
    const { client } = clientFor(mock, {}, { pageSize: 2 });
    const items = await client.getSubItems('Ticket', 3, 'ITILFollowup');
    expect(items.map((i) => i.id)).toEqual([1, 2, 3, 4, 5]);
    const ranges = mock.requests.filter((r) => r.resource === 'Ticket/3/ITILFollowup').map((r) => r.query.get('range'));
    expect(ranges).toEqual(['0-1', '2-3', '4-5']);
  });

  it('listPage without Content-Range: a full page never claims the end of the list, a short or empty one does', async () => {
    mock = createMockGlpi();
    const all = Array.from({ length: 25 }, (_, i) => ({ id: 100 - i }));
    // A proxy (or a GLPI that forgot it) drops the header; a garbled one is no better.
    mock.route = withSession(mock, (req) => {
      const [start, end] = (req.query.get('range') ?? '').split('-').map(Number) as [number, number];
      return { status: 200, json: all.slice(start, end + 1), headers: start === 10 ? { 'content-range': 'items 10-19 of 25' } : undefined };
    });
    const { client } = clientFor(mock);
    const page = (start: number) => client.listPage('Document_Item', { sort: 'id', order: 'DESC', range: [start, start + 9] });
    for (const start of [0, 10]) {
      const { items, total } = await page(start);
      expect(items).toHaveLength(10);
      expect(total).toBeGreaterThan(start + 10);
    }
    await expect(page(20)).resolves.toMatchObject({ total: 25 });
    await expect(page(30)).resolves.toMatchObject({ items: [], total: 30 });
  });

  it('stops paging when items vanish between pages (ERROR_RANGE_EXCEED_TOTAL)', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) =>
      req.query.get('range') === '0-1'
        ? { status: 206, json: [{ id: 1 }, { id: 2 }], headers: { 'content-range': '0-1/4' } }
        : { status: 400, json: ['ERROR_RANGE_EXCEED_TOTAL', 'Provided range exceed total count of data: 1'] },
    );
    const { client } = clientFor(mock, {}, { pageSize: 2 });
    await expect(client.getSubItems('Ticket', 3, 'Ticket_User')).resolves.toHaveLength(2);
  });

  it('returns an empty list for sub-items GLPI has none of', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: [] }));
    const { client } = clientFor(mock);
    await expect(client.getSubItems('Ticket', 3, 'Ticket_User')).resolves.toEqual([]);
  });

  it('uploads a document as multipart uploadManifest + filename[0]', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({
      status: 201,
      json: { id: 4, message: '', upload_result: { filename: [{ name: '5f1a.txt' }] } },
    }));
    const { client } = clientFor(mock);
    const file = { filename: 'report "v1".txt', contentType: 'text/plain', data: new TextEncoder().encode('hello') };
    await expect(client.uploadDocument(file, { itemtype: 'Ticket', items_id: 3 })).resolves.toEqual({ id: 4 });
    const post = mock.requests.find((r) => r.method === 'POST');
    expect(post?.resource).toBe('Document');
    const boundary = /boundary=(.+)$/.exec(post?.headers['content-type'] ?? '')?.[1];
    expect(boundary).toBeTruthy();
    expect(post?.body).toContain('name="uploadManifest"');
    expect(post?.body).toContain('name="filename[0]"; filename="report _v1_.txt"');
    expect(post?.body).toContain('\r\n\r\nhello\r\n');
    // A plain form field (undici's FormData writes no Content-Type for it), so PHP puts it in $_POST.
    const manifestPart = /name="uploadManifest"\r\n\r\n(.*)\r\n/.exec(post?.body ?? '');
    expect(post?.body).toContain('Content-Type: text/plain\r\n\r\nhello');
    const manifest = JSON.parse(manifestPart?.[1] ?? '');
    expect(manifest.input).toMatchObject({ itemtype: 'Ticket', items_id: 3, _filename: ['report "v1".txt'], _only_if_upload_succeed: 1 });
  });

  it('fails an upload whose file GLPI refused', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({
      status: 201,
      json: { id: 4, message: '', upload_result: { filename: [{ name: 'x.exe', error: 'Filetype not allowed' }] } },
    }));
    const { client } = clientFor(mock);
    const err = await caught(client.uploadDocument({ filename: 'x.exe', contentType: 'application/octet-stream', data: new Uint8Array([1]) }, {}));
    expect(err.code).toBe('GLPI_UPLOAD_FAILED');
    expect(err.transient).toBe(false);
  });

  it('answers the doctor calls and keeps the session id out of the full session', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) => {
      if (req.resource === 'getMyEntities') return { status: 200, json: { myentities: [{ id: 0, name: 'Root entity' }] } };
      if (req.resource === 'getActiveProfile') return { status: 200, json: { active_profile: { id: 4, name: 'Super-Admin' } } };
      if (req.resource === 'getFullSession') return { status: 200, json: { session: { glpiID: 2, valid_id: 'secret-session' } } };
      return undefined;
    });
    const { client } = clientFor(mock);
    await expect(client.getMyEntities()).resolves.toEqual([{ id: 0, name: 'Root entity' }]);
    await expect(client.getActiveProfile()).resolves.toMatchObject({ name: 'Super-Admin' });
    await expect(client.getFullSession()).resolves.toEqual({ glpiID: 2 });
    expect(mock.requests.find((r) => r.resource === 'getMyEntities')?.query.get('is_recursive')).toBe('true');
  });
});

describe('registry', () => {
  function hook(id: string): Pick<HookConfig, 'id' | 'glpi'> {
    const { hookId: _hookId, ...glpi } = hookConfig();
    return { id, glpi };
  }

  it('gives one client per hook and kills every session on closeAll', async () => {
    mock = createMockGlpi();
    const clients = createGlpiClients([hook('a'), hook('b')], { dispatcher: mock.agent });
    expect(clients.get('a').hookId).toBe('a');
    expect(clients.get('a')).toBe(clients.get('a'));
    expect(clients.has('c')).toBe(false);
    expect(() => clients.get('c')).toThrow(/no GLPI client for hook "c"/);
    await clients.get('a').ensureSession();
    await clients.get('b').ensureSession();
    expect(mock.sessions.size).toBe(2);
    await clients.closeAll();
    expect(mock.sessions.size).toBe(0);
    expect(mock.count('GET', 'killSession')).toBe(2);
  });

  it('creates and closes its own pools when no dispatcher is given', async () => {
    mock = createMockGlpi();
    const clients = createGlpiClients([hook('a')]);
    await expect(clients.closeAll()).resolves.toBeUndefined();
  });

  it('counts and times every call per hook and endpoint in Prometheus', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 201, json: { id: 5, message: '' } }));
    const metrics = createMetrics();
    const clients = createGlpiClients([hook('a')], { dispatcher: mock.agent, observer: (id) => glpiMetricsObserver(metrics, id) });
    await clients.get('a').addSubItem('Ticket', 3, 'ITILFollowup', { content: 'x' });
    await clients.closeAll();
    const text = await metrics.register.metrics();
    expect(text).toContain('cgb_glpi_calls_total{hook="a",endpoint="POST /Ticket/:id/ITILFollowup",status="201"} 1');
    expect(text).toContain('cgb_glpi_calls_total{hook="a",endpoint="GET /initSession",status="200"} 1');
    expect(text).toContain('cgb_glpi_call_duration_seconds_count{hook="a",endpoint="POST /Ticket/:id/ITILFollowup"} 1');
  });
});
