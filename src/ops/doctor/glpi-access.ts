import type { HookConfig } from '../../config/schema.js';
import { errorCode, isGlpiError } from '../../errors/index.js';
import type { GlpiClientHandle } from '../../glpi/client.js';
import type { ItemType } from '../../glpi/types.js';
import { canReadProfiles, missingRights, requiredRights, superAdminRights } from './glpi-rights.js';
import { failure, type Add } from './types.js';

/** What the bridge's GLPI user may do and see: profile rights, privileges, entity, configured items. */

/** The bridge's active GLPI profile, or why it could not be read: read once, for every check of a hook. */
type ActiveProfile = { profile: Record<string, unknown>; error?: undefined } | { profile?: undefined; error: unknown };

export async function readActiveProfile(client: GlpiClientHandle): Promise<ActiveProfile> {
  try {
    return { profile: await client.getActiveProfile() };
  } catch (error) {
    return { error };
  }
}

export async function rightsChecks(hook: HookConfig, client: GlpiClientHandle, add: Add, active: ActiveProfile): Promise<void> {
  const { profile, error: profileError } = active;
  const profileName = typeof profile?.name === 'string' ? `profile "${profile.name}"` : 'the active profile';
  for (const req of requiredRights(hook.glpi.syncType)) {
    const id = `glpi.rights.${req.label.toLowerCase()}`;
    const title = `profile rights on ${req.label}`;
    const missing = profile ? missingRights(profile, req) : undefined;
    if (missing !== undefined) {
      add(
        missing.length === 0
          ? { id, hookId: hook.id, title, status: 'pass', detail: `${profileName} has ${req.needs.map((n) => n.name).join(', ')}` }
          : {
              id,
              hookId: hook.id,
              title,
              status: 'fail',
              detail: `${profileName} lacks ${req.label}: ${missing.join(', ')}`,
              fix: `in GLPI, ${req.where}: grant ${missing.join(', ')} to ${profileName} of the bridge's user, in entity ${hook.glpi.entityId} (recursive)`,
              code: 'GLPI_RIGHT_MISSING',
            },
      );
      continue;
    }
    // The profile does not show this right (or could not be read): a read probe proves at least
    // the read right without writing anything; create rights then cannot be verified.
    const itemtype: ItemType = req.profileKey === 'user' ? 'User' : req.profileKey === 'contact_enterprise' ? 'Contact' : req.profileKey === 'ticket' ? 'Ticket' : 'ITILFollowup';
    try {
      await client.search(itemtype, { criteria: [{ field: 2, searchtype: 'equals', value: 0 }], range: [0, 0] });
      add({
        id,
        hookId: hook.id,
        title,
        status: 'warn',
        detail: `${req.label} can be read; GLPI did not show the profile's rights${profileError !== undefined ? ` (${errorCode(profileError)})` : ''}, so create/update were not verified`,
        fix: `check in GLPI, ${req.where}, that the bridge's profile may ${req.needs.map((n) => n.name).join(', ')}`,
      });
    } catch (err) {
      add(failure(id, hook.id, title, err));
    }
  }
}

/**
 * The bridge acts on customer-controlled input: its token should not be a super-admin's (a leak
 * or a bug would then reach all of GLPI). Also warns when CUSTOMER_BINDING=self-service cannot
 * read profiles, since every existing GLPI user would then be refused binding.
 */
