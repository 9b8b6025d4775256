/**
 * What the customer binding policy and doctor read about GLPI profiles, against the simulator
 * (always) and a real GLPI when GLPI_TEST_URL, GLPI_TEST_APP_TOKEN and GLPI_TEST_USER_TOKEN are set
 * (GLPI_TEST_TECH_TOKEN and GLPI_TEST_SELF_SERVICE_TOKEN add the cases for those profiles).
 * Against a real GLPI it creates users named "cgb-binding-*".
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGlpiApiUrl } from '../../src/config/glpi-url.js';
import { createGlpiClient, type GlpiClientHandle } from '../../src/glpi/client.js';
import { profileIdsOfUser, ProfileInterfaceCache } from '../../src/glpi/profiles.js';
import type { GlpiClient } from '../../src/glpi/types.js';
import { canReadProfiles, superAdminRights } from '../../src/ops/doctor/glpi-rights.js';
import type { GlpiSimulator } from '../support/glpi-simulator/api.js';
import { startGlpiSimulator } from '../support/glpi-simulator/index.js';

interface Target {
  baseUrl: string;
  appToken: string | undefined;
  adminToken: string;
  selfServiceToken: string | undefined;
  techToken: string | undefined;
  sim?: GlpiSimulator;
}

const env = process.env;
const realConfigured = Boolean(env.GLPI_TEST_URL && env.GLPI_TEST_USER_TOKEN && env.GLPI_TEST_APP_TOKEN);

describe('GLPI profiles for customer binding: simulator', () => {
  contract(async () => {
    const sim = await startGlpiSimulator();
    return { baseUrl: sim.url, appToken: undefined, adminToken: 'admin-user-token', selfServiceToken: 'selfservice-user-token', techToken: undefined, sim };
  }, false);
});

describe.skipIf(!realConfigured)(
  realConfigured ? `GLPI profiles for customer binding: real GLPI at ${env.GLPI_TEST_URL}` : 'GLPI profiles for customer binding: real GLPI (skipped: set GLPI_TEST_*)',
  () => {
    contract(async () => ({
      baseUrl: checkGlpiApiUrl(env.GLPI_TEST_URL as string).baseUrl,
      appToken: env.GLPI_TEST_APP_TOKEN,
      adminToken: env.GLPI_TEST_USER_TOKEN as string,
      selfServiceToken: env.GLPI_TEST_SELF_SERVICE_TOKEN || undefined,
      techToken: env.GLPI_TEST_TECH_TOKEN || undefined,
    }), true);
  },
);

/** `real`: cases only a real GLPI can answer (the simulator has no Technician token). */
function contract(start: () => Promise<Target>, real: boolean): void {
  let target: Target;
  const clients: GlpiClientHandle[] = [];
  const run = `cgb-binding-${randomUUID().slice(0, 8)}`;

  function clientFor(userToken: string): GlpiClientHandle {
    const client = createGlpiClient({
      hookId: 'contract',
      baseUrl: target.baseUrl,
      appToken: target.appToken,
      userToken,
      entityId: 0,
      syncType: 'user',
      ticketType: 1,
      categoryId: undefined,
      defaultUserId: undefined,
      timeoutMs: 10_000,
    });
    clients.push(client);
    return client;
  }

  async function interfacesOf(client: GlpiClient, cache: ProfileInterfaceCache, userId: number): Promise<string[]> {
    const out: string[] = [];
    for (const id of await profileIdsOfUser(client, userId)) out.push(await cache.interfaceOf(client, id));
    return out;
  }

  beforeAll(async () => {
    target = await start();
  });
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await target.sim?.close();
  });

  it("reads a staff account's profiles as central and a new user's as helpdesk only, each profile once", async () => {
    const admin = clientFor(target.adminToken);
    const me = Number((await admin.getFullSession()).glpiID);
    const calls = { profile: 0 };
    const counting = new Proxy(admin, {
      get(t, p, r) {
        const v: unknown = Reflect.get(t, p, r);
        if (p === 'getItem' && typeof v === 'function') {
          return (itemtype: string, id: number) => {
            if (itemtype === 'Profile') calls.profile += 1;
            return (v as GlpiClient['getItem']).call(t, itemtype as 'Profile', id);
          };
        }
        return v;
      },
    });
    const cache = new ProfileInterfaceCache(60_000);
    expect(await interfacesOf(counting, cache, me)).toContain('central');

    const { id: customer } = await admin.addItem('User', { name: `${run}-customer`, realname: 'Customer', _entities_id: 0 });
    const { id: tech } = await admin.addItem('User', { name: `${run}-tech`, realname: 'Tech', _profiles_id: 6, _entities_id: 0, _is_recursive: 1 });
    const customerInterfaces = await interfacesOf(counting, cache, customer);
    expect(customerInterfaces.length).toBeGreaterThan(0);
    expect(customerInterfaces.every((i) => i === 'helpdesk')).toBe(true);
    expect(await interfacesOf(counting, cache, tech)).toEqual(['central']);
    const before = calls.profile;
    await interfacesOf(counting, cache, customer);
    await interfacesOf(counting, cache, tech);
    expect(calls.profile).toBe(before);
  });

  it("tells a super-admin's active profile from the others by its rights", async () => {
    const admin = await clientFor(target.adminToken).getActiveProfile();
    expect(superAdminRights(admin)).not.toEqual([]);
    expect(canReadProfiles(admin)).toBe(true);
    for (const token of [target.selfServiceToken, target.techToken]) {
      if (token === undefined) continue;
      const profile = await clientFor(token).getActiveProfile();
      expect(superAdminRights(profile)).toEqual([]);
      expect(canReadProfiles(profile)).toBe(false);
    }
  });

  it.skipIf(!real || !env.GLPI_TEST_TECH_TOKEN)('a Technician token reads Profile_User but gets a permission error on Profile', async () => {
    const tech = clientFor(target.techToken as string);
    const me = Number((await tech.getFullSession()).glpiID);
    const ids = await profileIdsOfUser(tech, me);
    expect(ids.length).toBeGreaterThan(0);
    await expect(tech.getItem('Profile', ids[0] as number)).rejects.toMatchObject({ code: 'ERROR_RIGHT_MISSING', category: 'permission' });
  });
}
