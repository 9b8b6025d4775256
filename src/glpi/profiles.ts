import type { GlpiClient } from './types.js';

/**
 * Which GLPI profiles a user holds and which interface each profile opens. `helpdesk` is GLPI's
 * simplified interface (Self-Service); anything else (`central`) is staff. Observed on GLPI
 * 10.0.3 and 11.0.8 alike: `GET /User/:id/Profile_User` lists `{profiles_id, entities_id,
 * is_recursive, is_dynamic, ...}` (readable with the User read right, so by Technician too), and
 * `GET /Profile/:id` carries `interface` (needs the Profile read right: Super-Admin has it,
 * Technician does not, and GLPI answers 403 ERROR_RIGHT_MISSING).
 */

/** Profile ids of a GLPI user, in every entity (a staff profile anywhere counts). */
export async function profileIdsOfUser(client: GlpiClient, userId: number): Promise<number[]> {
  const rows = await client.getSubItems('User', userId, 'Profile_User');
  const ids = rows.map((row) => Number(row.profiles_id)).filter((id) => Number.isSafeInteger(id) && id > 0);
  return [...new Set(ids)];
}

/**
 * Profile interfaces per hook, read once and kept for `ttlMs`: a profile's interface hardly ever
 * changes, and binding a new customer must not cost one GLPI read per profile every time.
 */
export class ProfileInterfaceCache {
  private readonly entries = new Map<string, { value: string; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async interfaceOf(client: GlpiClient, profileId: number): Promise<string> {
    const key = `${client.hookId}\u0000${profileId}`;
    const cached = this.entries.get(key);
    if (cached !== undefined && this.now() - cached.at < this.ttlMs) return cached.value;
    const profile = await client.getItem('Profile', profileId);
    // Unknown shapes count as staff: the caller only ever trusts an explicit "helpdesk".
    const value = typeof profile.interface === 'string' ? profile.interface : 'unknown';
    this.entries.set(key, { value, at: this.now() });
    return value;
  }
}
