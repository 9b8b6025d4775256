/**
 * GET /search/:itemtype as GLPI 10.0 answers it (Search::constructSQL, API::searchItems): a row per
 * item, columns keyed by search-option id, multi-valued (joined) columns as arrays, and the WHERE
 * clause evaluated on every joined row, which is why a column filtered on shows only the values
 * that matched.
 */
import type { SimRow } from './api.js';
import { phpList, phpString, type PhpArray, type PhpValue } from './php-input.js';
import type { SimDb } from './store.js';
import { collate, glpiDecode, likeMatches, likePattern } from './text.js';

type Joined = Record<string, SimRow | undefined>;

interface Cell {
  value: unknown;
  /** Id of the joined row (what `equals` compares for an option of another table). */
  linkId?: number | null;
}

export interface SearchOption {
  id: number;
  name: string;
  table: string;
  field: string;
  datatype: string;
  uid: string;
  nosearch?: boolean;
  searchtypes: string[];
  /** The option's table is the item's own: `equals` compares the value, not a joined id. */
  own: boolean;
  /** Multi-valued: one joined row per element of this dimension. */
  dim?: string;
  cell(row: SimRow, joined: Joined, db: SimDb): Cell;
}

export interface ItemtypeSearch {
  table: string;
  options: SearchOption[];
  /** Columns always shown first (Search::addDefaultToView). */
  first: number[];
  /** Display preferences used when no forcedisplay is given. */
  prefs: number[];
  dims: Record<string, (row: SimRow, db: SimDb) => SimRow[]>;
}

const TEXT = ['contains', 'notcontains'];
const LINK = ['contains', 'notcontains', 'equals', 'notequals'];

function own(id: number, name: string, table: string, field: string, datatype: string, prefix: string, searchtypes = TEXT): SearchOption {
  return { id, name, table, field, datatype, uid: `${prefix}.${field}`, searchtypes, own: true, cell: (row) => ({ value: row[field] ?? null }) };
}

function dropdown(id: number, name: string, table: string, uid: string, itemtype: string, fk: string, field = 'completename'): SearchOption {
  return {
    id, name, table, field, datatype: 'dropdown', uid, searchtypes: [...LINK, 'under', 'notunder'], own: false,
    cell: (row, _joined, db) => {
      const linkId = typeof row[fk] === 'number' ? (row[fk]) : null;
      const linked = linkId === null ? undefined : db.find(itemtype, linkId);
      return linked ? { value: linked[field] ?? null, linkId } : { value: null, linkId: null };
    },
  };
}

function actor(id: number, name: string, dim: string, uid: string): SearchOption {
  return {
    id, name, table: 'glpi_users', field: 'name', datatype: 'dropdown', uid, searchtypes: LINK, own: false, dim,
    cell: (_row, joined) => {
      const link = joined[dim];
      // The user join of an e-mail-only actor (users_id 0) finds no user: NULL.
      if (!link || link.users_id === 0) return { value: null, linkId: null };
      return { value: String(link.users_id), linkId: link.users_id as number };
    },
  };
}

function actorsOfType(type: number) {
  return (row: SimRow, db: SimDb) => db.rows('Ticket_User').filter((tu) => tu.tickets_id === row.id && tu.type === type);
}

