/**
 * Contract tests of the GLPI client: the same cases run against the GLPI simulator in each of its
 * behaviours (GLPI 10.0.3 and 11.0.8, always) and a real GLPI when GLPI_TEST_URL,
 * GLPI_TEST_APP_TOKEN and GLPI_TEST_USER_TOKEN are set (GLPI_TEST_VERSION, if set, is the version
 * it must report). Against a real GLPI they create users and tickets named "cgb-contract-*" (an
 * admin can purge them afterwards).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGlpiApiUrl } from '../../src/config/glpi-url.js';
import { createGlpiClient, type GlpiClientHandle, type GlpiClientHook } from '../../src/glpi/client.js';
import { GlpiError, isGlpiNotFound } from '../../src/errors/index.js';
import { glpiMajor } from '../../src/glpi/glpi-version.js';
import { findUserByEmail, findUserByPhone } from '../../src/glpi/finders.js';
import { exactMatch } from '../../src/glpi/search.js';
import type { GlpiCallObserver } from '../../src/glpi/types.js';
import { followupContent } from '../../src/sync/chatwoot-to-glpi/map-html.js';
import type { GlpiSimulator } from '../support/glpi-simulator/api.js';
import { SIM_GLPI_VERSIONS, startGlpiSimulator } from '../support/glpi-simulator/index.js';

interface Target {
  baseUrl: string;
  appToken: string | undefined;
  userToken: string;
  sim?: GlpiSimulator;
  /** The version GLPI must report, when known. */
  version?: string;
}

const realUrl = process.env.GLPI_TEST_URL;
const realUserToken = process.env.GLPI_TEST_USER_TOKEN;
const realAppToken = process.env.GLPI_TEST_APP_TOKEN;
const realConfigured = Boolean(realUrl && realUserToken && realAppToken);

describe.each(SIM_GLPI_VERSIONS)('GLPI client contract: simulator behaving like GLPI %s', (version) => {
  contract(async () => {
    const sim = await startGlpiSimulator({ version });
    return { baseUrl: sim.url, appToken: undefined, userToken: 'admin-user-token', sim, version };
  });
});

describe.skipIf(!realConfigured)(
  realConfigured
    ? `GLPI client contract: real GLPI at ${realUrl}`
    : 'GLPI client contract: real GLPI (skipped: set GLPI_TEST_URL, GLPI_TEST_APP_TOKEN and GLPI_TEST_USER_TOKEN to run)',
  () => {
    contract(async () => ({
      baseUrl: checkGlpiApiUrl(realUrl as string).baseUrl,
      appToken: realAppToken,
      userToken: realUserToken as string,
      version: process.env.GLPI_TEST_VERSION,
    }));
  },
);

function hookOf(target: Target): GlpiClientHook {
  return {
    hookId: 'contract',
    baseUrl: target.baseUrl,
    appToken: target.appToken,
    userToken: target.userToken,
    entityId: 0,
    syncType: 'user',
    ticketType: 1,
    categoryId: undefined,
    defaultUserId: undefined,
    timeoutMs: 15_000,
  };
}

