import { DEFAULTS } from '../config/defaults.js';
import { GlpiError } from '../errors/index.js';
import type { SearchOptions, SearchResult } from './types.js';

const DEFAULT_SEARCH_RANGE: [number, number] = [0, DEFAULTS.glpiClient.searchPageSize - 1];
const ID_OPTION = 2;

/**
 * Value for `contains` that matches `value` exactly.
 *
 * GLPI's `contains` is SQL LIKE, not a regex (Search::makeTextSearchValue): the value is trimmed,
 * `_` is escaped by GLPI, a leading `^` / trailing `$` drop the `%` on that side, and the whole
 * value `NULL`/`null` means "is empty". Nothing else is special except `%`, which GLPI leaves as a
 * wildcard and offers no escape for. So: anchor with `^...$` (which also defuses a value that is
 * itself `null` or starts with `^` / ends with `$`, since GLPI strips only one anchor each side),
 * and do not backslash-escape regex characters (`.`, `+`, `(`...), which LIKE takes literally.
 * A `%` in the value can only widen the match, so callers compare the returned cells exactly.
 * `&`, `<` and `>` become `%` too: GLPI 10 stores them HTML-encoded and an anchored value holding
 * one never matches there (observed on 10.0.3: `^a&b@x$` and `^a&#38;b@x$` find nothing, `^a%b@x$` does).
 */
export function exactMatch(value: string): string {
  return `^${value.trim().replace(/[&<>]/g, '%')}$`;
}

/**
 * A `contains` value matching text that holds these digits in this order with anything between
 * them: GLPI stores phones as free text ("+33 6 12 34 56 78", "06.12.34.56.78"), so no plain
 * substring of the number is sure to match. LIKE's `%` (which GLPI does not escape, see
 * exactMatch) bridges the separators. Results are candidates; the caller compares normalised values.
 */
export function digitsInOrder(digits: string): string {
  const only = digits.replace(/\D/g, '');
  if (only === '') throw new GlpiError('GLPI_INVALID_ARGUMENT', 'phone search needs at least one digit');
  return only.split('').join('%');
}

/** Query string (PHP bracket syntax) for GET /search/:itemtype. Option 2 (id) is always displayed. */
export function buildSearchQuery(options: SearchOptions): URLSearchParams {
  const params = new URLSearchParams();
  options.criteria.forEach((criterion, i) => {
    if (!Number.isInteger(criterion.field) || criterion.field <= 0) {
      throw new GlpiError('GLPI_INVALID_ARGUMENT', `search criterion ${i} has an invalid field ${String(criterion.field)}`);
    }
    if (i > 0 || criterion.link !== undefined) params.append(`criteria[${i}][link]`, criterion.link ?? 'AND');
    params.append(`criteria[${i}][field]`, String(criterion.field));
    params.append(`criteria[${i}][searchtype]`, criterion.searchtype);
    params.append(`criteria[${i}][value]`, String(criterion.value));
  });
  const display = [ID_OPTION, ...(options.forcedisplay ?? []).filter((id) => id !== ID_OPTION)];
  display.forEach((id, i) => params.append(`forcedisplay[${i}]`, String(id)));
  (options.sort ?? []).forEach((id, i) => {
    params.append(`sort[${i}]`, String(id));
    params.append(`order[${i}]`, options.order ?? 'ASC');
  });
  params.append('range', formatRange(options.range ?? DEFAULT_SEARCH_RANGE));
  return params;
}

export function formatRange([start, end]: [number, number]): string {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
    throw new GlpiError('GLPI_INVALID_ARGUMENT', `invalid range ${String(start)}-${String(end)}`);
  }
  return `${start}-${end}`;
}

/**
 * Body of a 200/206 search answer. Zero hits come without a `data` key (not `[]`), rows are keyed by
 * option id strings, multi-valued cells are arrays. Anything else is a GLPI we do not understand.
 */
export function parseSearchBody(body: unknown, endpoint: string): SearchResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw unexpected(endpoint, 'not an object');
  }
  const record = body as Record<string, unknown>;
  const totalcount = record.totalcount;
  if (typeof totalcount !== 'number' || !Number.isInteger(totalcount) || totalcount < 0) {
    throw unexpected(endpoint, 'no totalcount');
  }
  const data = record.data;
  if (data === undefined || data === null) return { totalcount, rows: [] };
  if (!Array.isArray(data)) throw unexpected(endpoint, 'data is not a list');
  const rows = data.map((row: unknown) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw unexpected(endpoint, 'a row is not an object');
    return row as Record<string, unknown>;
  });
  return { totalcount, rows };
}

function unexpected(endpoint: string, what: string): GlpiError {
  return new GlpiError('GLPI_UNEXPECTED_RESPONSE', `GLPI ${endpoint} answered a search result GLPI does not send: ${what}`, {
    endpoint,
    status: 200,
  });
}

/**
 * A cell as a list of strings (single values, arrays, numbers; empty and null cells dropped).
 * The client already decoded the cells for the GLPI version it talks to (GlpiClient.search).
 */
export function cellValues(cell: unknown): string[] {
  const values = Array.isArray(cell) ? cell : [cell];
  return values.flatMap((v: unknown) => {
    if (typeof v === 'string') return v.trim() === '' ? [] : [v.trim()];
    if (typeof v === 'number') return [String(v)];
    return [];
  });
}

/** The id of a search row (option 2), which GLPI returns as a number (a string on some setups). */
export function rowId(row: Record<string, unknown>): number | undefined {
  const raw = row[String(ID_OPTION)];
  const id = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}