export const SEARCH: Record<string, ItemtypeSearch> = {
  User: {
    table: 'glpi_users',
    first: [1],
    prefs: [34, 5, 6, 3, 8],
    dims: { emails: (row, db) => db.rows('UserEmail').filter((e) => e.users_id === row.id) },
    options: [
      own(1, 'Login', 'glpi_users', 'name', 'itemlink', 'User', LINK),
      own(2, 'ID', 'glpi_users', 'id', 'number', 'User'),
      own(34, 'Last name', 'glpi_users', 'realname', 'string', 'User'),
      own(9, 'First name', 'glpi_users', 'firstname', 'string', 'User'),
      {
        id: 5, name: 'Emails', table: 'glpi_useremails', field: 'email', datatype: 'email', uid: 'User.UserEmail.email',
        searchtypes: TEXT, own: false, dim: 'emails',
        cell: (_row, joined) => (joined.emails ? { value: joined.emails.email, linkId: joined.emails.id } : { value: null, linkId: null }),
      },
      own(6, 'Phone', 'glpi_users', 'phone', 'string', 'User'),
      own(10, 'Phone 2', 'glpi_users', 'phone2', 'string', 'User'),
      own(11, 'Mobile phone', 'glpi_users', 'mobile', 'string', 'User'),
      own(8, 'Active', 'glpi_users', 'is_active', 'bool', 'User', ['equals', 'notequals']),
      dropdown(3, 'Location', 'glpi_locations', 'User.Location.completename', 'Location', 'locations_id'),
      own(16, 'Comments', 'glpi_users', 'comment', 'text', 'User'),
      own(19, 'Last update', 'glpi_users', 'date_mod', 'datetime', 'User', ['contains', 'notcontains', 'equals', 'notequals', 'lessthan', 'morethan']),
      own(121, 'Creation date', 'glpi_users', 'date_creation', 'datetime', 'User', ['contains', 'notcontains', 'equals', 'notequals', 'lessthan', 'morethan']),
      { ...own(150, 'Picture', 'glpi_users', 'picture', 'specific', 'User'), nosearch: true },
    ],
  },
  Contact: {
    table: 'glpi_contacts',
    first: [1],
    prefs: [3, 4, 5, 6, 9],
    dims: {},
    options: [
      own(1, 'Last name', 'glpi_contacts', 'name', 'itemlink', 'Contact', LINK),
      own(2, 'ID', 'glpi_contacts', 'id', 'number', 'Contact'),
      own(11, 'First name', 'glpi_contacts', 'firstname', 'string', 'Contact'),
      own(3, 'Phone', 'glpi_contacts', 'phone', 'string', 'Contact'),
      own(4, 'Phone 2', 'glpi_contacts', 'phone2', 'string', 'Contact'),
      own(10, 'Mobile phone', 'glpi_contacts', 'mobile', 'string', 'Contact'),
      own(5, 'Fax', 'glpi_contacts', 'fax', 'string', 'Contact'),
      own(6, 'Email', 'glpi_contacts', 'email', 'email', 'Contact'),
      dropdown(9, 'Type', 'glpi_contacttypes', 'Contact.ContactType.name', 'ContactType', 'contacttypes_id', 'name'),
      own(16, 'Comments', 'glpi_contacts', 'comment', 'text', 'Contact'),
      dropdown(80, 'Entity', 'glpi_entities', 'Contact.Entity.completename', 'Entity', 'entities_id'),
      own(19, 'Last update', 'glpi_contacts', 'date_mod', 'datetime', 'Contact'),
    ],
  },
  Ticket: {
    table: 'glpi_tickets',
    first: [2, 1],
    prefs: [12, 19, 15, 3, 4, 5, 7],
    dims: { requesters: actorsOfType(1), assigns: actorsOfType(2), observers: actorsOfType(3) },
    options: [
      own(1, 'Title', 'glpi_tickets', 'name', 'itemlink', 'Ticket', LINK),
      own(2, 'ID', 'glpi_tickets', 'id', 'number', 'Ticket'),
      own(21, 'Description', 'glpi_tickets', 'content', 'text', 'Ticket'),
      own(12, 'Status', 'glpi_tickets', 'status', 'specific', 'Ticket', ['equals', 'notequals']),
      own(10, 'Urgency', 'glpi_tickets', 'urgency', 'specific', 'Ticket', ['equals', 'notequals']),
      own(11, 'Impact', 'glpi_tickets', 'impact', 'specific', 'Ticket', ['equals', 'notequals']),
      own(3, 'Priority', 'glpi_tickets', 'priority', 'specific', 'Ticket', ['equals', 'notequals']),
      own(14, 'Type', 'glpi_tickets', 'type', 'specific', 'Ticket', ['equals', 'notequals']),
      own(15, 'Opening date', 'glpi_tickets', 'date', 'datetime', 'Ticket', ['contains', 'notcontains', 'equals', 'notequals', 'lessthan', 'morethan']),
      own(16, 'Closing date', 'glpi_tickets', 'closedate', 'datetime', 'Ticket', ['contains', 'notcontains', 'equals', 'notequals', 'lessthan', 'morethan']),
      own(17, 'Resolution date', 'glpi_tickets', 'solvedate', 'datetime', 'Ticket', ['contains', 'notcontains', 'equals', 'notequals', 'lessthan', 'morethan']),
      own(19, 'Last update', 'glpi_tickets', 'date_mod', 'datetime', 'Ticket', ['contains', 'notcontains', 'equals', 'notequals', 'lessthan', 'morethan']),
      dropdown(7, 'Category', 'glpi_itilcategories', 'Ticket.ITILCategory.completename', 'ITILCategory', 'itilcategories_id'),
      dropdown(80, 'Entity', 'glpi_entities', 'Ticket.Entity.completename', 'Entity', 'entities_id'),
      actor(4, 'Requester', 'requesters', 'Ticket.User.name'),
      actor(5, 'Technician', 'assigns', 'Ticket.User.name.assign'),
      actor(66, 'Watcher', 'observers', 'Ticket.User.name.observer'),
      {
        id: 22, name: 'Writer', table: 'glpi_users', field: 'name', datatype: 'dropdown', uid: 'Ticket.User.name.recipient',
        searchtypes: LINK, own: false,
        cell: (row) => ({ value: row.users_id_recipient ? String(row.users_id_recipient) : null, linkId: (row.users_id_recipient as number) || null }),
      },
      {
        id: 34, name: 'Email for followup', table: 'glpi_tickets_users', field: 'alternative_email', datatype: 'email',
        uid: 'Ticket.Ticket_User.alternative_email', searchtypes: TEXT, own: false, dim: 'requesters',
        cell: (_row, joined) => {
          const link = joined.requesters;
          return link ? { value: link.alternative_email === '' ? null : link.alternative_email, linkId: link.id } : { value: null, linkId: null };
        },
      },
      {
        id: 35, name: 'Email followup', table: 'glpi_tickets_users', field: 'use_notification', datatype: 'bool',
        uid: 'Ticket.Ticket_User.use_notification', searchtypes: ['equals', 'notequals'], own: false, dim: 'requesters',
        cell: (_row, joined) => (joined.requesters ? { value: joined.requesters.use_notification, linkId: joined.requesters.id } : { value: null, linkId: null }),
      },
    ],
  },
};

