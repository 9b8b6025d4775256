/** Conformance: item CRUD, lists and payload errors, as glpi-apirest-observed.md sections E, G, H, I, K, M and the addendum. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { glpiDecode, startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { APP_TOKEN, call, login, withDoc } from './support.js';

let sim: GlpiSimulator;
let token: string;
let jdoe: number;
let asmith: number;

beforeAll(async () => {
  sim = await startGlpiSimulator({ appToken: APP_TOKEN });
  token = await login(sim);
});

afterAll(async () => {
  await sim.close();
});

const post = (path: string, body: unknown, headers?: Record<string, string>) => call(sim, 'POST', path, { session: token, body, ...(headers ? { headers } : {}) });
const get = (path: string, headers?: Record<string, string>) => call(sim, 'GET', path, { session: token, ...(headers ? { headers } : {}) });

describe('User', () => {
  it('creates a user with _useremails as a JSON array: 201, friendly name, lowercase location', async () => {
    const res = await post('User', {
      input: { name: 'jdoe', realname: 'Doe', firstname: 'John', _useremails: ['john.doe@example.com'], password: 'Secr3t!pass', password2: 'Secr3t!pass' },
    });
    expect(res.status).toBe(201);
    jdoe = (res.json as { id: number }).id;
    expect(jdoe).toBe(7);
    expect(res.json).toEqual({ id: 7, message: 'Item successfully added: Doe John' });
    expect(res.headers.location).toBe(`${sim.url}User/7`);
    expect(res.headers['access-control-expose-headers']).toBeUndefined();
  });

  it('creates a user with _useremails keyed -1 and _default_email', async () => {
    const res = await post('User', { input: { name: 'asmith', realname: 'Smith', firstname: 'Alice', _useremails: { '-1': 'alice.smith@example.com' }, _default_email: -1 } });
    asmith = (res.json as { id: number }).id;
    expect([res.status, res.json]).toEqual([201, { id: asmith, message: 'Item successfully added: Smith Alice' }]);
  });

  it('refuses a duplicate login with 400 ERROR_GLPI_ADD', async () => {
    const res = await post('User', { input: { name: 'jdoe', _useremails: ['other@example.com'] } });
    expect([res.status, res.json]).toEqual([400, ['ERROR_GLPI_ADD', 'Unable to add. The user already exists.']]);
    expect(sim.state.useremails.map((e) => e.email)).not.toContain('other@example.com');
  });

  it('creates users in bulk: 201, a list of results and a link header instead of location', async () => {
    const res = await post('User', { input: [{ name: 'bulk1', _useremails: ['bulk1@example.com'] }, { name: 'bulk2', _useremails: ['bulk2@example.com'] }] });
    const [a, b] = res.json as { id: number }[];
    expect(res.status).toBe(201);
    expect(res.json).toEqual([
      { id: a?.id, message: 'Item successfully added: bulk1' },
      { id: b?.id, message: 'Item successfully added: bulk2' },
    ]);
    expect(res.headers.link).toBe(`${sim.url}User/${a?.id},${sim.url}User/${b?.id}`);
    expect(res.headers.location).toBeUndefined();
  });

  it('answers a partly failed bulk with 207 ERROR_GLPI_PARTIAL_ADD and per-item results', async () => {
    const res = await post('User', { input: [{ name: 'bulk3' }, { name: 'jdoe' }] });
    expect(res.status).toBe(207);
    expect(res.json).toEqual(['ERROR_GLPI_PARTIAL_ADD', [{ id: expect.any(Number), message: 'Item successfully added: bulk3' }, { id: false, message: 'Unable to add. The user already exists.' }]]);
  });

  it('lists a user e-mails as sub-items: first one is the default', async () => {
    const res = await get(`User/${jdoe}/UserEmail`);
    expect(res.status).toBe(200);
    expect(res.headers['accept-range']).toBe('UserEmail 1000');
    expect(res.headers['content-range']).toBe('0-0/1');
    expect(res.json).toEqual([
      { id: expect.any(Number), users_id: jdoe, is_default: 1, is_dynamic: 0, email: 'john.doe@example.com', links: [{ rel: 'User', href: `${sim.url}User/${jdoe}` }] },
    ]);
  });

  it('GET User/:id has the GLPI columns, Last-Modified and HATEOAS links', async () => {
    const res = await get(`User/${jdoe}`);
    expect(res.status).toBe(200);
    expect(res.headers['last-modified']).toMatch(/GMT$/);
    expect(res.json).toMatchObject({
      id: jdoe, name: 'jdoe', realname: 'Doe', firstname: 'John', is_active: 1, authtype: 1, is_deleted: 0, entities_id: 0, mobile: null,
      links: [{ rel: 'Entity', href: `${sim.url}Entity/0` }, { rel: 'Document_Item', href: `${sim.url}User/${jdoe}/Document_Item/` }],
    });
    expect(res.json).not.toHaveProperty('password');
    const plain = await get(`User/${jdoe}?expand_dropdowns=true&get_hateoas=false`);
    expect(plain.json).toMatchObject({ entities_id: 'Root entity' });
    expect(plain.json).not.toHaveProperty('links');
  });

  it('GET of a missing item is 404 ERROR_ITEM_NOT_FOUND', async () => {
    const res = await get('User/99999');
    expect([res.status, res.json]).toEqual([404, ['ERROR_ITEM_NOT_FOUND', 'Item not found']]);
  });

  it('adds an e-mail with POST /UserEmail ({"id":N,"message":""}, not default)', async () => {
    const res = await post('UserEmail', { input: { users_id: jdoe, email: 'jd@alt.example.org', is_default: 0 } });
    expect([res.status, res.json]).toEqual([201, { id: expect.any(Number), message: '' }]);
    expect(sim.state.useremails.find((e) => e.email === 'jd@alt.example.org')).toMatchObject({ users_id: jdoe, is_default: 0 });
  });

  it('PUT User with _useremails as an array adds the address', async () => {
    const res = await call(sim, 'PUT', `User/${jdoe}`, { session: token, body: { input: { _useremails: ['third@example.com'] } } });
    expect([res.status, res.json]).toEqual([200, [{ [String(jdoe)]: true, message: '' }]]);
    const emails = await get(`User/${jdoe}/UserEmail?get_hateoas=false`);
    expect((emails.json as { email: string; is_default: number }[]).map((e) => [e.email, e.is_default])).toEqual([
      ['john.doe@example.com', 1],
      ['jd@alt.example.org', 0],
      ['third@example.com', 0],
    ]);
    expect(emails.headers['content-range']).toBe('0-2/3');
  });

  it('PUT User with keyed _useremails dies like GLPI 10.0.3: 200, empty text/html body, nothing added', async () => {
    const res = await call(sim, 'PUT', `User/${jdoe}`, { session: token, body: { input: { _useremails: { '-1': 'fourth@example.com' } } } });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers['content-type']).toBe('text/html; charset=UTF-8');
    expect(sim.state.useremails.map((e) => e.email)).not.toContain('fourth@example.com');
  });

  it('GET /UserEmail?searchText[email]= finds the address (LIKE, anchors)', async () => {
    const res = await get(`UserEmail?${new URLSearchParams({ 'searchText[email]': '^john.doe@example.com$' }).toString()}`);
    expect(res.json).toEqual([expect.objectContaining({ users_id: jdoe, email: 'john.doe@example.com' })]);
  });
});

describe('Ticket and Ticket_User', () => {
  let ticket: number;
  let anonymous: number;

  it('creates a ticket with a requester: 201 "name (id)", content stored HTML-encoded', async () => {
    const res = await post('Ticket', { input: { name: 'Printer on fire', content: '<p>The printer in room 12 is on fire.</p>', _users_id_requester: jdoe, type: 1, urgency: 3, impact: 3, priority: 3 } });
    ticket = (res.json as { id: number }).id;
    expect([res.status, res.json]).toEqual([201, { id: ticket, message: `Item successfully added: Printer on fire (${ticket})` }]);
    expect(res.headers.location).toBe(`${sim.url}Ticket/${ticket}`);
    const read = await get(`Ticket/${ticket}`);
    expect(read.json).toMatchObject({
      id: ticket, entities_id: 0, name: 'Printer on fire', status: 1, users_id_recipient: 2, users_id_lastupdater: 2, requesttypes_id: 1,
      content: '&#60;p&#62;The printer in room 12 is on fire.&#60;/p&#62;', urgency: 3, impact: 3, priority: 3, type: 1, is_deleted: 0,
    });
    const links = (read.json as { links: { rel: string }[] }).links.map((l) => l.rel);
    expect(links.slice(0, 4)).toEqual(['Entity', 'User', 'User', 'RequestType']);
    expect(links).toContain('ITILFollowup');
  });

  it('GET Ticket/:id/Ticket_User shows the requester row', async () => {
    const res = await get(`Ticket/${ticket}/Ticket_User`);
    expect(res.headers['accept-range']).toBe('Ticket_User 1000');
    expect(res.headers['content-range']).toBe('0-0/1');
    expect(res.json).toEqual([
      {
        id: expect.any(Number), tickets_id: ticket, users_id: jdoe, type: 1, use_notification: 1, alternative_email: '',
        links: [{ rel: 'Ticket', href: `${sim.url}Ticket/${ticket}` }, { rel: 'User', href: `${sim.url}User/${jdoe}` }],
      },
    ]);
  });

  it('creates a ticket whose requester is only an e-mail address (users_id 0 + alternative_email)', async () => {
    const res = await post('Ticket', {
      input: { name: 'Anonymous requester', content: 'from an email-only requester', _users_id_requester: 0, _users_id_requester_notif: { use_notification: [1], alternative_email: ['ext.person@example.net'] } },
    });
    anonymous = (res.json as { id: number }).id;
    expect(res.status).toBe(201);
    const actors = await get(`Ticket/${anonymous}/Ticket_User`);
    expect(actors.json).toEqual([
      { id: expect.any(Number), tickets_id: anonymous, users_id: 0, type: 1, use_notification: 1, alternative_email: 'ext.person@example.net', links: [{ rel: 'Ticket', href: `${sim.url}Ticket/${anonymous}` }] },
    ]);
  });

  it('creates one requester row per id of _users_id_requester: [a, b]', async () => {
    const res = await post('Ticket', { input: { name: 'Two requesters', content: 'x', _users_id_requester: [jdoe, asmith] } });
    const id = (res.json as { id: number }).id;
    const actors = await get(`Ticket/${id}/Ticket_User?get_hateoas=false`);
    expect(actors.headers['content-range']).toBe('0-1/2');
    expect((actors.json as { users_id: number; type: number }[]).map((a) => [a.users_id, a.type])).toEqual([[jdoe, 1], [asmith, 1]]);
  });

  it('accepts the 10.0 _actors form, e-mail-only requester included', async () => {
    const res = await post('Ticket', {
      input: { name: 'Actors', content: 'x', _actors: { requester: [{ itemtype: 'User', items_id: 0, use_notification: 0, alternative_email: 'who@example.org' }], assign: [{ itemtype: 'User', items_id: 2 }] } },
    });
    const id = (res.json as { id: number }).id;
    expect(sim.state.ticketUsers.filter((tu) => tu.tickets_id === id).map((tu) => [tu.type, tu.users_id, tu.alternative_email, tu.use_notification])).toEqual([
      [1, 0, 'who@example.org', 0],
      [2, 2, '', 1],
    ]);
    expect(sim.state.tickets.find((t) => t.id === id)?.status).toBe(2);
  });

  it('does not make the API user a requester by default, and accepts a ticket without content', async () => {
    const res = await post('Ticket', { input: { name: 'no content' } });
    const id = (res.json as { id: number }).id;
    expect(res.status).toBe(201);
    const actors = await get(`Ticket/${id}/Ticket_User`);
    expect([actors.status, actors.json, actors.headers['content-range']]).toEqual([200, [], undefined]);
  });

  it('a ticket with _users_id_assign becomes status 2 (assigned)', async () => {
    const res = await post('Ticket', { input: { name: 'Assigned one', content: 'needs a tech', _users_id_requester: asmith, _users_id_assign: 2 } });
    const read = await get(`Ticket/${(res.json as { id: number }).id}?get_hateoas=false`);
    expect(read.json).toMatchObject({ status: 2, content: 'needs a tech' });
  });

  it('PUT /Ticket/:id and PUT /Ticket with the id in the body answer [{"<id>":true,"message":""}]', async () => {
    const byUrl = await call(sim, 'PUT', `Ticket/${ticket}`, { session: token, body: { input: { status: 2 } } });
    expect([byUrl.status, byUrl.json]).toEqual([200, [{ [String(ticket)]: true, message: '' }]]);
    const byBody = await call(sim, 'PUT', 'Ticket', { session: token, body: { input: { id: ticket, urgency: 4 } } });
    expect([byBody.status, byBody.json]).toEqual([200, [{ [String(ticket)]: true, message: '' }]]);
    expect(sim.state.tickets.find((t) => t.id === ticket)).toMatchObject({ status: 2, urgency: 4 });
  });

  it('PUT of a missing ticket is 400 ["ERROR_GLPI_UPDATE", null]', async () => {
    const res = await call(sim, 'PUT', 'Ticket/99999', { session: token, body: { input: { status: 2 } } });
    expect([res.status, res.json]).toEqual([400, ['ERROR_GLPI_UPDATE', null]]);
  });

  it('ITILSolution solves the ticket (status 5, solvedate)', async () => {
    const res = await post('ITILSolution', { input: { itemtype: 'Ticket', items_id: ticket, content: 'Rebooted it.' } });
    expect([res.status, res.json]).toEqual([201, { id: expect.any(Number), message: `Item successfully added: ${(res.json as { id: number }).id}` }]);
    const read = await get(`Ticket/${ticket}?get_hateoas=false`);
    expect(read.json).toMatchObject({ status: 5, solvedate: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) });
    const again = await post('ITILSolution', { input: { itemtype: 'Ticket', items_id: ticket, content: 'twice' } });
    expect(again.status).toBe(400);
  });

  it('DELETE moves to the trash, force_purge removes; then GET is 404', async () => {
    const { json } = await post('Ticket', { input: { name: 'to delete' } });
    const id = (json as { id: number }).id;
    const trash = await call(sim, 'DELETE', `Ticket/${id}`, { session: token });
    expect([trash.status, trash.json]).toEqual([200, [{ [String(id)]: true, message: '' }]]);
    expect(sim.state.tickets.find((t) => t.id === id)?.is_deleted).toBe(1);
    await call(sim, 'DELETE', `Ticket/${id}?force_purge=true`, { session: token });
    expect((await get(`Ticket/${id}`)).json).toEqual(['ERROR_ITEM_NOT_FOUND', 'Item not found']);
  });
});

describe('ITILFollowup', () => {
  let ticket: number;
  beforeAll(async () => {
    const res = await post('Ticket', { input: { name: 'Followups', content: 'x', _users_id_requester: jdoe } });
    ticket = (res.json as { id: number }).id;
  });

  it('POST /Ticket/:id/ITILFollowup answers {"id":N,"message":""}', async () => {
    const res = await post(`Ticket/${ticket}/ITILFollowup`, { input: { itemtype: 'Ticket', items_id: ticket, content: 'We are on it.', is_private: 0 } });
    const id = (res.json as { id: number }).id;
    expect([res.status, res.json]).toEqual([201, { id, message: '' }]);
    expect(res.headers.location).toBe(`${sim.url}ITILFollowup/${id}`);
    expect(sim.calls.at(-1)).toMatchObject({ method: 'POST', endpoint: '/Ticket/:id/ITILFollowup', status: 201 });
  });

  it('POST /ITILFollowup keeps users_id and is_private', async () => {
    const res = await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: ticket, content: '<p>Second <b>followup</b></p>', is_private: 1, users_id: jdoe } });
    expect(res.status).toBe(201);
    const list = await get(`Ticket/${ticket}/ITILFollowup`);
    expect(list.headers['content-range']).toBe('0-1/2');
    expect(list.json).toEqual([
      expect.objectContaining({ itemtype: 'Ticket', items_id: ticket, users_id: 2, content: 'We are on it.', is_private: 0, requesttypes_id: 0, timeline_position: 1 }),
      expect.objectContaining({
        users_id: jdoe, is_private: 1, content: '&#60;p&#62;Second &#60;b&#62;followup&#60;/b&#62;&#60;/p&#62;',
        links: [
          { rel: 'Ticket', href: `${sim.url}Ticket/${ticket}` },
          { rel: 'User', href: `${sim.url}User/${jdoe}` },
          { rel: 'Document_Item', href: `${sim.url}ITILFollowup/${(res.json as { id: number }).id}/Document_Item/` },
        ],
      }),
    ]);
  });

  it('does not take the parent from the URL: no itemtype/items_id is 400 ERROR_GLPI_ADD "permission"', async () => {
    const res = await post(`Ticket/${ticket}/ITILFollowup`, { input: { content: 'Third followup (no itemtype in body)' } });
    expect([res.status, res.json]).toEqual([400, ['ERROR_GLPI_ADD', "You don't have permission to perform this action."]]);
  });

  it('refuses a followup on a missing ticket with 400 ERROR_GLPI_ADD "permission"', async () => {
    const res = await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: 99999, content: 'ghost' } });
    expect([res.status, res.json]).toEqual([400, ['ERROR_GLPI_ADD', "You don't have permission to perform this action."]]);
  });

  it('keeps a given date and orders the timeline by date, then id', async () => {
    const later = await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: ticket, content: 'second in time', date: '2020-01-02 10:00:00' } });
    const earlier = await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: ticket, content: 'first in time', date: '2020-01-01 10:00:00' } });
    const laterId = (later.json as { id: number }).id;
    const earlierId = (earlier.json as { id: number }).id;
    expect(sim.state.followups.find((f) => f.id === laterId)).toMatchObject({ date: '2020-01-02 10:00:00', date_creation: expect.not.stringMatching(/^2020/) });
    expect(sim.followupsOf(ticket).slice(0, 2).map((f) => f.id)).toEqual([earlierId, laterId]);
  });

  it('stores local time: the date of a followup without date follows timezoneOffsetMin', async () => {
    const tokyo = await startGlpiSimulator({ timezoneOffsetMin: 540 });
    try {
      const t = await login(tokyo, undefined, null);
      const created = await call(tokyo, 'POST', 'Ticket', { appToken: null, session: t, body: { input: { name: 'tz' } } });
      const id = (created.json as { id: number }).id;
      const before = Date.now();
      await call(tokyo, 'POST', 'ITILFollowup', { appToken: null, session: t, body: { input: { itemtype: 'Ticket', items_id: id, content: 'now' } } });
      const stored = String(tokyo.followupsOf(id)[0]?.date);
      const asUtcMs = Date.parse(`${stored.replace(' ', 'T')}Z`) - 540 * 60_000;
      expect(Math.abs(asUtcMs - before)).toBeLessThan(60_000);
    } finally {
      await tokyo.close();
    }
  });

  it('stores text encoded even with X-GLPI-Sanitized-Content: false, which only decodes on read', async () => {
    const res = await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: ticket, content: '<p>x < y & z</p>' } }, { 'x-glpi-sanitized-content': 'false' });
    const id = (res.json as { id: number }).id;
    expect((await get(`ITILFollowup/${id}`)).json).toMatchObject({ content: '&#60;p&#62;x &#60; y &#38; z&#60;/p&#62;' });
    expect((await get(`ITILFollowup/${id}`, { 'x-glpi-sanitized-content': 'false' })).json).toMatchObject({ content: '<p>x < y & z</p>' });
    expect(glpiDecode(String(sim.state.followups.find((f) => f.id === id)?.content))).toBe('<p>x < y & z</p>');
  });

  it('a requester reply (session user is requester) reopens a solved ticket; add_reopen forces it', async () => {
    await post('ITILSolution', { input: { itemtype: 'Ticket', items_id: ticket, content: 'done' } });
    await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: ticket, content: 'agent note' } });
    expect(sim.state.tickets.find((t) => t.id === ticket)?.status).toBe(5);
    await post('ITILFollowup', { input: { itemtype: 'Ticket', items_id: ticket, content: 'still broken', add_reopen: 1 } });
    expect(sim.state.tickets.find((t) => t.id === ticket)?.status).toBe(1);
  });
});

describe('lists and pagination', () => {
  it('GET /Ticket?range=0-1 is 206 with Content-Range and Accept-Range', async () => {
    const total = sim.state.tickets.filter((t) => t.is_deleted === 0).length;
    const res = await get('Ticket?range=0-1&expand_dropdowns=true');
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`0-1/${total}`);
    expect(res.headers['accept-range']).toBe('Ticket 1000');
    expect(res.json).toEqual([expect.objectContaining({ entities_id: 'Root entity', users_id_recipient: 'glpi', requesttypes_id: 'Helpdesk' }), expect.anything()]);
  });

  it('a range covering everything is 200 with the real end in Content-Range', async () => {
    const total = sim.state.tickets.filter((t) => t.is_deleted === 0).length;
    const res = await get('Ticket?range=0-100&only_id=true');
    expect(res.status).toBe(200);
    expect(res.headers['content-range']).toBe(`0-${total - 1}/${total}`);
    expect((res.json as { id: number; links: unknown[] }[])[0]).toEqual({ id: expect.any(Number), links: expect.any(Array) });
  });

  it('a range past the total is 400 ERROR_RANGE_EXCEED_TOTAL', async () => {
    const total = sim.state.tickets.filter((t) => t.is_deleted === 0).length;
    const res = await get('Ticket?range=100-200');
    expect([res.status, res.json]).toEqual([400, withDoc(sim, 'ERROR_RANGE_EXCEED_TOTAL', `Provided range exceed total count of data: ${total}`)]);
  });
});

describe('payload errors', () => {
  it('GET with a body is 400 ERROR_JSON_PAYLOAD_FORBIDDEN', async () => {
    const res = await call(sim, 'GET', 'Ticket/1', { session: token, body: { input: {} } });
    expect(res.status).toBe(400);
    expect((res.json as string[])[0]).toBe('ERROR_JSON_PAYLOAD_FORBIDDEN');
  });

  it('invalid JSON is 400 ERROR_JSON_PAYLOAD_INVALID', async () => {
    const res = await call(sim, 'POST', 'Ticket', { session: token, body: '{"input":{"name":' });
    expect([res.status, res.json]).toEqual([400, ['ERROR_JSON_PAYLOAD_INVALID', 'JSON payload seems not valid']]);
  });

  it('a body without input is 400 ERROR_BAD_ARRAY, and so is JSON without a Content-Type', async () => {
    const expected = withDoc(sim, 'ERROR_BAD_ARRAY', 'input parameter must be an array of objects');
    expect((await post('Ticket', { name: 'bad shape' })).json).toEqual(expected);
    const noType = await call(sim, 'POST', 'Ticket', { session: token, contentType: null, body: { input: { name: 'no ctype', content: 'x' } } });
    expect([noType.status, noType.json]).toEqual([400, expected]);
  });

  it('form-urlencoded makes GLPI 10.0.3 die: 200 with an empty text/html body, nothing created', async () => {
    const before = sim.state.tickets.length;
    const res = await call(sim, 'POST', 'Ticket', { session: token, contentType: 'application/x-www-form-urlencoded', body: 'input[name]=formenc&input[content]=x' });
    expect([res.status, res.text, res.headers['content-type']]).toEqual([200, '', 'text/html; charset=UTF-8']);
    expect(sim.state.tickets.length).toBe(before);
  });

  it('an unknown itemtype or resource is 400 ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM', async () => {
    const expected = withDoc(sim, 'ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM', 'resource not found or not an instance of CommonDBTM');
    expect((await get('NotAnItemtype/1')).json).toEqual(expected);
    expect((await get('fooBar')).json).toEqual(expected);
  });
});

describe('Document upload (multipart uploadManifest + filename[0])', () => {
  function multipart(manifest: unknown, filename: string, data: string, type = 'text/plain'): { body: Buffer; contentType: string } {
    const boundary = '----simtest';
    const body = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="uploadManifest"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(manifest)}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="filename[0]"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${data}\r\n--${boundary}--\r\n`,
    );
    return { body, contentType: `multipart/form-data; boundary=${boundary}` };
  }

  it('creates the Document, links it to the ticket and reports upload_result', async () => {
    const { json } = await post('Ticket', { input: { name: 'with file' } });
    const ticket = (json as { id: number }).id;
    const { body, contentType } = multipart({ input: { name: 'log.txt', _filename: ['log.txt'], itemtype: 'Ticket', items_id: ticket, _only_if_upload_succeed: 1 } }, 'log.txt', 'hello');
    const res = await call(sim, 'POST', 'Document', { session: token, body, contentType });
    expect(res.status).toBe(201);
    const id = (res.json as { id: number }).id;
    expect(res.json).toEqual({ id, message: 'Item successfully added: log.txt', upload_result: { filename: [expect.objectContaining({ name: expect.stringMatching(/log\.txt$/), size: 5 })] } });
    expect(sim.state.documents.find((d) => d.id === id)).toMatchObject({ filename: 'log.txt', mime: 'text/plain', sha1sum: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d' });
    expect((await get(`Ticket/${ticket}/Document_Item?get_hateoas=false`)).json).toEqual([expect.objectContaining({ documents_id: id, itemtype: 'Ticket', items_id: ticket })]);
    const download = await call(sim, 'GET', `Document/${id}`, { session: token, headers: { accept: 'application/octet-stream' } });
    expect(download.text).toBe('hello');
  });

  it('refuses a file type GLPI does not accept when _only_if_upload_succeed is set', async () => {
    const { body, contentType } = multipart({ input: { name: 'x', _filename: ['x.exe'], _only_if_upload_succeed: 1 } }, 'x.exe', 'MZ', 'application/octet-stream');
    const res = await call(sim, 'POST', 'Document', { session: token, body, contentType });
    expect([res.status, (res.json as string[])[0]]).toEqual([400, 'ERROR_GLPI_ADD']);
  });

  it('links a document afterwards with POST /Document_Item', async () => {
    const { json } = await post('Ticket', { input: { name: 'link later' } });
    const ticket = (json as { id: number }).id;
    const { body, contentType } = multipart({ input: { name: 'a.png', _filename: ['a.png'] } }, 'a.png', 'PNG', 'image/png');
    const doc = (await call(sim, 'POST', 'Document', { session: token, body, contentType })).json as { id: number };
    const res = await post('Document_Item', { input: { documents_id: doc.id, itemtype: 'Ticket', items_id: ticket } });
    expect([res.status, res.json]).toEqual([201, { id: expect.any(Number), message: '' }]);
  });
});
