/**
 * GLPI profile rights as `getActiveProfile` shows them: one integer bitmask per right name
 * (GLPI 10.0 / 11 `CommonDBTM` constants plus the Ticket and ITILFollowup specific ones).
 * Reading them lets doctor say which right is missing without creating anything in GLPI.
 */
const RIGHT = {
  READ: 1,
  UPDATE: 2,
  CREATE: 4,
  DELETE: 8,
  PURGE: 16,
} as const;

/** Ticket::READALL: see every ticket, not only the bridge user's own. */
const TICKET_READALL = 1024;
/** ITILFollowup: add followups to all tickets (ADDMYTICKET 4 and ADDGROUPTICKET 2048 are not enough for the bridge). */
const FOLLOWUP_ADDALLTICKET = 4096;

interface RightRequirement {
  /** What doctor prints: "Users", "Tickets"... */
  label: string;
  /** Key in active_profile ("user", "contact_enterprise", "ticket", "followup"). */
  profileKey: string;
  /** Every [bit, name] listed must be set. */
  needs: { bit: number; name: string }[];
  /** Where an admin grants it. */
  where: string;
}

/** Customers (Users or Contacts) are looked up, created and updated. */
const READ_CREATE_UPDATE: RightRequirement['needs'] = [
  { bit: RIGHT.READ, name: 'read' },
  { bit: RIGHT.CREATE, name: 'create' },
  { bit: RIGHT.UPDATE, name: 'update' },
];

/** What the bridge needs for a hook, by sync type. */
export function requiredRights(syncType: 'user' | 'contact'): RightRequirement[] {
  const customer: RightRequirement =
    syncType === 'user'
      ? {
          label: 'Users',
          profileKey: 'user',
          needs: READ_CREATE_UPDATE,
          where: 'Administration > Profiles > (profile) > Administration > Users',
        }
      : {
          label: 'Contacts',
          profileKey: 'contact_enterprise',
          needs: READ_CREATE_UPDATE,
          where: 'Administration > Profiles > (profile) > Management > Contacts/Suppliers',
        };
  return [
    customer,
    {
      label: 'Tickets',
      profileKey: 'ticket',
      needs: [
        { bit: RIGHT.READ | TICKET_READALL, name: 'read' },
        { bit: RIGHT.CREATE, name: 'create' },
        { bit: RIGHT.UPDATE, name: 'update' },
      ],
      where: 'Administration > Profiles > (profile) > Assistance > Tickets',
    },
    {
      label: 'ITILFollowups',
      profileKey: 'followup',
      needs: [
        { bit: 1, name: 'see public' },
        { bit: FOLLOWUP_ADDALLTICKET, name: 'add (all tickets)' },
      ],
      where: 'Administration > Profiles > (profile) > Assistance > Followups: "Add to all tickets"',
    },
  ];
}

/**
 * Missing right names, or undefined when the profile does not carry this key (a GLPI whose
 * getActiveProfile hides rights): the caller then falls back to a read probe.
 */
export function missingRights(profile: Record<string, unknown>, requirement: RightRequirement): string[] | undefined {
  const mask = rightMask(profile[requirement.profileKey]) ?? (showsRights(profile) ? 0 : undefined);
  if (mask === undefined) return undefined;
  // A requirement bit made of several alternatives (READ | READALL) is met by any one of them.
  return requirement.needs.filter(({ bit }) => (mask & bit) === 0).map(({ name }) => name);
}

function rightMask(raw: unknown): number | undefined {
  return typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** A profile that lists some rights as bitmasks leaves out the ones it does not have at all. */
function showsRights(profile: Record<string, unknown>): boolean {
  return ['ticket', 'followup', 'user', 'contact_enterprise', 'document', 'entity'].some((key) => rightMask(profile[key]) !== undefined);
}

/**
 * What makes the bridge's GLPI profile more than the bridge needs, as getActiveProfile shows it.
 * Verified on GLPI 10.0.3 and 11.0.8: of the install's profiles only Super-Admin may update the
 * general configuration (`config` 3) or profiles (`profile` 23); Admin has `config` 0 and
 * `profile` 1, Technician 0 and 0. A token with these rights can make itself anything in GLPI.
 */
export function superAdminRights(profile: Record<string, unknown>): string[] {
  const found: string[] = [];
  if (bitsOf(profile.config) & RIGHT.UPDATE) found.push('update the general configuration');
  if (bitsOf(profile.profile) & RIGHT.UPDATE) found.push('update profiles');
  return found;
}

/** The binding policy `self-service` reads GET /Profile/:id: it needs the Profile read right. */
export function canReadProfiles(profile: Record<string, unknown>): boolean {
  return (bitsOf(profile.profile) & RIGHT.READ) !== 0;
}

function bitsOf(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}