export function listSearchOptions(itemtype: string): Record<string, unknown> | undefined {
  const def = SEARCH[itemtype];
  if (!def) return undefined;
  const out: Record<string, unknown> = { common: { name: 'Characteristics' } };
  for (const o of def.options) {
    out[String(o.id)] = {
      name: o.name, table: o.table, field: o.field, datatype: o.datatype, nosearch: o.nosearch === true, nodisplay: false,
      available_searchtypes: o.searchtypes, uid: o.uid,
    };
  }
  return out;
}

export class SearchError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400, readonly doc = true) {
    super(message);
  }
}

interface Criterion {
  link: string;
  option?: SearchOption;
  searchtype?: string;
  value?: string;
  group?: Criterion[];
}

const TICKET_STATUS_SETS: Record<string, number[]> = {
  notold: [1, 2, 3, 4], notclosed: [1, 2, 3, 4, 5], old: [5, 6], process: [2, 3], all: [1, 2, 3, 4, 5, 6],
};

function parseCriteria(raw: PhpValue | undefined, def: ItemtypeSearch): Criterion[] {
  const out: Criterion[] = [];
  for (const entry of phpList(raw)) {
    if (typeof entry !== 'object') throw new SearchError('ERROR', 'Malformed search criteria');
    const link = (phpString(entry.link) ?? 'AND').toUpperCase();
    if (entry.criteria !== undefined) {
      out.push({ link, group: parseCriteria(entry.criteria, def) });
      continue;
    }
    // Meta criteria (another itemtype's options) are not simulated: GLPI would join; we ignore them.
    if (phpString(entry.meta) !== undefined) continue;
    const field = phpString(entry.field);
    const searchtype = phpString(entry.searchtype);
    const value = phpString(entry.value);
    if (field === undefined || searchtype === undefined || value === undefined) throw new SearchError('ERROR', 'Malformed search criteria');
    const option = /^\d+$/.test(field) ? def.options.find((o) => o.id === Number(field)) : undefined;
    if (!option) throw new SearchError('ERROR', 'Bad field ID in search criteria');
    if (option.nosearch) throw new SearchError('ERROR', 'Forbidden field ID in search criteria');
    // GLPI skips a criterion whose value is empty (strlen 0) instead of matching empty fields.
    if (value.length === 0) continue;
    out.push({ link, option, searchtype, value });
  }
  return out;
}

function numericPrefix(value: string): number {
  const n = Number.parseFloat(value);
  return Number.isNaN(n) ? 0 : n;
}

function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return glpiDecode(String(value));
}

