/** Fault injection, latency, call log and close(): what the client, sync and bench suites lean on. */
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { APP_TOKEN, call, login } from './support.js';

let sim: GlpiSimulator;
let token: string;

beforeAll(async () => {
  sim = await startGlpiSimulator({ appToken: APP_TOKEN });
  token = await login(sim);
});

beforeEach(() => {
  sim.clearFaults();
});

afterAll(async () => {
  await sim.close();
});

const profiles = () => call(sim, 'GET', 'getActiveEntities', { session: token });

describe('failNext', () => {
  it('status: answers the status from the proxy in front of GLPI (HTML), then recovers', async () => {
    sim.failNext({ kind: 'status', status: 503 }, 2);
    for (let i = 0; i < 2; i += 1) {
      const res = await profiles();
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    expect((await profiles()).status).toBe(200);
  });

  it('reset: destroys the socket without an answer', async () => {
    sim.failNext({ kind: 'reset' });
    await expect(profiles()).rejects.toThrow();
    expect(sim.calls.at(-1)).toMatchObject({ endpoint: '/getActiveEntities', status: 0 });
    expect((await profiles()).status).toBe(200);
  });

  it('empty200: 200 with an empty text/html body (a PHP fatal with display_errors off)', async () => {
    sim.failNext({ kind: 'empty200' });
    const res = await profiles();
    expect([res.status, res.text, res.headers['content-type']]).toEqual([200, '', 'text/html; charset=UTF-8']);
  });

  it('php-fatal: 200 with PHP\'s HTML error text, not JSON', async () => {
    sim.failNext({ kind: 'php-fatal' });
    const res = await profiles();
    expect(res.status).toBe(200);
    expect(res.text).toContain('<b>Fatal error</b>');
    expect(res.json).toBeUndefined();
  });

  it('hang: never answers; the client gives up on its own timeout', async () => {
    sim.failNext({ kind: 'hang' });
    const agent = new Agent({ headersTimeout: 200, bodyTimeout: 200 });
    try {
      await expect(request(`${sim.url}getActiveEntities`, { dispatcher: agent, headers: { 'app-token': APP_TOKEN, 'session-token': token } })).rejects.toMatchObject({
        code: 'UND_ERR_HEADERS_TIMEOUT',
      });
    } finally {
      await agent.destroy();
    }
    expect((await profiles()).status).toBe(200);
  });

  it('only hits the endpoint it names ("/path" or "METHOD /path")', async () => {
    sim.failNext({ kind: 'status', status: 500 }, 1, 'POST /Ticket/:id/ITILFollowup');
    expect((await profiles()).status).toBe(200);
    const ticket = ((await call(sim, 'POST', 'Ticket', { session: token, body: { input: { name: 't' } } })).json as { id: number }).id;
    const body = { input: { itemtype: 'Ticket', items_id: ticket, content: 'x' } };
    expect((await call(sim, 'POST', `Ticket/${ticket}/ITILFollowup`, { session: token, body })).status).toBe(500);
    expect(sim.followupsOf(ticket)).toEqual([]);
    expect((await call(sim, 'POST', `Ticket/${ticket}/ITILFollowup`, { session: token, body })).status).toBe(201);
  });

  it('afterCommit: the followup is created but the answer is lost', async () => {
    const ticket = ((await call(sim, 'POST', 'Ticket', { session: token, body: { input: { name: 'lost answer' } } })).json as { id: number }).id;
    sim.failNext({ kind: 'reset', afterCommit: true }, 1, '/ITILFollowup');
    await expect(call(sim, 'POST', 'ITILFollowup', { session: token, body: { input: { itemtype: 'Ticket', items_id: ticket, content: 'x' } } })).rejects.toThrow();
    expect(sim.followupsOf(ticket)).toHaveLength(1);
  });
});

describe('outage, latency, switches', () => {
  it('failAll fails every call until clearFaults', async () => {
    sim.failAll({ kind: 'status', status: 502 });
    expect((await profiles()).status).toBe(502);
    expect((await call(sim, 'GET', 'initSession', { headers: { authorization: 'user_token admin-user-token' } })).status).toBe(502);
    sim.clearFaults();
    expect((await profiles()).status).toBe(200);
  });

  it('setLatency delays answers but still answers, and meanResponseMs() shows the delay (the GLPI latency of the sync bench)', async () => {
    sim.resetCalls();
    expect(sim.meanResponseMs()).toBeNull();
    sim.setLatency(40);
    try {
      expect((await profiles()).status).toBe(200);
      expect((await profiles()).status).toBe(200);
    } finally {
      sim.setLatency(0);
    }
    // A loose lower bound only: Node's timers count from the event loop's cached time, so on a busy
    // machine one can fire a few ms early against performance.now(). An answer without the delay takes ~1 ms.
    expect(sim.meanResponseMs()).toBeGreaterThanOrEqual(20);
    sim.resetCalls();
    expect(sim.meanResponseMs()).toBeNull();
  });
});

describe('call log', () => {
  it('records method, endpoint template, path and status; count() filters; resetCalls() empties', async () => {
    sim.resetCalls();
    await call(sim, 'GET', 'Ticket/12345/ITILFollowup', { session: token });
    await call(sim, 'GET', 'search/User?range=0-0', { session: token });
    expect(sim.calls).toEqual([
      { method: 'GET', endpoint: '/Ticket/:id/ITILFollowup', path: '/apirest.php/Ticket/12345/ITILFollowup', status: 404 },
      { method: 'GET', endpoint: '/search/User', path: '/apirest.php/search/User?range=0-0', status: 206 },
    ]);
    expect(sim.count('GET', '/search/User')).toBe(1);
    expect(sim.count('GET')).toBe(2);
    sim.resetCalls();
    expect(sim.count()).toBe(0);
  });
});

describe('close()', () => {
  it('returns although a keep-alive client and a hung request are still connected', async () => {
    const other = await startGlpiSimulator();
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    try {
      const first = await request(`${other.url}initSession`, { dispatcher: agent, headers: { authorization: 'user_token admin-user-token' } });
      await first.body.dump();
      other.failNext({ kind: 'hang' });
      const hung = request(`${other.url}initSession`, { dispatcher: agent, headers: { authorization: 'user_token admin-user-token' } });
      hung.catch(() => undefined);
      while (other.count() < 2) await new Promise((resolve) => setImmediate(resolve));
      await other.close();
      await expect(hung).rejects.toThrow();
    } finally {
      await agent.destroy();
    }
  });
});