export function privilegeCheck(hook: HookConfig, active: ActiveProfile, add: Add): void {
  const id = 'glpi.privileges';
  const title = titleOf(id, hook);
  const { profile } = active;
  if (profile === undefined) {
    add({ id, hookId: hook.id, title, status: 'warn', detail: `could not read the active profile (${errorCode(active.error)})` });
    return;
  }
  const name = typeof profile.name === 'string' ? `profile "${profile.name}"` : 'the active profile';
  const excess = superAdminRights(profile);
  if (excess.length > 0) {
    add({
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `the token's ${name} is a super-admin's: it may ${excess.join(' and ')}`,
      fix:
        "give the bridge its own GLPI user with a profile limited to what doctor's rights checks list, plus read on Profiles " +
        '(Administration > Profiles > (profile) > Administration), and use that user\'s API token',
      code: 'GLPI_TOKEN_SUPER_ADMIN',
    });
    return;
  }
  if (hook.glpi.syncType === 'user' && hook.customerBinding.policy === 'self-service' && !canReadProfiles(profile)) {
    add({
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `${name} may not read Profiles, so no customer can be bound to an existing GLPI user (CUSTOMER_BINDING=self-service)`,
      fix: 'grant read on Profiles to this profile (Administration > Profiles > (profile) > Administration), or set CUSTOMER_BINDING=created-only',
      code: 'GLPI_PROFILES_UNREADABLE',
    });
    return;
  }
  add({ id, hookId: hook.id, title, status: 'pass', detail: `${name} is not a super-admin's` });
}

export async function entityCheck(hook: HookConfig, client: GlpiClientHandle, add: Add): Promise<void> {
  const title = titleOf('glpi.entity', hook);
  try {
    const entities = await client.getMyEntities();
    const found = entities.find((e) => e.id === hook.glpi.entityId);
    add(
      found
        ? { id: 'glpi.entity', hookId: hook.id, title, status: 'pass', detail: `"${found.name}" is among the ${entities.length} entities the user sees` }
        : {
            id: 'glpi.entity',
            hookId: hook.id,
            title,
            status: 'fail',
            detail: `the bridge's GLPI user does not see entity ${hook.glpi.entityId}; it sees ${entities.map((e) => `${e.id} "${e.name}"`).join(', ') || 'none'}`,
            fix: `set GLPI_ENTITY_ID to one of those, or give the user's profile entity ${hook.glpi.entityId} (recursive) in Administration > Users > (user) > Authorizations`,
            code: 'GLPI_ENTITY_NOT_VISIBLE',
          },
    );
  } catch (err) {
    add(failure('glpi.entity', hook.id, title, err));
  }
}

export async function itemCheck(
  hook: HookConfig,
  client: GlpiClientHandle,
  add: Add,
  id: string,
  itemtype: ItemType,
  itemId: number | undefined,
  variable: string,
): Promise<void> {
  const title = titleOf(id, hook);
  if (itemId === undefined) {
    add({ id, hookId: hook.id, title, status: 'pass', detail: `${variable} not set (${itemtype === 'User' ? "the token's user is the author" : 'tickets get no category'})` });
    return;
  }
  try {
    const item = await client.getItem(itemtype, itemId);
    const name = typeof item.completename === 'string' ? item.completename : typeof item.name === 'string' ? item.name : String(itemId);
    const inactive = itemtype === 'User' && (item.is_active === 0 || item.is_deleted === 1);
    add(
      inactive
        ? { id, hookId: hook.id, title, status: 'fail', detail: `user "${name}" is inactive or deleted`, fix: `reactivate it in GLPI or change ${variable}`, code: 'GLPI_USER_INACTIVE' }
        : { id, hookId: hook.id, title, status: 'pass', detail: `"${name}"` },
    );
  } catch (err) {
    const gone = isGlpiError(err) && (err).category === 'not-found';
    add({
      ...failure(id, hook.id, title, err),
      ...(gone ? { detail: `GLPI has no ${itemtype} ${itemId} visible to the bridge's user`, fix: `set ${variable} to an existing ${itemtype} id (GLPI shows ids in lists), or unset it` } : {}),
    });
  }
}

/** Titles of the GLPI checks that are also listed as skipped when no session could be opened. */
export function titleOf(id: string, hook: HookConfig): string {
  switch (id) {
    case 'glpi.version':
      return 'GLPI version supported';
    case 'glpi.privileges':
      return 'GLPI token is not a super-admin';
    case 'glpi.entity':
      return `entity ${hook.glpi.entityId} visible`;
    case 'glpi.category':
      return hook.glpi.categoryId === undefined ? 'ITIL category' : `ITIL category ${hook.glpi.categoryId} exists`;
    default:
      return hook.glpi.defaultUserId === undefined ? 'default user' : `default user ${hook.glpi.defaultUserId} exists`;
  }
}