function matchOne(c: Criterion, row: SimRow, joined: Joined, db: SimDb, itemtype: string): boolean {
  const option = c.option as SearchOption;
  const value = c.value as string;
  const cell = option.cell(row, joined, db);
  const type = (c.searchtype ?? 'contains').toLowerCase();
  switch (type) {
    case 'contains':
    case 'notcontains': {
      let hit: boolean;
      const numeric = /^\s*([<>]=?)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(value);
      if (option.datatype === 'number' && (numeric || /^\s*-?\d+\s*$/.test(value))) {
        const n = Number(cell.value);
        const target = Number(numeric ? numeric[2] : value);
        const op = numeric?.[1] ?? '=';
        hit = cell.value !== null && (op === '<' ? n < target : op === '<=' ? n <= target : op === '>' ? n > target : op === '>=' ? n >= target : n === target);
      } else {
        const pattern = likePattern(value);
        const text = textOf(cell.value);
        hit = pattern === null ? text === null || text === '' : pattern === '' ? text === null || text === '' : likeMatches(pattern, text);
      }
      return type === 'contains' ? hit : !hit;
    }
    case 'equals':
    case 'notequals': {
      let hit: boolean;
      if (itemtype === 'Ticket' && option.id === 12 && TICKET_STATUS_SETS[value] !== undefined) {
        hit = (TICKET_STATUS_SETS[value]).includes(cell.value as number);
      } else if (option.own) {
        hit = cell.value !== null && collate(textOf(cell.value) ?? '') === collate(value.trim());
      } else {
        hit = cell.linkId !== null && cell.linkId !== undefined && cell.linkId === numericPrefix(value);
      }
      return type === 'equals' ? hit : !hit;
    }
    case 'lessthan':
    case 'morethan': {
      if (cell.value === null) return false;
      const a = cell.value;
      // A leading `=` makes the comparison inclusive (`morethan` + `=C` is `>= C`, observed on 10.0.3 and 11.0.8).
      const inclusive = value.startsWith('=');
      const bound = inclusive ? value.slice(1) : value;
      const cmp = typeof a === 'number' ? a - numericPrefix(bound) : String(a).localeCompare(bound);
      if (inclusive && cmp === 0) return true;
      return type === 'lessthan' ? cmp < 0 : cmp > 0;
    }
    default:
      // GLPI does not validate searchtype; an unknown one adds no condition.
      return true;
  }
}

/** SQL precedence: AND binds tighter than OR; "AND NOT"/"OR NOT" negate their own term. */
function evaluate(criteria: Criterion[], row: SimRow, joined: Joined, db: SimDb, itemtype: string): boolean {
  let result: boolean | undefined;
  let andTerm: boolean | undefined;
  criteria.forEach((c, i) => {
    let hit = c.group ? (c.group.length === 0 ? true : evaluate(c.group, row, joined, db, itemtype)) : matchOne(c, row, joined, db, itemtype);
    if (c.link.includes('NOT')) hit = !hit;
    if (i > 0 && c.link.startsWith('OR')) {
      result = (result ?? false) || (andTerm ?? true);
      andTerm = hit;
    } else {
      andTerm = (andTerm ?? true) && hit;
    }
  });
  if (andTerm === undefined) return true;
  return (result ?? false) || andTerm;
}

function dimsOf(criteria: Criterion[]): string[] {
  return criteria.flatMap((c) => (c.group ? dimsOf(c.group) : c.option?.dim ? [c.option.dim] : []));
}

/** Every combination of joined rows (LEFT JOIN: an empty dimension is one NULL row). */
function combos(row: SimRow, dims: string[], def: ItemtypeSearch, db: SimDb): Joined[] {
  let out: Joined[] = [{}];
  for (const dim of dims) {
    const elements: (SimRow | undefined)[] = (def.dims[dim] as (r: SimRow, d: SimDb) => SimRow[])(row, db);
    const list = elements.length === 0 ? [undefined] : elements;
    out = out.flatMap((j) => list.map((el) => ({ ...j, [dim]: el })));
  }
  return out;
}

export interface SearchRequest {
  itemtype: string;
  query: PhpArray;
  /** Items the session may see (rights, trash) before criteria. */
  visible: SimRow[];
  db: SimDb;
  /** Session list_limit: the default page is 0..limit-1. */
  listLimit: number;
}

export interface SearchAnswer {
  status: number;
  body: Record<string, unknown>;
  contentRange?: string;
}

export function parseRange(raw: string | undefined, listLimit: number): [number, number] {
  if (raw === undefined) return [0, listLimit - 1];
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(raw);
  if (!m) throw new SearchError('ERROR', 'range must be in format : [start-end] with integers');
  return [Number(m[1]), Number(m[2])];
}

