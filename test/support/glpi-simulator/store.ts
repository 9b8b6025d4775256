/**
 * The simulator's "database": one array per GLPI table (exposed as SimState), rows shaped like the
 * columns a real GLPI 10.0.3 returns, values stored as GLPI stores them (text HTML-encoded, dates
 * in server local time).
 */
import type { SimRow, SimState } from './api.js';

type Columns = Record<string, unknown>;

const USER_COLUMNS: Columns = {
  name: null, password_last_update: null, phone: null, phone2: null, mobile: null, realname: null, firstname: null,
  locations_id: 0, language: null, use_mode: 0, list_limit: null, is_active: 1, comment: null, auths_id: 0, authtype: 1,
  last_login: null, date_mod: null, date_sync: null, is_deleted: 0, profiles_id: 0, entities_id: 0, usertitles_id: 0,
  usercategories_id: 0, date_format: null, number_format: null, names_format: null, csv_delimiter: null, is_ids_visible: null,
  use_flat_dropdowntree: null, show_jobs_at_login: null, priority_1: null, priority_2: null, priority_3: null, priority_4: null,
  priority_5: null, priority_6: null, followup_private: null, task_private: null, default_requesttypes_id: null,
  password_forget_token: null, password_forget_token_date: null, user_dn: null, registration_number: null,
  show_count_on_tabs: null, refresh_views: null, set_default_tech: null, personal_token_date: null, api_token_date: null,
  cookie_token_date: null, display_count_on_home: null, notification_to_myself: null, duedateok_color: null,
  duedatewarning_color: null, duedatecritical_color: null, duedatewarning_less: null, duedatecritical_less: null,
  duedatewarning_unit: null, duedatecritical_unit: null, display_options: null, is_deleted_ldap: 0, pdffont: null, picture: null,
  begin_date: null, end_date: null, keep_devices_when_purging_item: null, privatebookmarkorder: null, backcreated: null,
  task_state: null, palette: null, page_layout: null, fold_menu: null, fold_search: null, savedsearches_pinned: null,
  timeline_order: null, itil_layout: null, richtext_layout: null, set_default_requester: null, lock_autolock_mode: null,
  lock_directunlock_notification: null, date_creation: null, highcontrast_css: 0, plannings: null, sync_field: null,
  groups_id: 0, users_id_supervisor: 0, timezone: null, default_dashboard_central: null, default_dashboard_assets: null,
  default_dashboard_helpdesk: null, default_dashboard_mini_ticket: null, default_central_tab: 0, nickname: null,
};

const TICKET_COLUMNS: Columns = {
  entities_id: 0, name: '', date: null, closedate: null, solvedate: null, date_mod: null, users_id_lastupdater: 0, status: 1,
  users_id_recipient: 0, requesttypes_id: 1, content: null, urgency: 3, impact: 3, priority: 3, itilcategories_id: 0, type: 1,
  global_validation: 1, slas_id_ttr: 0, slas_id_tto: 0, slalevels_id_ttr: 0, time_to_resolve: null, time_to_own: null,
  begin_waiting_date: null, sla_waiting_duration: 0, ola_waiting_duration: 0, olas_id_tto: 0, olas_id_ttr: 0,
  olalevels_id_ttr: 0, ola_ttr_begin_date: null, internal_time_to_resolve: null, internal_time_to_own: null,
  waiting_duration: 0, close_delay_stat: 0, solve_delay_stat: 0, takeintoaccount_delay_stat: 0, actiontime: 0, is_deleted: 0,
  locations_id: 0, validation_percent: 0, date_creation: null,
};

const FOLLOWUP_COLUMNS: Columns = {
  itemtype: '', items_id: 0, date: null, users_id: 0, users_id_editor: 0, content: null, is_private: 0, requesttypes_id: 0,
  date_mod: null, date_creation: null, timeline_position: 1, sourceitems_id: 0, sourceof_items_id: 0,
};

const TICKET_USER_COLUMNS: Columns = { tickets_id: 0, users_id: 0, type: 1, use_notification: 1, alternative_email: '' };

const USEREMAIL_COLUMNS: Columns = { users_id: 0, is_default: 0, is_dynamic: 0, email: '' };

