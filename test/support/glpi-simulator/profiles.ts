/**
 * Profiles as getActiveProfile shows them (values from a real GLPI 10.0.3) and the rights the
 * simulator derives from their bitmasks, so doctor's reading of a profile and the answers the
 * simulator gives can never disagree.
 */
import type { SimProfile } from './api.js';

export const ROOT_ENTITIES = [{ id: 0, name: 'Root entity', is_recursive: 1 }];

const SUPER_ADMIN_RIGHTS: Record<string, number> = {
  appliance: 31, backup: 1045, bookmark_public: 23, budget: 127, cable_management: 23, calendar: 23, cartridge: 255,
  certificate: 255, change: 1151, changevalidation: 1044, cluster: 31, computer: 255, config: 3, consumable: 255,
  contact_enterprise: 255, contract: 255, dashboard: 23, database: 31, datacenter: 31, device: 23, devicesimcard_pinpuk: 3,
  document: 255, domain: 23, dropdown: 23, entity: 3327, externalevent: 1055, followup: 31767, global_validation: 0,
  group: 119, infocom: 23, internet: 159, inventory: 3073, itilcategory: 23, itilfollowuptemplate: 23, itiltemplate: 23,
  knowbase: 15383, knowbasecategory: 23, license: 255, line: 255, lineoperator: 23, link: 159, location: 23, logs: 1,
  monitor: 255, networking: 255, notification: 23, password_update: 1, pendingreason: 31, peripheral: 255,
  personalization: 3, phone: 255, planning: 3073, printer: 255, problem: 1151, profile: 23, project: 1151,
  projecttask: 1121, queuednotification: 31, recurrentchange: 31, reminder_public: 159, reports: 1, reservation: 1055,
  rssfeed_public: 159, rule_asset: 1047, rule_dictionnary_dropdown: 23, rule_dictionnary_printer: 23,
  rule_dictionnary_software: 23, rule_import: 23, rule_ldap: 23, rule_location: 23, rule_mailcollector: 23,
  rule_softwarecategories: 23, rule_ticket: 1047, search_config: 3072, show_group_hardware: 1, slm: 23, software: 255,
  solutiontemplate: 23, state: 23, statistic: 1, task: 13329, taskcategory: 23, ticket: 261151, ticketcost: 23,
  ticketrecurrent: 23, ticketvalidation: 15376, transfer: 23, typedoc: 23, user: 7327,
};

const SELF_SERVICE_RIGHTS: Record<string, number> = {
  followup: 5, knowbase: 2048, password_update: 1, personalization: 3, reminder_public: 1, reservation: 1024,
  rssfeed_public: 1, show_group_hardware: 0, task: 1, ticket: 5, ticketvalidation: 0,
};

const HELPDESK_ITEM_TYPES = ['Computer', 'Monitor', 'NetworkEquipment', 'Peripheral', 'Phone', 'Printer', 'Software', 'DCRoom', 'Rack', 'Enclosure', 'Database'];

export interface ProfileDef {
  id: number;
  name: string;
  rights: Record<string, number>;
  /** Fields getActiveProfile shows besides the rights. */
  head: Record<string, unknown>;
}

export function defaultProfiles(): Record<SimProfile, ProfileDef> {
  return {
    'super-admin': {
      id: 4,
      name: 'Super-Admin',
      rights: { ...SUPER_ADMIN_RIGHTS },
      head: {
        interface: 'central', is_default: 0, helpdesk_hardware: 3, helpdesk_item_type: HELPDESK_ITEM_TYPES, ticket_status: [],
        date_mod: null, comment: '', problem_status: [], create_ticket_on_login: 0, tickettemplates_id: 0, changetemplates_id: 0,
        problemtemplates_id: 0, change_status: null, managed_domainrecordtypes: [-1], date_creation: null,
      },
    },
    'self-service': {
      id: 1,
      name: 'Self-Service',
      rights: { ...SELF_SERVICE_RIGHTS },
      head: {
        interface: 'helpdesk', is_default: 1, helpdesk_hardware: 1, helpdesk_item_type: HELPDESK_ITEM_TYPES,
        ticket_status: {
          '1': { '2': 0, '3': 0, '4': 0, '5': 0, '6': 0 }, '2': { '1': 0, '3': 0, '4': 0, '5': 0, '6': 0 },
          '3': { '1': 0, '2': 0, '4': 0, '5': 0, '6': 0 }, '4': { '1': 0, '2': 0, '3': 0, '5': 0, '6': 0 },
          '5': { '1': 0, '2': 0, '3': 0, '4': 0 }, '6': { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 },
        },
        create_ticket_on_login: 0, tickettemplates_id: 0, changetemplates_id: 0, problemtemplates_id: 0, managed_domainrecordtypes: [],
      },
    },
  };
}

export function activeProfileBody(profile: ProfileDef, entities: unknown[]): Record<string, unknown> {
  return { id: profile.id, name: profile.name, ...profile.head, ...profile.rights, entities };
}

export const READ = 1;
export const UPDATE = 2;
export const CREATE = 4;
export const DELETE = 8;
/** Ticket::READALL (READ alone is "my tickets"). */
export const TICKET_READALL = 1024;
/** ITILFollowup::ADDMYTICKET / ADDALLTICKET. */
export const FOLLOWUP_ADDMY = 4;
export const FOLLOWUP_ADDALL = 4096;

const PROFILE_KEYS: Record<string, string> = {
  User: 'user', UserEmail: 'user', Contact: 'contact_enterprise', Ticket: 'ticket', Ticket_User: 'ticket',
  ITILSolution: 'ticket', ITILFollowup: 'followup', Document: 'document', Document_Item: 'document',
  ITILCategory: 'itilcategory', Entity: 'entity', Profile_User: 'user',
};

export function profileKey(itemtype: string): string {
  return PROFILE_KEYS[itemtype] ?? itemtype.toLowerCase();
}

/** Bits setRight() turns on or off for one right of one itemtype. */
export function rightBits(itemtype: string, right: 'read' | 'create' | 'update' | 'delete'): number {
  if (itemtype === 'Ticket' && right === 'read') return READ | TICKET_READALL;
  if (itemtype === 'ITILFollowup' && right === 'create') return FOLLOWUP_ADDMY | FOLLOWUP_ADDALL;
  return { read: READ, create: CREATE, update: UPDATE, delete: DELETE }[right];
}
