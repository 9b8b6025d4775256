import { isGlpiError } from '../../errors/index.js';
import { profileIdsOfUser } from '../../glpi/profiles.js';
import type { SyncContext } from './context.js';
import type { CustomerKind } from '../mapping-records.js';

/**
 * May a Chatwoot contact be bound to a GLPI record that already exists? Everything a customer
 * types (e-mail, phone) is theirs to choose, so binding to whatever account carries that e-mail
 * would let anyone become a technician's requester identity. The hook's `customerBinding`
 * decides:
 *
 *   self-service  users whose every profile (in any entity) opens GLPI's simplified interface
 *   created-only  users the bridge created itself
 *   any           every user (the behaviour before this policy; unsafe)
 *
 * Users the bridge created are bound under `self-service` too as long as their profiles stay
 * self-service (GLPI gives new users its default Self-Service profile); `created-only` binds them
 * whatever a GLPI admin made of them since. With `trustVerified`, a contact Chatwoot marks
 * `hmac_verified` is bound to any user. GLPI Contacts lend no powers (they cannot log in or act
 * on tickets), so they are always bound; the bridge still never modifies one it did not create.
 */

type BindingVerdict =
  | { bind: true; reason: 'contact' | 'any' | 'verified' | 'created' | 'self-service' }
  | { bind: false; reason: 'staff-profile' | 'not-created' | 'profiles-unreadable' };

/** The policy and the verified switch as one tag, kept with a refusal so a changed setting decides again. */
export function bindingPolicyTag(ctx: Pick<SyncContext, 'hook'>): string {
  const { policy, trustVerified } = ctx.hook.customerBinding;
  return trustVerified ? `${policy}+verified` : policy;
}

export async function bindingVerdict(ctx: SyncContext, kind: CustomerKind, glpiId: number, verified: boolean): Promise<BindingVerdict> {
  if (kind === 'contact') return { bind: true, reason: 'contact' };
  const { policy, trustVerified } = ctx.hook.customerBinding;
  if (policy === 'any') return { bind: true, reason: 'any' };
  if (verified && trustVerified) return { bind: true, reason: 'verified' };
  if (policy === 'created-only') {
    return (await ctx.store.isCreated('user', glpiId)) ? { bind: true, reason: 'created' } : { bind: false, reason: 'not-created' };
  }
  try {
    for (const profileId of await profileIdsOfUser(ctx.glpi, glpiId)) {
      if ((await ctx.profiles.interfaceOf(ctx.glpi, profileId)) !== 'helpdesk') return { bind: false, reason: 'staff-profile' };
    }
  } catch (err) {
    // A token whose profile may not read Profiles (GLPI's Technician) cannot tell staff from
    // customers: refuse rather than guess. Anything else (GLPI down...) retries the job.
    if (!isGlpiError(err) || err.category !== 'permission') throw err;
    ctx.logger.warn(
      { glpiUserId: glpiId, code: err.code },
      "cannot read the GLPI user's profiles; binding refused (give the bridge's profile read access to Profiles and Users, or set CUSTOMER_BINDING=created-only)",
    );
    return { bind: false, reason: 'profiles-unreadable' };
  }
  return { bind: true, reason: 'self-service' };
}