const CONTACT_COLUMNS: Columns = {
  entities_id: 0, is_recursive: 0, name: null, firstname: null, registration_number: null, phone: null, phone2: null,
  mobile: null, fax: null, email: null, contacttypes_id: 0, comment: null, is_deleted: 0, usertitles_id: 0, address: null,
  postcode: null, town: null, state: null, country: null, date_mod: null, date_creation: null, pictures: null,
};

const SOLUTION_COLUMNS: Columns = {
  itemtype: '', items_id: 0, solutiontypes_id: 0, solutiontype_name: null, content: null, date_creation: null, date_mod: null,
  date_approval: null, users_id: 0, user_name: null, users_id_editor: 0, users_id_approval: 0, user_name_approval: null,
  status: 2, itilfollowups_id: null,
};

const DOCUMENT_COLUMNS: Columns = {
  entities_id: 0, is_recursive: 0, name: null, filename: null, filepath: null, documentcategories_id: 0, mime: null,
  date_mod: null, comment: null, is_deleted: 0, link: null, users_id: 0, tickets_id: 0, sha1sum: null, is_blacklisted: 0,
  tag: null, date_creation: null,
};

const DOCUMENT_ITEM_COLUMNS: Columns = {
  documents_id: 0, items_id: 0, itemtype: '', entities_id: 0, is_recursive: 0, date_mod: null, users_id: 0,
  timeline_position: 0, date_creation: null, date: null,
};

const ENTITY_COLUMNS: Columns = {
  name: '', entities_id: 0, completename: '', comment: null, level: 1, date_mod: null, date_creation: null,
};

const CATEGORY_COLUMNS: Columns = {
  entities_id: 0, is_recursive: 1, itilcategories_id: 0, name: '', completename: '', comment: null, level: 1, code: null,
  is_helpdeskvisible: 1, is_incident: 1, is_request: 1, is_problem: 1, is_change: 1, date_mod: null, date_creation: null,
};

const REQUESTTYPE_COLUMNS: Columns = {
  name: '', is_helpdesk_default: 0, is_followup_default: 0, is_mail_default: 0, is_mailfollowup_default: 0, is_active: 1,
  is_ticketheader: 1, is_itilfollowup: 1, comment: null, date_mod: null, date_creation: null,
};

/** The columns the bridge reads; a real answer also carries every right as a column. */
const PROFILE_COLUMNS: Columns = { name: '', interface: 'helpdesk', is_default: 0, comment: '', config: 0, date_mod: null, date_creation: null };

const PROFILE_USER_COLUMNS: Columns = { users_id: 0, profiles_id: 0, entities_id: 0, is_recursive: 0, is_dynamic: 0, is_default_profile: 0 };

export interface TableDef {
  itemtype: string;
  columns: Columns;
  /** Has a trash bin (DELETE sets is_deleted unless force_purge). */
  trash: boolean;
}

export const TABLES: Record<string, TableDef & { stateKey: keyof SimState | 'requesttypes' }> = {
  User: { itemtype: 'User', columns: USER_COLUMNS, trash: true, stateKey: 'users' },
  UserEmail: { itemtype: 'UserEmail', columns: USEREMAIL_COLUMNS, trash: false, stateKey: 'useremails' },
  Contact: { itemtype: 'Contact', columns: CONTACT_COLUMNS, trash: true, stateKey: 'contacts' },
  Ticket: { itemtype: 'Ticket', columns: TICKET_COLUMNS, trash: true, stateKey: 'tickets' },
  Ticket_User: { itemtype: 'Ticket_User', columns: TICKET_USER_COLUMNS, trash: false, stateKey: 'ticketUsers' },
  ITILFollowup: { itemtype: 'ITILFollowup', columns: FOLLOWUP_COLUMNS, trash: false, stateKey: 'followups' },
  ITILSolution: { itemtype: 'ITILSolution', columns: SOLUTION_COLUMNS, trash: false, stateKey: 'solutions' },
  Document: { itemtype: 'Document', columns: DOCUMENT_COLUMNS, trash: true, stateKey: 'documents' },
  Document_Item: { itemtype: 'Document_Item', columns: DOCUMENT_ITEM_COLUMNS, trash: false, stateKey: 'documentItems' },
  Entity: { itemtype: 'Entity', columns: ENTITY_COLUMNS, trash: false, stateKey: 'entities' },
  ITILCategory: { itemtype: 'ITILCategory', columns: CATEGORY_COLUMNS, trash: false, stateKey: 'categories' },
  Profile: { itemtype: 'Profile', columns: PROFILE_COLUMNS, trash: false, stateKey: 'profiles' },
  Profile_User: { itemtype: 'Profile_User', columns: PROFILE_USER_COLUMNS, trash: false, stateKey: 'profileUsers' },
  RequestType: { itemtype: 'RequestType', columns: REQUESTTYPE_COLUMNS, trash: false, stateKey: 'requesttypes' },
};

