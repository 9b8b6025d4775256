import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';

/** One value of a header (the first when a client repeats it). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A client-chosen header value as it may appear in a log line: cut, never the whole thing. */
export function loggable(value: string | undefined): string | undefined {
  return value === undefined || value.length <= DEFAULTS.maxLoggedHeaderChars ? value : `${value.slice(0, DEFAULTS.maxLoggedHeaderChars)}…`;
}

/**
 * Inside a webhook plugin only: every body stays the raw bytes, whatever its Content-Type (GLPI
 * sends none), because the signature covers those bytes. Plugins are encapsulated, so the rest of
 * the app (admin) keeps Fastify's own JSON parsing.
 */
export function keepRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}

/** The error body every refusal of the bridge uses: `{error, message}`. */
export interface Refusal {
  status: number;
  error: string;
  message: string;
}