function contract(start: () => Promise<Target>): void {
  let target: Target;
  let agent: Agent;
  let dispatcher: Dispatcher;
  let client: GlpiClientHandle;
  const observed: Parameters<GlpiCallObserver>[0][] = [];
  /** Session-Token of the client's last request, seen on the wire (the client never exposes it). */
  let lastSessionToken: string | undefined;
  let initSessions = 0;
  const run = `cgb-contract-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    target = await start();
    agent = new Agent();
    // Records what the client sends, so a test can end its session behind its back like PHP's GC would.
    dispatcher = agent.compose((dispatch) => (opts, handler) => {
      const headers = (opts.headers ?? {}) as Record<string, string>;
      if (typeof headers['session-token'] === 'string') lastSessionToken = headers['session-token'];
      if (opts.path.endsWith('/initSession')) initSessions += 1;
      return dispatch(opts, handler);
    });
    client = createGlpiClient(
      {
        hookId: 'contract',
        baseUrl: target.baseUrl,
        appToken: target.appToken,
        userToken: target.userToken,
        entityId: 0,
        syncType: 'user',
        ticketType: 1,
        categoryId: undefined,
        defaultUserId: undefined,
        timeoutMs: 15_000,
      },
      { dispatcher, observer: (call) => observed.push(call) },
    );
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await target?.sim?.close();
  });

  /** Ends the client's session at GLPI without telling the client (an expired PHP session). */
  async function expireSessionBehindClientsBack(): Promise<void> {
    if (target.sim) {
      target.sim.expireSessions();
      return;
    }
    const token = lastSessionToken;
    if (token === undefined) throw new Error('no session seen yet');
    const headers: Record<string, string> = { 'session-token': token, 'content-type': 'application/json' };
    if (target.appToken !== undefined) headers['app-token'] = target.appToken;
    const res = await agent.request({ origin: new URL(target.baseUrl).origin, path: `${new URL('killSession', target.baseUrl).pathname}`, method: 'GET', headers });
    await res.body.text();
  }

  /** Purges an item as an admin would in GLPI's UI (DELETE with force_purge), on the client's own session. */
  async function purgeBehindClientsBack(itemtype: string, id: number): Promise<void> {
    const token = lastSessionToken;
    if (token === undefined) throw new Error('no session seen yet');
    const headers: Record<string, string> = { 'session-token': token, 'content-type': 'application/json' };
    if (target.appToken !== undefined) headers['app-token'] = target.appToken;
    const url = new URL(`${itemtype}/${id}?force_purge=true`, target.baseUrl);
    const res = await agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'DELETE', headers });
    const body = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`purging ${itemtype} ${id}: HTTP ${res.statusCode} ${body.slice(0, 200)}`);
  }

  function randomMobile(): { e164: string; storedFr: string } {
    const digits = String(randomInt(10_000_000, 99_999_999));
    const national = `6${digits}`;
    const pairs = `0${national}`.match(/../g) as string[];
    return { e164: `+33${national}`, storedFr: pairs.join('.') };
  }

  it('opens, uses, kills and reopens a session', async () => {
    await client.ensureSession();
    const session = await client.getFullSession();
    expect(session).toHaveProperty('glpiID');
    expect(session).not.toHaveProperty('valid_id');
    const entities = await client.getMyEntities();
    expect(entities.length).toBeGreaterThan(0);
    await client.killSession();
    if (target.sim) expect(target.sim.state.sessions).toHaveLength(0);
    await client.ensureSession();
    await expect(client.getActiveProfile()).resolves.toHaveProperty('id');
  });

  it('learns the GLPI version when the session opens', async () => {
    await client.ensureSession();
    expect(client.glpiVersion).toMatch(/^\d+\.\d+\.\d+/);
    if (target.version !== undefined) expect(client.glpiVersion).toBe(target.version);
  });

  it('works the same under api.php/v1 on GLPI 11', async (ctx) => {
    await client.ensureSession();
    if (glpiMajor(client.glpiVersion) < 11) ctx.skip();
    const v1 = createGlpiClient(
      { ...hookOf(target), hookId: 'contract-v1', baseUrl: checkGlpiApiUrl(target.baseUrl.replace(/apirest\.php\/?$/, 'api.php/v1')).baseUrl },
      { dispatcher },
    );
    try {
      const { id } = await v1.addItem('Ticket', { name: `${run} via api.php/v1`, content: '<p>v1</p>' });
      await expect(v1.getItem('Ticket', id)).resolves.toMatchObject({ id, content: '<p>v1</p>' });
      expect(v1.glpiVersion).toBe(client.glpiVersion);
    } finally {
      await v1.close();
    }
  });

  it("reads a customer's followup back exactly as written: no live HTML, no double encoding", async () => {
    const { id: ticketId } = await client.addItem('Ticket', { name: `${run} text`, content: '<p>text</p>' });
    const content = followupContent({
      messageId: 4242,
      text: CUSTOMER_TEXT,
      authorName: 'Eve <img src=x onerror=alert(1)> & "co"',
      attachments: [],
      documentIds: new Map(),
      contentType: 'text',
    });
    const { id } = await client.addSubItem('Ticket', ticketId, 'ITILFollowup', { content, is_private: 0 });
    const followup = (await client.getSubItems('Ticket', ticketId, 'ITILFollowup')).find((f) => f.id === id);
    // The HTML GLPI renders for the technician (10 unsanitizes what it stored, 11 stored it raw).
    expect(followup?.content).toBe(content);
    expect(visibleText(String(followup?.content))).toBe(`Eve <img src=x onerror=alert(1)> & "co":\n${CUSTOMER_TEXT}`);
    expect(String(followup?.content)).not.toMatch(/<b>|<img|&amp;lt;|&#38;/);
  });

  it('keeps a title that looks HTML-encoded as written (GLPI 10 would decode it)', async () => {
    const name = `${run} &#60;b&#62; 5 &lt; 6 &amp;`;
    const { id } = await client.addItem('Ticket', { name, content: '<p>looks encoded</p>' });
    await expect(client.getItem('Ticket', id)).resolves.toMatchObject({ name });
    const result = await client.search('Ticket', { criteria: [{ field: 2, searchtype: 'equals', value: id }], forcedisplay: [1] });
    expect(result.rows).toEqual([expect.objectContaining({ '1': name })]);
  });

  it('decodes search cells for the GLPI version: what was written comes back', async () => {
    const name = `${run} <b>name</b> & "q" &amp; 5 > 3 🙂`;
    const { id } = await client.addItem('Ticket', { name, content: '<p>search</p>' });
    const result = await client.search('Ticket', { criteria: [{ field: 2, searchtype: 'equals', value: id }], forcedisplay: [1] });
    expect(result.rows).toEqual([expect.objectContaining({ '1': name })]);
  });

  it("finds a user by an e-mail address holding HTML's special character &", async () => {
    const email = `o'brien&co-${run}@example.com`;
    const { id } = await client.addItem('User', { name: `${run}-amp`, _useremails: [email] });
    await expect(findUserByEmail(client, email)).resolves.toBe(id);
  });

  it('creates a user and finds it by e-mail and by phone', async () => {
    const email = `${run}-user@example.com`;
    const phone = randomMobile();
    const { id } = await client.addItem('User', {
      name: `${run}-user`,
      realname: 'Contract',
      firstname: 'Test',
      _useremails: [email],
      mobile: phone.storedFr,
    });
    expect(id).toBeGreaterThan(0);
    await expect(findUserByEmail(client, email.toUpperCase())).resolves.toBe(id);
    await expect(findUserByPhone(client, phone.e164, 'FR')).resolves.toBe(id);
    await expect(findUserByPhone(client, phone.e164)).resolves.toBe(id);
    const emails = await client.getSubItems('User', id, 'UserEmail');
    expect(emails.map((e) => e.email)).toEqual([email]);
  });

  it('creates a ticket with a user requester and adds a followup and a solution', async () => {
    const { id: userId } = await client.addItem('User', { name: `${run}-requester`, _useremails: [`${run}-requester@example.com`] });
    const { id: ticketId } = await client.addItem('Ticket', {
      name: `${run} printer`,
      content: '<p>The printer is on fire.</p>',
      type: 1,
      _users_id_requester: userId,
    });
    const actors = await client.getSubItems('Ticket', ticketId, 'Ticket_User');
    expect(actors).toEqual([expect.objectContaining({ users_id: userId, type: 1 })]);

    observed.length = 0;
    const { id: followupId } = await client.addSubItem('Ticket', ticketId, 'ITILFollowup', {
      content: '<p>x < y & z</p>',
      is_private: 0,
      users_id: userId,
    });
    // An open session makes a followup one HTTP call.
    expect(observed.map((o) => `${o.endpoint} ${String(o.status)}`)).toEqual([expect.stringMatching(/^POST \/Ticket\/:id\/ITILFollowup 20[01]$/)]);
    const followups = await client.getSubItems('Ticket', ticketId, 'ITILFollowup');
    const followup = followups.find((f) => f.id === followupId);
    // X-GLPI-Sanitized-Content: false gives the text back as written.
    expect(followup?.content).toBe('<p>x < y & z</p>');
    expect(followup?.users_id).toBe(userId);

    await client.addItem('ITILSolution', { itemtype: 'Ticket', items_id: ticketId, content: '<p>Put it out.</p>' });
    const ticket = await client.getItem('Ticket', ticketId);
    expect([5, 6]).toContain(ticket.status);
  });

  it("never gives a purged ticket's id again, and refuses a followup on it (permission) while GET answers 404", async () => {
    const { id: purgedId } = await client.addItem('Ticket', { name: `${run} purged`, content: '<p>to be purged</p>', type: 1 });
    await purgeBehindClientsBack('Ticket', purgedId);
    // AUTO_INCREMENT: the next ticket does not take the purged one's id (a stale mapping would point at it).
    const { id: nextId } = await client.addItem('Ticket', { name: `${run} after purge`, content: '<p>next</p>', type: 1 });
    expect(nextId).toBeGreaterThan(purgedId);

    const late = await client.addSubItem('Ticket', purgedId, 'ITILFollowup', { content: '<p>late</p>', is_private: 0 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(late).toBeInstanceOf(GlpiError);
    expect(late).toMatchObject({ code: 'ERROR_GLPI_ADD', status: 400, category: 'permission' });
    const read = await client.getItem('Ticket', purgedId).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isGlpiNotFound(read)).toBe(true);
  });

  it('creates a ticket whose requester is only an e-mail address', async () => {
    const email = `${run}-anonymous@example.net`;
    const { id: ticketId } = await client.addItem('Ticket', {
      name: `${run} email-only`,
      content: '<p>Hello</p>',
      _users_id_requester: 0,
      _users_id_requester_notif: { use_notification: [0], alternative_email: [email] },
    });
    const actors = await client.getSubItems('Ticket', ticketId, 'Ticket_User');
    expect(actors).toEqual([expect.objectContaining({ users_id: 0, type: 1, alternative_email: email })]);
  });

  it('answers a search with zero hits as no rows', async () => {
    const result = await client.search('User', {
      criteria: [{ field: 5, searchtype: 'contains', value: exactMatch(`${run}-nobody@example.invalid`) }],
    });
    expect(result).toEqual({ totalcount: 0, rows: [] });
  });

  it('recovers from an expired session with exactly one new login', async () => {
    await client.ensureSession();
    await client.getMyEntities();
    await expireSessionBehindClientsBack();
    const before = initSessions;
    const simBefore = target.sim?.count('GET', '/initSession');
    await expect(Promise.all([client.getMyEntities(), client.getMyEntities(), client.getActiveProfile()])).resolves.toHaveLength(3);
    expect(initSessions - before).toBe(1);
    if (target.sim && simBefore !== undefined) expect(target.sim.count('GET', '/initSession') - simBefore).toBe(1);
  });

  it('reports a bad user token as a permanent error with advice', async () => {
    const bad = createGlpiClient(
      {
        hookId: 'contract-bad',
        baseUrl: target.baseUrl,
        appToken: target.appToken,
        userToken: 'not-a-valid-user-token-000000000000000000',
        entityId: 0,
        syncType: 'user',
        ticketType: 1,
        categoryId: undefined,
        defaultUserId: undefined,
        timeoutMs: 15_000,
      },
      { dispatcher },
    );
    await expect(bad.ensureSession()).rejects.toMatchObject({
      code: 'ERROR_GLPI_LOGIN_USER_TOKEN',
      transient: false,
      advice: expect.stringMatching(/API token/),
    });
    await bad.close();
  });
}

