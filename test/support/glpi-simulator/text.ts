/**
 * Text as GLPI handles it. GLPI 10.0: input is stored HTML-entity encoded (Sanitizer::sanitize), read
 * back encoded unless the caller sends `X-GLPI-Sanitized-Content: false`, and searched with SQL
 * LIKE under a case- and accent-insensitive collation (utf8mb4_unicode_ci).
 */
import { randomBytes } from 'node:crypto';

const ENCODE: Record<string, string> = { '&': '&#38;', '<': '&#60;', '>': '&#62;' };
const RAW_SPECIAL = /<|>|&(?!#?[a-z0-9]+;)/i;
const SANITIZED = /&#38;|&#60;|&#62;|&lt;|&gt;/;

/**
 * Sanitizer::isHtmlEncoded: no `<`, `>` or bare `&`, and at least one entity GLPI's encoding (or
 * its legacy one, `&lt;` `&gt;`) produces. GLPI 10 neither encodes nor decodes anything else.
 */
export function isGlpiEncoded(text: string): boolean {
  return !RAW_SPECIAL.test(text) && SANITIZED.test(text);
}

/** Sanitizer::encodeHtmlSpecialChars: a value that already looks encoded is stored as given. */
export function glpiEncode(text: string): string {
  if (isGlpiEncoded(text)) return text;
  return text.replace(/[&<>]/g, (c) => ENCODE[c] ?? c);
}

/**
 * Sanitizer::decodeHtmlSpecialChars: only values that look encoded; `&#62;`, `&#60;` then `&#38;`
 * (so an encoded `&#38;#60;`, the user typed "&#60;", comes back as typed), or the legacy
 * `&gt;` `&lt;` when none of those is present.
 */
export function glpiDecode(text: string): string {
  if (!isGlpiEncoded(text)) return text;
  if (/&#(?:38|60|62);/.test(text)) return text.replaceAll('&#62;', '>').replaceAll('&#60;', '<').replaceAll('&#38;', '&');
  return text.replaceAll('&gt;', '>').replaceAll('&lt;', '<');
}

/** Deep copy with every string passed through `fn` (input sanitising, output unsanitising). */
export function mapStrings<T>(value: T, fn: (s: string) => string): T {
  if (typeof value === 'string') return fn(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => mapStrings(v, fn)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, fn);
    return out as T;
  }
  return value;
}

/** What the collation ignores: case and accents. */
export function collate(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * Search::makeTextSearchValue: trim, `^`/`$` anchors drop the `%` on their side, `_` is escaped
 * (so literal), `%` stays a wildcard. Returns null for the `NULL` value (means IS NULL).
 */
export function likePattern(value: string): string | null {
  const val = value.trim();
  if (val === 'NULL' || val === 'null') return null;
  if (val === '^') return '%';
  if (val === '' || val === '^$' || val === '$') return '';
  let pattern = val.startsWith('^') ? val.slice(1).trimStart() : `%${val}`;
  pattern = pattern.endsWith('$') ? pattern.slice(0, -1).trimEnd() : `${pattern}%`;
  return pattern;
}

export function likeMatches(pattern: string, text: string | null): boolean {
  if (text === null) return false;
  const source = pattern
    .split('%')
    .map((piece) => collate(piece).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(collate(text));
}

/** GLPI datetime columns hold the server's local time as "YYYY-MM-DD HH:MM:SS". */
export function localDateTime(nowMs: number, offsetMin: number): string {
  return new Date(nowMs + offsetMin * 60_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** RFC 7231 date of a local datetime column, as GLPI sends in Last-Modified. */
export function httpDate(local: string, offsetMin: number): string {
  const ms = Date.parse(`${local.replace(' ', 'T')}Z`) - offsetMin * 60_000;
  return Number.isNaN(ms) ? new Date().toUTCString() : new Date(ms).toUTCString();
}

/** PHP session ids with session.sid_bits_per_character=5: 26 chars of [0-9a-v]. */
export function phpSessionId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('');
}

/**
 * GLPI 11.0.8 session tokens: the PHP session id encrypted with the instance key, base64: 120
 * characters that may hold `+` and `/`; 88 random bytes give that length and end in `==`.
 */
export function glpi11SessionToken(): string {
  return randomBytes(88).toString('base64');
}

const SPECIAL_CHARS: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#039;' };

/** PHP htmlspecialchars (ENT_QUOTES), as GLPI 11 escapes names in its messages. */
export function htmlSpecialChars(text: string): string {
  return text.replace(/[&<>"']/g, (c) => SPECIAL_CHARS[c] ?? c);
}

/** Loose check like NotificationMailing::isUserAddressValid (filter_var FILTER_VALIDATE_EMAIL). */
export function isValidEmail(email: string): boolean {
  return /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]+$/.test(email);
}
