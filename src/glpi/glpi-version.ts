import { decodeEntities } from '../util/html.js';

/**
 * What differs between GLPI 10 and 11 in the text the client writes and reads (observed on 10.0.3
 * and 11.0.8): GLPI 10 stores text HTML-encoded, GLPI 11 as written.
 */

/** What cfg_glpi.version looks like ("10.0.3", "11.0.8"); anything else is not trusted as a version. */
export const GLPI_VERSION_SHAPE = /^\d{1,3}\.\d{1,3}(\.\d{1,3})?([-+.~][0-9A-Za-z.-]{1,32})?$/;

/** Major version number; 10 (the encoding GLPI 10 uses) when the version is unknown. */
export function glpiMajor(version: string | undefined): number {
  const major = version === undefined ? NaN : Number.parseInt(version, 10);
  return Number.isInteger(major) ? major : 10;
}

/**
 * Text GLPI 10 would take for already encoded and store unencoded (Sanitizer::isHtmlEncoded: no
 * `<`, `>` or bare `&`, but an `&#60;`-style or `&lt;`-style entity): read back, it is decoded,
 * so a title the customer typed as `&#60;b&#62;` would come back as `<b>`. Encoding its `&` as
 * `&#38;` makes GLPI store it as given and decode it back to exactly what was written (observed
 * on 10.0.3). Everything else (HTML with real tags, plain text) GLPI encodes itself.
 */
const LOOKS_ENCODED = /&#38;|&#60;|&#62;|&lt;|&gt;/;
const RAW_SPECIAL = /<|>|&(?!#?[a-z0-9]+;)/i;

export function protectForGlpi10<T>(value: T): T {
  if (typeof value === 'string') {
    return (LOOKS_ENCODED.test(value) && !RAW_SPECIAL.test(value) ? value.replace(/&/g, '&#38;') : value) as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => protectForGlpi10(v)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, protectForGlpi10(v)])) as T;
  }
  return value;
}

/** A search row with GLPI 10's HTML-encoding of its text cells undone (one pass: `&#38;lt;` is the typed `&lt;`). */
export function decodeRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, cell] of Object.entries(row)) {
    out[key] = typeof cell === 'string' ? decodeEntities(cell) : Array.isArray(cell) ? cell.map((v: unknown) => (typeof v === 'string' ? decodeEntities(v) : v)) : cell;
  }
  return out;
}
