/** Conformance: a Self-Service (post-only) session, as glpi-apirest-observed.md section J; setRight() grants later. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { APP_TOKEN, call, login, NO_PERMISSION, q, SELF_SERVICE } from './support.js';

let sim: GlpiSimulator;
let admin: string;
let postOnly: string;
let adminTicket: number;
let jdoe: number;

beforeAll(async () => {
  sim = await startGlpiSimulator({ appToken: APP_TOKEN });
  admin = await login(sim);
  postOnly = await login(sim, SELF_SERVICE);
  jdoe = ((await call(sim, 'POST', 'User', { session: admin, body: { input: { name: 'jdoe', _useremails: ['john.doe@example.com'] } } })).json as { id: number }).id;
  adminTicket = ((await call(sim, 'POST', 'Ticket', { session: admin, body: { input: { name: 'Printer on fire', _users_id_requester: jdoe } } })).json as { id: number }).id;
});

afterAll(async () => {
  await sim.close();
});

const READ_DENIED = [403, ['ERROR_RIGHT_MISSING', NO_PERMISSION]];

describe('Self-Service profile', () => {
  it('getActiveProfile shows the Self-Service bitmasks', async () => {
    const res = await call(sim, 'GET', 'getActiveProfile', { session: postOnly });
    expect(res.json).toEqual({ active_profile: expect.objectContaining({ id: 1, name: 'Self-Service', interface: 'helpdesk', ticket: 5, followup: 5 }) });
    expect((res.json as { active_profile: Record<string, unknown> }).active_profile).not.toHaveProperty('user');
  });

  it('a missing READ right is 403 ERROR_RIGHT_MISSING: GET /User/:id, GET /User, search/User, someone else\'s ticket', async () => {
    const search = `search/User?${q({ 'criteria[0][field]': 5, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': 'example.com' })}`;
    for (const path of [`User/${jdoe}`, 'User', search, `Ticket/${adminTicket}`]) {
      const res = await call(sim, 'GET', path, { session: postOnly });
      expect([res.status, res.json]).toEqual(READ_DENIED);
    }
  });

  it('a missing CREATE/UPDATE/DELETE right is 400 ERROR_GLPI_ADD / _UPDATE / _DELETE', async () => {
    const add = await call(sim, 'POST', 'User', { session: postOnly, body: { input: { name: 'hacker', _useremails: ['h@example.com'] } } });
    expect([add.status, add.json]).toEqual([400, ['ERROR_GLPI_ADD', NO_PERMISSION]]);
    const update = await call(sim, 'PUT', `Ticket/${adminTicket}`, { session: postOnly, body: { input: { status: 5 } } });
    expect([update.status, update.json]).toEqual([400, ['ERROR_GLPI_UPDATE', NO_PERMISSION]]);
    const del = await call(sim, 'DELETE', `Ticket/${adminTicket}`, { session: postOnly });
    expect([del.status, del.json]).toEqual([400, ['ERROR_GLPI_DELETE', NO_PERMISSION]]);
    expect(sim.state.tickets.find((t) => t.id === adminTicket)).toMatchObject({ status: 1, is_deleted: 0 });
  });

  it('may add a followup to its own ticket but not to someone else\'s', async () => {
    const other = await call(sim, 'POST', 'ITILFollowup', { session: postOnly, body: { input: { itemtype: 'Ticket', items_id: adminTicket, content: 'me too' } } });
    expect([other.status, other.json]).toEqual([400, ['ERROR_GLPI_ADD', NO_PERMISSION]]);
    const own = await call(sim, 'POST', 'Ticket', { session: postOnly, body: { input: { name: 'self-service ticket', content: 'help' } } });
    const ownId = (own.json as { id: number }).id;
    expect([own.status, own.json]).toEqual([201, { id: ownId, message: `Item successfully added: self-service ticket (${ownId})` }]);
    const followup = await call(sim, 'POST', 'ITILFollowup', { session: postOnly, body: { input: { itemtype: 'Ticket', items_id: ownId, content: 'more info' } } });
    expect([followup.status, followup.json]).toEqual([201, { id: expect.any(Number), message: '' }]);
    expect((await call(sim, 'GET', `Ticket/${ownId}`, { session: postOnly })).status).toBe(200);
    const list = await call(sim, 'GET', 'Ticket?range=0-50', { session: postOnly });
    expect((list.json as { id: number }[]).map((t) => t.id)).toEqual([ownId]);
  });
});

describe('setRight()', () => {
  it('granting User read/create lets the same session search and create users, and shows in getActiveProfile', async () => {
    sim.setRight('self-service', 'User', 'read', true);
    sim.setRight('self-service', 'User', 'create', true);
    try {
      const search = await call(sim, 'GET', `search/User?${q({ 'criteria[0][field]': 1, 'criteria[0][searchtype]': 'contains', 'criteria[0][value]': '^jdoe$' })}`, { session: postOnly });
      expect(search.status).toBe(200);
      const add = await call(sim, 'POST', 'User', { session: postOnly, body: { input: { name: 'granted' } } });
      expect(add.status).toBe(201);
      const profile = (await call(sim, 'GET', 'getActiveProfile', { session: postOnly })).json as { active_profile: { user: number } };
      expect(profile.active_profile.user & 5).toBe(5);
    } finally {
      sim.setRight('self-service', 'User', 'read', false);
      sim.setRight('self-service', 'User', 'create', false);
    }
    expect((await call(sim, 'GET', 'User', { session: postOnly })).status).toBe(403);
  });

  it('granting ITILFollowup create opens every ticket to followups; taking Ticket read from the admin gives 403', async () => {
    sim.setRight('self-service', 'ITILFollowup', 'create', true);
    const res = await call(sim, 'POST', 'ITILFollowup', { session: postOnly, body: { input: { itemtype: 'Ticket', items_id: adminTicket, content: 'now allowed' } } });
    expect(res.status).toBe(201);
    sim.setRight('self-service', 'ITILFollowup', 'create', false);

    sim.setRight('super-admin', 'Ticket', 'read', false);
    try {
      expect((await call(sim, 'GET', `Ticket/${adminTicket}`, { session: admin })).status).toBe(403);
    } finally {
      sim.setRight('super-admin', 'Ticket', 'read', true);
    }
    expect((await call(sim, 'GET', `Ticket/${adminTicket}`, { session: admin })).status).toBe(200);
  });
});
