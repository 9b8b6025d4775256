import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../../src/chatwoot/signature.js';
import { loadFixture } from '../../support/fixtures.js';
import { startTestApp, TEST_SECRET, TEST_URL_TOKEN, type TestApp } from '../../support/app.js';

/**
 * The attacks of issue #10 "Answers and retries" against the HTTP edge: each request below is one a
 * client (or a customer whose text ends up in a signed payload) can send.
 */

const NOW_S = 1_780_000_000;
const clock = () => NOW_S * 1000;
const ADMIN = 'admin-token-for-ready-0123';

let seq = 0;
function signedHeaders(body: string, extra: Record<string, string> = {}, ts = NOW_S): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-chatwoot-timestamp': String(ts),
    'x-chatwoot-signature': sign(TEST_SECRET, ts, body),
    'x-chatwoot-delivery': `hostile-${(seq += 1)}-${Math.random().toString(36).slice(2)}`,
    ...extra,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are reshaped freely by path
type Json = Record<string, any>;

function fixture(name: string, mutate: (p: Json) => void = () => undefined): string {
  const payload = loadFixture<Json>(name);
  mutate(payload);
  return JSON.stringify(payload);
}

async function jobCount(t: TestApp): Promise<number> {
  const counts = await t.queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('hostile input at the webhook edge (secret and URL token both configured)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock, env: { CHATWOOT_WEBHOOK_TOKEN: TEST_URL_TOKEN, ADMIN_TOKEN: ADMIN } });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (body: string, headers: Record<string, string>, query = '') =>
    t.app.inject({ method: 'POST', url: `/webhooks/chatwoot/acme${query}`, headers, payload: body });

  it('refuses a body nested past 64 levels with a 400 and lets 64 levels through to the schema', async () => {
    const before = await jobCount(t);
    const nest = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    // Inside a field the schema keeps as a free record (level 2 of the body): only the depth can refuse it.
    const deep = (levels: number) => fixture('message_created.incoming', (p) => {
      p.id = 880_000 + levels;
      p.content_attributes = JSON.parse(nest(levels));
    });
    for (const body of [deep(62), deep(63)]) {
      const res = await post(body, signedHeaders(body));
      expect(res.statusCode).toBe(202);
    }
    for (const body of [deep(64), `[${'['.repeat(20_000)}${']'.repeat(20_000)}]`]) {
      const res = await post(body, signedHeaders(body));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_payload', message: 'body is nested more than 64 levels deep' });
    }
    expect(await jobCount(t)).toBe(before + 2);
  });

  it.each([
    ['a push message created_at of 1e20', (p: Json) => void (p.conversation.messages[0].created_at = 1e20)],
    ['a negative conversation created_at', (p: Json) => void (p.conversation.created_at = -1e20)],
    ['a conversation updated_at past 2038', (p: Json) => void (p.conversation.updated_at = 4_102_444_800)],
    ['a message created_at in year 2100', (p: Json) => void (p.created_at = '2100-01-01T00:00:00Z')],
  ])('answers 400 for %s and queues nothing', async (_name, mutate) => {
    const before = await jobCount(t);
    const body = fixture('message_created.incoming', mutate);
    const res = await post(body, signedHeaders(body));
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toContain('date out of range');
    expect(await jobCount(t)).toBe(before);
  });

  it('answers 400 (not 500) to a repeated ?token=, signed or not, without reading the body', async () => {
    const body = fixture('conversation_updated');
    const unsigned = await post(body, { 'content-type': 'application/json' }, `?token=${TEST_URL_TOKEN}&token=b`);
    expect(unsigned.statusCode).toBe(400);
    expect(unsigned.json()).toMatchObject({ error: 'invalid_query' });
    const signed = await post(body, signedHeaders(body), '?token=a&token=b');
    expect(signed.statusCode).toBe(400);
    expect(t.logLines.join('\n')).not.toContain('"level":50');
  });

  it('refuses a failing signature with 401 even next to the correct ?token=', async () => {
    const before = await jobCount(t);
    const body = fixture('conversation_updated.labels');
    const wrong = { ...signedHeaders(body), 'x-chatwoot-signature': sign('not-the-secret-at-all', NOW_S, body) };
    const res = await post(body, wrong, `?token=${TEST_URL_TOKEN}`);
    expect(res.statusCode).toBe(401);
    const stale = await post(body, signedHeaders(body, {}, NOW_S - 400), `?token=${TEST_URL_TOKEN}`);
    expect(stale.statusCode).toBe(401);
    expect(await jobCount(t)).toBe(before);
    // Unsigned with the token (Chatwoot automation webhooks are unsigned) still works.
    expect((await post(body, { 'content-type': 'application/json' }, `?token=${TEST_URL_TOKEN}`)).statusCode).toBe(202);
  });

  it('dedupes the same signed bytes replayed under new or no delivery ids', async () => {
    const body = fixture('conversation_status_changed', (p) => void (p.id = 7_001));
    const headers = signedHeaders(body);
    const first = await post(body, headers);
    expect(first.statusCode).toBe(202);
    const before = await jobCount(t);
    const renamed = await post(body, { ...headers, 'x-chatwoot-delivery': 'a-brand-new-delivery-id' });
    expect(renamed.json()).toEqual({ status: 'duplicate', id: first.json<{ id: string }>().id });
    const { 'x-chatwoot-delivery': _dropped, ...noDelivery } = headers;
    expect((await post(body, noDelivery)).json()).toMatchObject({ status: 'duplicate' });
    expect(await jobCount(t)).toBe(before);
  });

  it('never echoes an unparseable URL and its ?token= back', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/webhooks/chatwoot/%E0%A4%A?token=${TEST_URL_TOKEN}`, payload: '{}' });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain(TEST_URL_TOKEN);
    expect(res.body).not.toContain('%E0');
  });

  it('caps raw header values in refusal logs', async () => {
    const body = fixture('conversation_updated');
    const huge = 'D'.repeat(10_000);
    const res = await post(body, { ...signedHeaders(body), 'x-chatwoot-signature': `sha256=${'0'.repeat(64)}`, 'x-chatwoot-delivery': huge });
    expect(res.statusCode).toBe(401);
    const line = t.logLines.find((l) => l.includes('authentication failed'));
    expect(line).toBeDefined();
    expect(line).not.toContain(huge);
    expect(line!.length).toBeLessThan(1_000);
  });

  it('shows /ready details only with the admin Bearer token', async () => {
    const bare = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(bare.statusCode).toBe(200);
    expect(bare.json()).toEqual({ status: 'ready' });
    expect(bare.body).not.toContain('acme');
    const wrong = await t.app.inject({ method: 'GET', url: '/ready', headers: { authorization: 'Bearer nope' } });
    expect(wrong.json()).toEqual({ status: 'ready' });
    const full = await t.app.inject({ method: 'GET', url: '/ready', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(full.json<{ hooks: Record<string, unknown> }>().hooks.acme).toBeDefined();
  });

  it('sets request and header timeouts on the server', () => {
    expect(t.app.server.requestTimeout).toBe(t.config.requestTimeoutMs);
    expect(t.app.server.headersTimeout).toBe(t.config.headersTimeoutMs);
    expect(t.config.requestTimeoutMs).toBeGreaterThan(0);
  });
});

/**
 * A client sends the headers of a large body and then nothing (or a trickle): the answer must come
 * without the body, so nobody can make the bridge hold a buffer for a request it will refuse.
 */
describe('refusing before the body is read', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp({ clock });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await t.close();
  });

  /** Sends the request head and 10 bytes of a declared 60 KB body (under the limit); resolves with the status line. */
  function headersOnly(path: string, headers: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer to ${path} before the body was sent`));
      }, 20_000);
      socket.on('data', (chunk) => {
        answer += chunk.toString('latin1');
        const end = answer.indexOf('\r\n');
        if (end >= 0) {
          clearTimeout(timer);
          socket.destroy();
          resolve(answer.slice(0, end));
        }
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const head = Object.entries({ host: '127.0.0.1', 'content-type': 'application/json', 'content-length': '60000', ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n{"event":"`);
    });
  }

  it('answers 404 for an unknown hook without waiting for the body', async () => {
    expect(await headersOnly('/webhooks/chatwoot/no-such-hook', {})).toMatch(/^HTTP\/1\.1 404/);
  });

  it('answers 401 for a request without any auth header without waiting for the body', async () => {
    expect(await headersOnly('/webhooks/chatwoot/acme', {})).toMatch(/^HTTP\/1\.1 401/);
  });
});
