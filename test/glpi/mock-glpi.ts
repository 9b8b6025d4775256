import { MockAgent } from 'undici';
import { createGlpiClient, type GlpiClientDeps, type GlpiClientHandle, type GlpiClientHook } from '../../src/glpi/client.js';
import type { GlpiCallObserver } from '../../src/glpi/types.js';

/** A scriptable GLPI behind undici's MockAgent: unit tests see every request the client sends. */

export const ORIGIN = 'https://glpi.test';
export const BASE_PATH = '/glpi/apirest.php/';
export const USER_TOKEN = 'user-token-0123456789abcdef';
export const APP_TOKEN = 'app-token-0123456789abcdef';

export interface MockRequest {
  method: string;
  /** Path after apirest.php/, without query: "Ticket/12/ITILFollowup". */
  resource: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string | undefined;
}

export type MockReply =
  | { status: number; json?: unknown; raw?: string; headers?: Record<string, string> }
  | { error: Error };

export type Route = (req: MockRequest) => MockReply | undefined;

export interface MockGlpi {
  agent: MockAgent;
  requests: MockRequest[];
  /** Tokens GLPI currently accepts. */
  sessions: Set<string>;
  /** Handles everything except initSession/killSession/session checks (unless it answers them). */
  route: Route;
  /** cfg_glpi.version answered by getGlpiConfig (default "10.0.3"). */
  glpiVersion: string;
  count(method: string, resource: string): number;
  expireSessions(): void;
  close(): Promise<void>;
}

export function createMockGlpi(route: Route = () => undefined): MockGlpi {
  const agent = new MockAgent();
  agent.disableNetConnect();
  let loginCount = 0;
  const mock: MockGlpi = {
    agent,
    requests: [],
    sessions: new Set(),
    route,
    glpiVersion: '10.0.3',
    count: (method, resource) => mock.requests.filter((r) => r.method === method && r.resource === resource).length,
    expireSessions: () => mock.sessions.clear(),
    close: () => agent.close(),
  };

  agent
    .get(ORIGIN)
    .intercept({ path: () => true, method: () => true })
    .reply((opts) => {
      const url = new URL(opts.path, ORIGIN);
      const headers = normaliseHeaders(opts.headers);
      const body = opts.body === undefined || opts.body === null ? undefined : bodyText(opts.body);
      const req: MockRequest = {
        method: opts.method,
        resource: url.pathname.startsWith(BASE_PATH) ? url.pathname.slice(BASE_PATH.length) : url.pathname,
        query: url.searchParams,
        headers,
        body,
      };
      mock.requests.push(req);
      const reply = mock.route(req) ?? defaultReply(req);
      if ('error' in reply) throw reply.error;
      return {
        statusCode: reply.status,
        data: reply.raw ?? (reply.json === undefined ? '' : JSON.stringify(reply.json)),
        responseOptions: {
          headers: {
            'content-type': reply.raw === undefined ? 'application/json; charset=UTF-8' : 'text/html; charset=UTF-8',
            ...reply.headers,
          },
        },
      };
    })
    .persist();

  function defaultReply(req: MockRequest): MockReply {
    if (req.resource === 'initSession') {
      loginCount += 1;
      const token = `sess${loginCount}abcdefghijklmnopq`;
      mock.sessions.add(token);
      return { status: 200, json: { session_token: token } };
    }
    const token = req.headers['session-token'];
    if (token === undefined) return { status: 400, json: ['ERROR_SESSION_TOKEN_MISSING', 'parameter session_token is missing or empty'] };
    if (!mock.sessions.has(token)) return { status: 401, json: ['ERROR_SESSION_TOKEN_INVALID', 'session_token seems invalid'] };
    if (req.resource === 'killSession') {
      mock.sessions.delete(token);
      return { status: 200, json: true };
    }
    if (req.resource === 'getGlpiConfig') return { status: 200, json: { cfg_glpi: { version: mock.glpiVersion, list_limit: 20 } } };
    return { status: 400, json: ['ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM', 'resource not found or not an instance of CommonDBTM'] };
  }

  return mock;
}

/** A route that first checks the session like GLPI does, then answers. */
export function withSession(mock: MockGlpi, answer: (req: MockRequest) => MockReply | undefined): Route {
  return (req) => {
    if (req.resource === 'initSession' || req.resource === 'killSession' || req.resource === 'getGlpiConfig') return undefined;
    const token = req.headers['session-token'];
    if (token === undefined || !mock.sessions.has(token)) return undefined;
    return answer(req);
  };
}

export function hookConfig(overrides: Partial<GlpiClientHook> = {}): GlpiClientHook {
  return {
    hookId: 'h1',
    baseUrl: `${ORIGIN}${BASE_PATH}`,
    appToken: APP_TOKEN,
    userToken: USER_TOKEN,
    entityId: 0,
    syncType: 'user',
    ticketType: 1,
    categoryId: undefined,
    defaultUserId: undefined,
    timeoutMs: 5_000,
    ...overrides,
  };
}

export function clientFor(
  mock: MockGlpi,
  overrides: Partial<GlpiClientHook> = {},
  deps: Partial<GlpiClientDeps> = {},
): { client: GlpiClientHandle; observed: Parameters<GlpiCallObserver>[0][] } {
  const observed: Parameters<GlpiCallObserver>[0][] = [];
  const client = createGlpiClient(hookConfig(overrides), {
    dispatcher: mock.agent,
    observer: (call) => observed.push(call),
    ...deps,
  });
  return { client, observed };
}

function normaliseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined || headers === null) return out;
  const entries: [string, unknown][] =
    typeof (headers as Headers).entries === 'function' && !Array.isArray(headers)
      ? [...(headers as Headers).entries()]
      : Array.isArray(headers)
        ? pairs(headers as string[])
        : Object.entries(headers as Record<string, unknown>);
  for (const [key, value] of entries) out[key.toLowerCase()] = String(value);
  return out;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  return String(body);
}
