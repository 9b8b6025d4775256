/** Raw HTTP helpers for the simulator conformance tests: the exchanges of glpi-apirest-observed.md, replayed. */
import { request } from 'undici';
import type { GlpiSimulator } from '../support/glpi-simulator/index.js';

export const APP_TOKEN = 'f7g3csp8mgatg5ebc5elnazakw20i2fyjjjtgak2';
export const ADMIN = 'admin-user-token';
export const SELF_SERVICE = 'selfservice-user-token';

export interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export interface CallOptions {
  session?: string;
  appToken?: string | null;
  headers?: Record<string, string>;
  /** JSON-encoded unless a string (sent as is). */
  body?: unknown;
  contentType?: string | null;
}

export async function call(sim: GlpiSimulator, method: string, path: string, options: CallOptions = {}): Promise<Exchange> {
  const headers: Record<string, string> = {};
  if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  const appToken = options.appToken === undefined ? APP_TOKEN : options.appToken;
  if (appToken !== null) headers['app-token'] = appToken;
  if (options.session !== undefined) headers['session-token'] = options.session;
  Object.assign(headers, options.headers);
  const body = options.body === undefined ? undefined : typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
  const res = await request(`${sim.url}${path}`, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export async function login(sim: GlpiSimulator, userToken = ADMIN, appToken: string | null = APP_TOKEN): Promise<string> {
  const res = await call(sim, 'GET', 'initSession', { appToken, headers: { authorization: `user_token ${userToken}` } });
  if (res.status !== 200) throw new Error(`initSession answered ${res.status}: ${res.text}`);
  return (res.json as { session_token: string }).session_token;
}

/** GLPI's returnError() with $docmessage: the message ends with a link to the API doc. */
export function withDoc(sim: GlpiSimulator, code: string, message: string): [string, string] {
  return [code, `${message}; view documentation in your browser at ${sim.url}#${code}`];
}

export const NO_PERMISSION = "You don't have permission to perform this action.";

/** ?a[0][b]=c query strings as GLPI clients build them (URL-encoded brackets and values). */
export function q(params: Record<string, string | number>): string {
  return new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
}