/** PHP class names are case-insensitive: /apirest.php/ticket/1 is a Ticket. */
export function canonicalItemtype(name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(TABLES).find((k) => k.toLowerCase() === lower);
}

function isIntColumn(key: string, fallback: unknown): boolean {
  return typeof fallback === 'number' || key === 'id' || /(^|_)id$|_id_|s_id$|^is_|^use_/.test(key);
}

/** A column value as MySQL gives it back to PHP: ints as numbers, the rest as strings or null. */
export function columnValue(key: string, value: unknown, fallback: unknown): unknown {
  if (value === null || value === undefined) return value === null ? null : fallback;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (isIntColumn(key, fallback)) {
    if (typeof value === 'number') return Math.trunc(value);
    if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
    if (typeof value === 'string' && value.trim() === '') return typeof fallback === 'number' ? 0 : null;
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return typeof value === 'number' ? (typeof fallback === 'string' ? String(value) : value) : String(value);
}

export class SimDb {
  readonly requesttypes: SimRow[] = [];
  /** Uploaded file bytes by Document id. */
  readonly files = new Map<number, Buffer>();
  /** The highest id each table has given (AUTO_INCREMENT survives purges). */
  private readonly highestIds = new Map<string, number>();

  constructor(readonly state: SimState) {}

  rows(itemtype: string): SimRow[] {
    const def = TABLES[itemtype];
    if (!def) throw new Error(`no table for ${itemtype}`);
    return def.stateKey === 'requesttypes' ? this.requesttypes : (this.state[def.stateKey] as SimRow[]);
  }

  /** Undefined for itemtypes the simulator has no table for (Location, ContactType...): a LEFT JOIN miss. */
  find(itemtype: string, id: number): SimRow | undefined {
    if (!TABLES[itemtype]) return undefined;
    return this.rows(itemtype).find((r) => r.id === id);
  }

  /**
   * AUTO_INCREMENT; tolerant of rows a test pushed into state directly. Like MariaDB's, it never
   * gives a purged row's id again (a purged ticket's id is not the next ticket's).
   */
  nextId(itemtype: string): number {
    const rows = this.rows(itemtype);
    return rows.reduce((max, r) => Math.max(max, r.id), this.highestIds.get(itemtype) ?? 0) + 1;
  }

  /** A full row from the table's columns: known input keys only (GLPI drops unknown ones). */
  build(itemtype: string, input: Record<string, unknown>, id = this.nextId(itemtype)): SimRow {
    const def = TABLES[itemtype] as TableDef;
    const row: SimRow = { id };
    for (const [key, fallback] of Object.entries(def.columns)) {
      row[key] = key in input ? columnValue(key, input[key], fallback) : fallback;
    }
    return row;
  }

  insert(itemtype: string, row: SimRow): SimRow {
    this.highestIds.set(itemtype, Math.max(this.highestIds.get(itemtype) ?? 0, row.id));
    this.rows(itemtype).push(row);
    return row;
  }

  update(itemtype: string, row: SimRow, input: Record<string, unknown>): void {
    const def = TABLES[itemtype] as TableDef;
    for (const [key, value] of Object.entries(input)) {
      if (key === 'id' || !(key in def.columns)) continue;
      row[key] = columnValue(key, value, def.columns[key]);
    }
  }

  remove(itemtype: string, id: number): void {
    const rows = this.rows(itemtype);
    const index = rows.findIndex((r) => r.id === id);
    if (index >= 0) rows.splice(index, 1);
  }
}
