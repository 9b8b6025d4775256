import type { CountryCode } from 'libphonenumber-js';
import { DEFAULTS } from '../config/defaults.js';
import { parsePhone, normalizePhone } from './phone.js';
import { cellValues, digitsInOrder, exactMatch, rowId } from './search.js';
import type { GlpiClient, ItemType, SearchCriterion, SearchOptions } from './types.js';

/** Search option ids (identical in GLPI 10.0 and 11). */
const SEARCH_OPTIONS = {
  User: { login: 1, email: 5, phones: [6, 10, 11] },
  Contact: { email: 6, phones: [3, 4, 10] },
} as const;

const { finderPageSize: PAGE_SIZE, finderMaxCandidates: MAX_CANDIDATES } = DEFAULTS.glpiClient;

/** GLPI User with this e-mail (any of its addresses, case-insensitive); the oldest if several. */
export function findUserByEmail(client: GlpiClient, email: string): Promise<number | undefined> {
  return findByEmail(client, 'User', SEARCH_OPTIONS.User.email, email);
}

/** GLPI Contact with this e-mail; the oldest if several. */
export function findContactByEmail(client: GlpiClient, email: string): Promise<number | undefined> {
  return findByEmail(client, 'Contact', SEARCH_OPTIONS.Contact.email, email);
}

/** GLPI User whose phone, phone 2 or mobile is this number once both are E.164-normalised. */
export function findUserByPhone(client: GlpiClient, phone: string, region?: CountryCode): Promise<number | undefined> {
  return findByPhone(client, 'User', SEARCH_OPTIONS.User.phones, phone, region);
}

/** GLPI Contact whose phone, phone 2 or mobile is this number once both are E.164-normalised. */
export function findContactByPhone(client: GlpiClient, phone: string, region?: CountryCode): Promise<number | undefined> {
  return findByPhone(client, 'Contact', SEARCH_OPTIONS.Contact.phones, phone, region);
}

/** GLPI User with this login (e.g. before creating one whose login may already be taken). */
export async function findUserByLogin(client: GlpiClient, login: string): Promise<number | undefined> {
  const wanted = login.trim().toLowerCase();
  if (wanted === '') return undefined;
  const option = SEARCH_OPTIONS.User.login;
  const rows = await searchRows(client, 'User', {
    criteria: [{ field: option, searchtype: 'contains', value: exactMatch(login) }],
    forcedisplay: [option],
  });
  return oldest(rows.filter((row) => cellValues(row[String(option)]).some((v) => v.toLowerCase() === wanted)));
}

async function findByEmail(client: GlpiClient, itemtype: ItemType, option: number, email: string): Promise<number | undefined> {
  const wanted = email.trim().toLowerCase();
  if (!wanted.includes('@')) return undefined;
  const rows = await searchRows(client, itemtype, {
    criteria: [{ field: option, searchtype: 'contains', value: exactMatch(wanted) }],
    forcedisplay: [option],
  });
  // GLPI's LIKE can over-match (a `%` in the address is a wildcard there): compare exactly here.
  return oldest(rows.filter((row) => cellValues(row[String(option)]).some((v) => v.toLowerCase() === wanted)));
}

/**
 * GLPI keeps phones as free text, so "+33 6 12 34 56 78", "06.12.34.56.78" and "0033612345678" are
 * all the same number and no substring is common to them all. The search asks GLPI for records
 * whose phone fields hold the national number's digits in order (whatever separates them), which
 * every way of writing the number satisfies; then each candidate is normalised and compared in
 * E.164. A number stored without country code is read in the hook's default region, or, when the
 * hook has none, in the region of the number we look for (the only reading under which the
 * digits could be the same number).
 */
async function findByPhone(
  client: GlpiClient,
  itemtype: ItemType,
  options: readonly number[],
  phone: string,
  region: CountryCode | undefined,
): Promise<number | undefined> {
  const target = parsePhone(phone, region);
  if (target === undefined) return undefined;
  const pattern = digitsInOrder(target.nationalNumber);
  const criteria: SearchCriterion[] = options.map((field, i) => ({
    field,
    searchtype: 'contains',
    value: pattern,
    ...(i > 0 ? { link: 'OR' as const } : {}),
  }));
  const rows = await searchRows(client, itemtype, { criteria, forcedisplay: [...options] });
  const readRegion = region ?? target.country;
  return oldest(
    rows.filter((row) =>
      options.some((option) => cellValues(row[String(option)]).some((raw) => normalizePhone(raw, readRegion) === target.number)),
    ),
  );
}

async function searchRows(client: GlpiClient, itemtype: ItemType, options: Omit<SearchOptions, 'range'>): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (let start = 0; start < MAX_CANDIDATES; start += PAGE_SIZE) {
    const page = await client.search(itemtype, { ...options, range: [start, start + PAGE_SIZE - 1] });
    rows.push(...page.rows);
    if (page.rows.length === 0 || start + page.rows.length >= page.totalcount) break;
  }
  return rows;
}

function oldest(rows: Record<string, unknown>[]): number | undefined {
  const ids = rows.map(rowId).filter((id): id is number => id !== undefined);
  return ids.length === 0 ? undefined : Math.min(...ids);
}
