/**
 * GLPI stores and compares dates as the server's local wall-clock time ("YYYY-MM-DD HH:MM:SS",
 * no zone). Chatwoot times are UTC. A followup's `date` decides its place in the ticket's
 * timeline, so it is converted with GLPI's own offset, learnt from GLPI (see below).
 */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** UTC instant -> GLPI local wall-clock string for a server `offsetMin` minutes east of UTC. */
export function toGlpiDate(instant: Date | string | number, offsetMin: number): string {
  const ms = new Date(instant).getTime() + offsetMin * 60_000;
  // Never `NaN-NaN-NaN` to GLPI: the schema bounds dates, so this is a bug (a permanent failure).
  if (!Number.isFinite(ms)) throw new RangeError(`cannot write ${String(instant)} as a GLPI date`);
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** GLPI wall-clock string -> ms since epoch, read as if it were UTC. */
export function parseGlpiDate(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
}

/**
 * GLPI's UTC offset from a session (`glpi_currenttime`, the server's local "now"). Compared with
 * our "now" and rounded to a quarter hour (every real zone offset is a multiple of 15 minutes),
 * clock skew of a few minutes does not matter. Undefined when the session does not say (then
 * callers assume UTC and log it).
 */
export function offsetFromSession(session: Record<string, unknown>, nowMs: number): number | undefined {
  const current = session.glpi_currenttime;
  if (typeof current !== 'string') return undefined;
  const localMs = parseGlpiDate(current);
  if (localMs === undefined) return undefined;
  const offset = Math.round((localMs - nowMs) / (15 * 60_000)) * 15;
  return Math.abs(offset) <= 14 * 60 ? offset : undefined;
}
