/** Conformance: GET /search/:itemtype and listSearchOptions, as glpi-apirest-observed.md sections E, F, I and M. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { APP_TOKEN, call, login, q, withDoc } from './support.js';

let sim: GlpiSimulator;
let token: string;
let jdoe: number;
let asmith: number;

const search = (itemtype: string, params: Record<string, string | number>, headers?: Record<string, string>) =>
  call(sim, 'GET', `search/${itemtype}?${q(params)}`, { session: token, ...(headers ? { headers } : {}) });

const byEmail = (value: string, searchtype = 'contains') => ({
  'criteria[0][field]': 5, 'criteria[0][searchtype]': searchtype, 'criteria[0][value]': value, 'forcedisplay[0]': 2, 'forcedisplay[1]': 5,
});

beforeAll(async () => {
  sim = await startGlpiSimulator({ appToken: APP_TOKEN });
  token = await login(sim);
  const add = async (input: Record<string, unknown>) =>
    ((await call(sim, 'POST', 'User', { session: token, body: { input } })).json as { id: number }).id;
  jdoe = await add({ name: 'jdoe', realname: 'Doe', firstname: 'John', _useremails: ['john.doe@example.com'], mobile: '+33 6 12 34 56 78' });
  asmith = await add({ name: 'asmith', realname: 'Smith', firstname: 'Alice', _useremails: { '-1': 'alice.smith@example.com' }, _default_email: -1 });
  await add({ name: 'bulk1', _useremails: ['bulk1@example.com'] });
  await add({ name: 'bulk2', _useremails: ['bulk2@example.com'] });
});

afterAll(async () => {
  await sim.close();
});

describe('search/User by e-mail (option 5)', () => {
  it('finds a user with contains: keys are option ids, id is an integer, headers as GLPI', async () => {
    const res = await search('User', byEmail('john.doe@example.com'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ totalcount: 1, count: 1, sort: ['1'], order: ['ASC'], data: [{ '1': 'jdoe', '2': jdoe, '5': 'john.doe@example.com' }], 'content-range': '0-0/1' });
    expect(res.headers['content-range']).toBe('0-0/1');
    expect(res.headers['accept-range']).toBe('User 1000');
  });

  it('honours ^...$ anchors with contains, case-insensitively', async () => {
    const res = await search('User', byEmail('^JOHN.DOE@example.com$'));
    expect((res.json as { data: unknown[] }).data).toEqual([{ '1': 'jdoe', '2': jdoe, '5': 'john.doe@example.com' }]);
    expect((await search('User', byEmail('^john.doe@example.co$'))).json).toMatchObject({ totalcount: 0 });
  });

  it('finds nothing with equals on the e-mail option (it compares glpi_useremails.id)', async () => {
    const res = await search('User', { ...byEmail('john.doe@example.com', 'equals') });
    expect(res.json).toEqual({ totalcount: 0, count: 0, sort: ['1'], order: ['ASC'], 'content-range': '0--1/0' });
  });

  it('answers zero hits without a data key and without a Content-Range header', async () => {
    const res = await search('User', { 'criteria[0][field]': 5, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': 'nobody@nowhere.invalid' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ totalcount: 0, count: 0, sort: ['1'], order: ['ASC'], 'content-range': '0--1/0' });
    expect(res.json).not.toHaveProperty('data');
    expect(res.headers['content-range']).toBeUndefined();
    expect(res.headers['accept-range']).toBe('User 1000');
  });

  it('a column filtered on shows only the matching value; unfiltered, several values are an array', async () => {
    await call(sim, 'POST', 'UserEmail', { session: token, body: { input: { users_id: jdoe, email: 'jd@alt.example.org', is_default: 0 } } });
    const filtered = await search('User', byEmail('jd@alt.example.org'));
    expect((filtered.json as { data: unknown[] }).data).toEqual([{ '1': 'jdoe', '2': jdoe, '5': 'jd@alt.example.org' }]);
    const or = await search('User', {
      'criteria[0][field]': 1, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': '^jdoe$',
      'criteria[1][link]': 'OR', 'criteria[1][field]': 5, 'criteria[1][searchtype]': 'contains', 'criteria[1][value]': '^alice.smith@example.com$',
      'forcedisplay[0]': 2,
    });
    expect(or.json).toEqual({
      totalcount: 2, count: 2, sort: ['1'], order: ['ASC'], 'content-range': '0-1/2',
      data: [
        { '1': 'asmith', '2': asmith, '5': 'alice.smith@example.com' },
        { '1': 'jdoe', '2': jdoe, '5': ['john.doe@example.com', 'jd@alt.example.org'] },
      ],
    });
  });

  it('is 206 with uid keys when uid_cols=true and the range is partial', async () => {
    const res = await search('User', { ...byEmail('example.com'), uid_cols: 'true', range: '0-1' });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe('0-1/4');
    expect(res.json).toEqual({
      totalcount: 4, count: 2, sort: ['1'], order: ['ASC'], 'content-range': '0-1/4',
      data: [
        { 'User.name': 'asmith', 'User.id': asmith, 'User.UserEmail.email': 'alice.smith@example.com' },
        { 'User.name': 'bulk1', 'User.id': expect.any(Number), 'User.UserEmail.email': 'bulk1@example.com' },
      ],
    });
  });

  it('shows the default columns without forcedisplay', async () => {
    const res = await search('User', { range: '0-2' });
    expect(res.status).toBe(206);
    expect((res.json as { data: unknown[] }).data[0]).toEqual({ '1': 'asmith', '34': 'Smith', '5': 'alice.smith@example.com', '6': null, '3': null, '8': 1 });
  });

  it('LIKE wildcards: % in the value bridges separators (phone digits in order)', async () => {
    const res = await search('User', { 'criteria[0][field]': 11, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': '6%1%2%3%4%5%6%7%8', 'forcedisplay[0]': 2 });
    expect((res.json as { data: unknown[] }).data).toEqual([{ '1': 'jdoe', '2': jdoe, '11': '+33 6 12 34 56 78' }]);
  });

  it('rejects an unknown field with 400 ["ERROR","Bad field ID in search criteria; ..."]', async () => {
    const res = await search('User', { 'criteria[0][field]': 99999, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': 'x' });
    expect([res.status, res.json]).toEqual([400, withDoc(sim, 'ERROR', 'Bad field ID in search criteria')]);
  });

  it('a range past the total is 400 ERROR_RANGE_EXCEED_TOTAL', async () => {
    const res = await search('Ticket', { range: '50-60' });
    expect([res.status, res.json]).toEqual([400, withDoc(sim, 'ERROR_RANGE_EXCEED_TOTAL', 'Provided range exceed total count of data: 0')]);
  });
});

describe('search/Ticket and search/Contact', () => {
  let printer: number;
  let both: number;
  beforeAll(async () => {
    const add = async (input: Record<string, unknown>) => ((await call(sim, 'POST', 'Ticket', { session: token, body: { input } })).json as { id: number }).id;
    printer = await add({ name: 'Printer on fire', content: '<p>room 12 & more</p>', _users_id_requester: jdoe });
    await add({ name: 'Anonymous requester', _users_id_requester: 0, _users_id_requester_notif: { use_notification: 1, alternative_email: 'ext.person@example.net' } });
    both = await add({ name: 'Two requesters', content: 'x', _users_id_requester: [jdoe, asmith] });
    await call(sim, 'POST', 'Contact', { session: token, body: { input: { name: 'Martin', firstname: 'Léa', email: 'lea@example.fr', phone: '01 23 45 67 89' } } });
  });

  it('finds tickets by requester (option 4 equals the user id; the cell is the id as a string)', async () => {
    const res = await search('Ticket', { 'criteria[0][field]': 4, 'criteria[0][searchtype]': 'equals', 'criteria[0][value]': jdoe, 'forcedisplay[0]': 2, 'forcedisplay[1]': 12 });
    expect(res.json).toEqual({
      totalcount: 2, count: 2, sort: ['1'], order: ['ASC'], 'content-range': '0-1/2',
      data: [
        { '2': printer, '1': 'Printer on fire', '12': 1, '4': String(jdoe) },
        { '2': both, '1': 'Two requesters', '12': 1, '4': String(jdoe) },
      ],
    });
  });

  it('finds an e-mail-only requester with option 34', async () => {
    const res = await search('Ticket', { 'criteria[0][field]': 34, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': '^ext.person@example.net$', 'forcedisplay[0]': 2 });
    expect((res.json as { data: Record<string, unknown>[] }).data).toEqual([expect.objectContaining({ '1': 'Anonymous requester', '34': 'ext.person@example.net' })]);
  });

  it('searches the content (option 21) on the decoded text and returns it encoded, even when asked not to', async () => {
    const params = { 'criteria[0][field]': 21, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': 'room 12 & more', 'forcedisplay[0]': 2 };
    expect((await search('Ticket', params)).json).toMatchObject({ totalcount: 1, data: [{ '21': '&#60;p&#62;room 12 &#38; more&#60;/p&#62;' }] });
    // Observed on the real 10.0.3: X-GLPI-Sanitized-Content: false decodes item reads, not search cells.
    expect((await search('Ticket', params, { 'x-glpi-sanitized-content': 'false' })).json).toMatchObject({
      data: [{ '21': '&#60;p&#62;room 12 &#38; more&#60;/p&#62;' }],
    });
  });

  it('status 12 accepts GLPI meta values (notold)', async () => {
    const res = await search('Ticket', { 'criteria[0][field]': 12, 'criteria[0][searchtype]': 'equals', 'criteria[0][value]': 'notold' });
    expect(res.json).toMatchObject({ totalcount: 3 });
  });

  it('finds a contact by e-mail (6), phone (3) and first name (11, accent-insensitive)', async () => {
    for (const [field, value] of [[6, '^lea@example.fr$'], [3, '1%2%3%4%5'], [11, 'lea']] as const) {
      const res = await search('Contact', { 'criteria[0][field]': field, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': value, 'forcedisplay[0]': 2 });
      expect((res.json as { data: Record<string, unknown>[] }).data).toEqual([expect.objectContaining({ '1': 'Martin', '2': expect.any(Number) })]);
    }
  });
});

describe('listSearchOptions', () => {
  it('describes the User options the bridge relies on', async () => {
    const res = await call(sim, 'GET', 'listSearchOptions/User', { session: token });
    const body = res.json as Record<string, { uid?: string; table?: string; field?: string }>;
    expect(body.common).toEqual({ name: 'Characteristics' });
    expect(body['1']).toEqual({ name: 'Login', table: 'glpi_users', field: 'name', datatype: 'itemlink', nosearch: false, nodisplay: false, available_searchtypes: ['contains', 'notcontains', 'equals', 'notequals'], uid: 'User.name' });
    expect(body['5']).toMatchObject({ name: 'Emails', table: 'glpi_useremails', field: 'email', uid: 'User.UserEmail.email' });
    for (const id of ['2', '6', '9', '10', '11', '34']) expect(body[id]?.table).toBe('glpi_users');
  });
});