export function runSearch(req: SearchRequest): SearchAnswer {
  const def = SEARCH[req.itemtype] as ItemtypeSearch;
  const criteria = parseCriteria(req.query.criteria, def);
  const forced = phpList(req.query.forcedisplay)
    .map((v) => (typeof v === 'string' ? Number(v) : NaN))
    .filter((n) => def.options.some((o) => o.id === n));
  const shown: number[] = [];
  const add = (id: number) => {
    if (!shown.includes(id) && def.options.some((o) => o.id === id && !o.nosearch)) shown.push(id);
  };
  def.first.forEach(add);
  (forced.length > 0 ? forced : def.prefs).forEach(add);
  const addCriteriaColumns = (list: Criterion[]) => list.forEach((c) => (c.group ? addCriteriaColumns(c.group) : c.option && add(c.option.id)));
  addCriteriaColumns(criteria);
  const columns = shown.map((id) => def.options.find((o) => o.id === id) as SearchOption);
  const dims = [...new Set([...dimsOf(criteria), ...columns.flatMap((c) => (c.dim ? [c.dim] : []))])];

  const matched: { row: SimRow; cells: Record<string, unknown> }[] = [];
  for (const row of req.visible) {
    const kept = combos(row, dims, def, req.db).filter((joined) => evaluate(criteria, row, joined, req.db, req.itemtype));
    if (kept.length === 0) continue;
    const cells: Record<string, unknown> = {};
    for (const col of columns) {
      if (col.dim) {
        const values: unknown[] = [];
        const seen = new Set<number>();
        for (const joined of kept) {
          const el = joined[col.dim];
          if (!el || seen.has(el.id)) continue;
          seen.add(el.id);
          const v = col.cell(row, joined, req.db).value;
          if (v !== null && v !== undefined) values.push(v);
        }
        cells[String(col.id)] = values.length === 0 ? null : values.length === 1 ? values[0] : values;
      } else {
        cells[String(col.id)] = col.cell(row, kept[0] as Joined, req.db).value;
      }
    }
    matched.push({ row, cells });
  }

  // `sort=19` or `sort[0]=19&sort[1]=2`: the first key decides, ties go by id (what `sort[1]=2` asks).
  const sortId = Number(phpString(req.query.sort) ?? phpString(phpList(req.query.sort)[0]) ?? '1');
  const order = (phpString(req.query.order) ?? phpString(phpList(req.query.order)[0]) ?? 'ASC').toUpperCase() === 'DESC' ? 'DESC' : 'ASC';
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- every itemtype has options; without the cast noUncheckedIndexedAccess makes it possibly undefined (tsc fails)
  const sortOption = def.options.find((o) => o.id === sortId) ?? (def.options[0] as SearchOption);
  const sortKey = (entry: { row: SimRow }) => {
    const dims0 = sortOption.dim ? combos(entry.row, [sortOption.dim], def, req.db)[0] ?? {} : {};
    return sortOption.cell(entry.row, dims0, req.db).value;
  };
  matched.sort((a, b) => {
    const va = sortKey(a);
    const vb = sortKey(b);
    let cmp = 0;
    if (va === null || va === undefined) cmp = vb === null || vb === undefined ? 0 : -1;
    else if (vb === null || vb === undefined) cmp = 1;
    else if (typeof va === 'number' && typeof vb === 'number') cmp = va - vb;
    else cmp = collate(textOf(va) ?? '').localeCompare(collate(textOf(vb) ?? ''));
    if (order === 'DESC') cmp = -cmp;
    return cmp !== 0 ? cmp : a.row.id - b.row.id;
  });

  const [start, end] = parseRange(phpString(req.query.range), req.listLimit);
  const total = matched.length;
  if (start > total) throw new SearchError('ERROR_RANGE_EXCEED_TOTAL', `Provided range exceed total count of data: ${total}`);
  const page = matched.slice(start, end + 1);
  const uidCols = ['true', '1'].includes(phpString(req.query.uid_cols) ?? '');
  const data = page.map(({ cells }) => {
    if (!uidCols) return cells;
    const out: Record<string, unknown> = {};
    for (const col of columns) out[col.uid] = cells[String(col.id)];
    return out;
  });
  const range = `${start}-${start + page.length - 1}/${total}`;
  const body: Record<string, unknown> = { totalcount: total, count: page.length, sort: [String(sortOption.id)], order: [order] };
  // Zero hits: GLPI leaves `data` out entirely rather than sending [].
  if (page.length > 0) body.data = data;
  body['content-range'] = range;
  const answer: SearchAnswer = { status: page.length < total ? 206 : 200, body };
  if (total > 0) answer.contentRange = range;
  return answer;
}