/** What a customer may write: markup that must stay text, entities, quotes, emoji, line breaks. */
const CUSTOMER_TEXT = '<b>not bold</b> & "quotes" 5 > 3 🙂\nsecond line &amp; &#60;';

/**
 * The text a browser shows for the followup HTML the bridge writes (paragraphs, <br>, entities):
 * enough to tell live markup or double-encoding from what the customer wrote.
 */
function visibleText(html: string): string {
  const text = html
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<\/p>\s*<p>/g, '\n')
    .replace(/<[^>]*>/g, '');
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => entities[e] ?? '').trim();
}

/** What only the simulator can stage: faults over real HTTP, another profile, the default Pool. */
describe('GLPI client over real HTTP: simulator faults and profiles', () => {
  let sim: GlpiSimulator;
  let client: GlpiClientHandle;

  function hookFor(userToken: string, timeoutMs = 15_000) {
    return {
      hookId: 'sim-faults',
      baseUrl: sim.url,
      appToken: undefined,
      userToken,
      entityId: 0,
      syncType: 'user' as const,
      ticketType: 1 as const,
      categoryId: undefined,
      defaultUserId: undefined,
      timeoutMs,
    };
  }

  beforeAll(async () => {
    sim = await startGlpiSimulator();
    // No dispatcher: the client's own keep-alive Pool, closed by close().
    client = createGlpiClient(hookFor('admin-user-token'));
    await client.ensureSession();
  });

  afterAll(async () => {
    await client?.close();
    await sim?.close();
  });

  it.each([
    [{ kind: 'empty200' } as const, 'GLPI_EMPTY_RESPONSE'],
    [{ kind: 'php-fatal' } as const, 'GLPI_INVALID_RESPONSE'],
    [{ kind: 'status', status: 502 } as const, 'GLPI_SERVER_ERROR'],
    [{ kind: 'status', status: 429 } as const, 'GLPI_RATE_LIMITED'],
    [{ kind: 'reset' } as const, 'GLPI_NETWORK_ERROR'],
  ])('turns a %o answer into a transient %s, then works again', async (fault, code) => {
    sim.failNext(fault, 1, 'GET /getMyEntities');
    await expect(client.getMyEntities()).rejects.toMatchObject({ code, transient: true });
    await expect(client.getMyEntities()).resolves.not.toHaveLength(0);
  });

  it('turns an unanswered request into a transient GLPI_TIMEOUT', async () => {
    const impatient = createGlpiClient(hookFor('admin-user-token', 300));
    try {
      sim.failNext({ kind: 'hang' }, 1, 'GET /initSession');
      await expect(impatient.ensureSession()).rejects.toMatchObject({ code: 'GLPI_TIMEOUT', transient: true });
    } finally {
      await impatient.close();
    }
  });

  it('reports a self-service profile creating a user as a rights problem', async () => {
    const selfService = createGlpiClient(hookFor('selfservice-user-token'));
    try {
      await expect(selfService.addItem('User', { name: 'cgb-contract-denied' })).rejects.toMatchObject({
        code: 'ERROR_GLPI_ADD',
        category: 'permission',
        transient: false,
      });
      await expect(selfService.search('User', { criteria: [] })).rejects.toMatchObject({ code: 'ERROR_RIGHT_MISSING', status: 403 });
    } finally {
      await selfService.close();
    }
  });

  it('uploads a document linked to a ticket', async () => {
    const { id: ticketId } = await client.addItem('Ticket', { name: 'cgb-contract upload', content: '<p>file</p>' });
    const { id } = await client.uploadDocument(
      { filename: 'note.txt', contentType: 'text/plain', data: new TextEncoder().encode('hello') },
      { itemtype: 'Ticket', items_id: ticketId },
    );
    expect(id).toBeGreaterThan(0);
    expect(sim.state.documents.find((d) => d.id === id)).toBeDefined();
  });

  it('reports API disabled and a refused IP with their advice', async () => {
    const fresh = createGlpiClient(hookFor('admin-user-token'));
    try {
      sim.setApiEnabled(false);
      await expect(fresh.ensureSession()).rejects.toMatchObject({ code: 'GLPI_API_DISABLED', advice: expect.stringMatching(/Enable Rest API/) });
      sim.setApiEnabled(true);
      sim.setIpAllowed(false);
      await expect(fresh.ensureSession()).rejects.toMatchObject({ code: 'ERROR_NOT_ALLOWED_IP', advice: expect.stringMatching(/API client/) });
    } finally {
      sim.setApiEnabled(true);
      sim.setIpAllowed(true);
      await fresh.close();
    }
  });
});
