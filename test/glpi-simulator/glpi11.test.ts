/**
 * Conformance of the GLPI 11.0.8 behaviour, as observed on the real 11.0.8 (../shared/real-glpi
 * README "Quirks"; re-checked against http://127.0.0.1:8089 while writing this), next to the same
 * exchange on the 10.0.3 behaviour where they differ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { APP_TOKEN, call, login, q } from './support.js';

let v10: GlpiSimulator;
let v11: GlpiSimulator;

beforeAll(async () => {
  v10 = await startGlpiSimulator({ appToken: APP_TOKEN });
  v11 = await startGlpiSimulator({ appToken: APP_TOKEN, version: '11.0.8' });
});

afterAll(async () => {
  await v10?.close();
  await v11?.close();
});

const HOSTILE = '<p>&lt;b&gt;not bold&lt;/b&gt; &amp; &quot;quotes&quot; 5 &gt; 3 🙂<br>two</p><b>live</b> & raw';

describe('GLPI 11.0.8 sessions', () => {
  it('answers 120-char base64 session tokens, accepted in the Session-Token header', async () => {
    const token = await login(v11);
    expect(token).toMatch(/^[A-Za-z0-9+/]{118}==$/);
    const res = await call(v11, 'GET', 'getActiveProfile', { session: token });
    expect(res.status).toBe(200);
    expect(await login(v10)).toMatch(/^[0-9a-v]{26}$/);
  });

  it('answers a query-string session_token PHP refuses as a session id with HTTP 500 and an HTML page', async () => {
    const token = `${await login(v11)}+/`;
    const res = await call(v11, 'GET', `getActiveProfile?session_token=${encodeURIComponent(token)}`);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.json).toBeUndefined();
    // 10.0.3 takes the query-string token like the header.
    const ok = await call(v10, 'GET', `getActiveProfile?session_token=${await login(v10)}`);
    expect(ok.status).toBe(200);
  });

  it('answers a header token it never issued with ERROR_SESSION_TOKEN_MISSING, an ended one with ERROR_SESSION_TOKEN_INVALID', async () => {
    const forged = await call(v11, 'GET', 'getActiveProfile', { session: 'abcdefghij0123456789abcdef' });
    expect(forged.status).toBe(400);
    expect(forged.json).toEqual([
      'ERROR_SESSION_TOKEN_MISSING',
      `parameter session_token is missing or empty; view documentation in your browser at http://127.0.0.1:${v11.port}/api.php/v1/#ERROR_SESSION_TOKEN_MISSING`,
    ]);
    const token = await login(v11);
    await call(v11, 'GET', 'killSession', { session: token });
    const ended = await call(v11, 'GET', 'getActiveProfile', { session: token });
    expect(ended.status).toBe(401);
    expect(ended.json).toEqual(['ERROR_SESSION_TOKEN_INVALID', 'session_token seems invalid']);
  });

  it('tells its version in getGlpiConfig, without url_base_api', async () => {
    const res = await call(v11, 'GET', 'getGlpiConfig', { session: await login(v11) });
    const cfg = (res.json as { cfg_glpi: Record<string, unknown> }).cfg_glpi;
    expect(cfg.version).toBe('11.0.8');
    expect(cfg).not.toHaveProperty('url_base_api');
    const cfg10 = ((await call(v10, 'GET', 'getGlpiConfig', { session: await login(v10) })).json as { cfg_glpi: Record<string, unknown> }).cfg_glpi;
    expect(cfg10.version).toBe('10.0.3');
  });
});

describe('GLPI 11.0.8 text, links and messages', () => {
  it('stores text as sent and answers it raw, with or without X-GLPI-Sanitized-Content', async () => {
    const session = await login(v11);
    const created = await call(v11, 'POST', 'Ticket', { session, body: { input: { name: 'Eve <i>x</i> & "y"', content: HOSTILE } } });
    expect(created.status).toBe(201);
    const id = (created.json as { id: number }).id;
    expect(created.json).toEqual({ id, message: 'Item successfully added: Eve &lt;i&gt;x&lt;/i&gt; &amp; &quot;y&quot;' });
    expect(created.headers.location).toBe(`http://127.0.0.1:${v11.port}/api.php/v1/Ticket/${id}`);
    for (const headers of [{}, { 'x-glpi-sanitized-content': 'false' }] as Record<string, string>[]) {
      const read = await call(v11, 'GET', `Ticket/${id}`, { session, headers });
      expect((read.json as { content: string }).content).toBe(HOSTILE);
    }
    const found = await call(v11, 'GET', `search/Ticket?${q({ 'criteria[0][field]': 2, 'criteria[0][searchtype]': 'equals', 'criteria[0][value]': id, 'forcedisplay[0]': 21 })}`, { session });
    expect((found.json as { data: Record<string, unknown>[] }).data).toEqual([expect.objectContaining({ '1': 'Eve <i>x</i> & "y"', '21': HOSTILE })]);
  });

  it('10.0.3, for comparison: encoded storage, decoded item reads only with the header, "(id)" in the message', async () => {
    const session = await login(v10);
    const created = await call(v10, 'POST', 'Ticket', { session, body: { input: { name: 'Eve <i>x</i>', content: HOSTILE } }, headers: { 'x-glpi-sanitized-content': 'false' } });
    const id = (created.json as { id: number }).id;
    expect(created.json).toEqual({ id, message: `Item successfully added: Eve <i>x</i> (${id})` });
    expect(created.headers.location).toBe(`${v10.url}Ticket/${id}`);
    const read = await call(v10, 'GET', `Ticket/${id}`, { session, headers: { 'x-glpi-sanitized-content': 'false' } });
    expect((read.json as { content: string }).content).toBe(HOSTILE);
    const encoded = await call(v10, 'GET', `Ticket/${id}`, { session });
    expect((encoded.json as { content: string }).content).toMatch(/^&#60;p&#62;&#38;lt;b&#38;gt;not bold/);
  });

  it('serves the legacy API under api.php/v1 too and points HATEOAS links there', async () => {
    const session = await login(v11);
    const created = await call(v11, 'POST', 'Ticket', { session, body: { input: { name: 'links', content: 'x' } } });
    const id = (created.json as { id: number }).id;
    const res = await request11(`api.php/v1/Ticket/${id}`, session);
    expect(res.status).toBe(200);
    const links = (res.json as { links: { rel: string; href: string }[] }).links;
    expect(links.length).toBeGreaterThan(0);
    expect(links.every((l) => l.href.startsWith(`http://127.0.0.1:${v11.port}/api.php/v1/`))).toBe(true);
    // 10.0.3 has no api.php.
    expect((await call(v10, 'GET', '../api.php/v1/getActiveProfile', { session: await login(v10) })).status).toBe(404);
  });
});

async function request11(path: string, session: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${v11.port}/${path}`, { headers: { 'app-token': APP_TOKEN, 'session-token': session } });
  return { status: res.status, json: (await res.json()) };
}
