/**
 * The GLPI simulator: a real node:http server answering /apirest.php/ the way GLPI 10.0.3 does
 * (see /work/shared/reference/glpi-apirest-observed.md), or GLPI 11.0.8 with `version: '11.0.8'`
 * (as observed on the real 11.0.8, ../shared/real-glpi/README.md): 120-char base64 session tokens
 * accepted only in the Session-Token header (a query-string one with characters PHP refuses in a
 * session id is an HTTP 500 HTML page), text stored and answered raw, links and Location under
 * api.php/v1 (also served), creation messages HTML-escaped and without "(id)". With state, call
 * log and fault injection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GlpiSimulator, GlpiSimulatorOptions, SimCall, SimFault, SimGlpiVersion, SimProfile, SimRow, SimState, SimUserToken } from './api.js';
import { contentMime, imageNameMismatch } from './mime.js';
import { parseMultipart, parsePhpQuery, phpString, type MultipartPart, type PhpArray } from './php-input.js';
import {
  activeProfileBody, CREATE, DELETE, defaultProfiles, FOLLOWUP_ADDALL, FOLLOWUP_ADDMY, profileKey, READ, rightBits,
  ROOT_ENTITIES, TICKET_READALL, UPDATE, type ProfileDef,
} from './profiles.js';
import { ApiError, documentFileHeaders, emptyPhpPage, jsonHeaders, NO_PERMISSION, phpErrorPage, phpFatalPage, proxyErrorPage, type Reply } from './responses.js';
import { listSearchOptions, parseRange, runSearch, SEARCH, SearchError } from './search.js';
import { canonicalItemtype, SimDb, TABLES } from './store.js';
import {
  glpi11SessionToken, glpiDecode, glpiEncode, htmlSpecialChars, httpDate, isValidEmail, likeMatches, likePattern, localDateTime, mapStrings,
  phpSessionId,
} from './text.js';

const BASE_PATH = '/apirest.php';
/** GLPI 11 serves the same legacy API here too, and points its links and Location headers at it. */
const V1_PATH = '/api.php/v1';
/** Characters PHP accepts in a session id; GLPI 11 dies (HTTP 500) on a query-string token with others. */
const PHP_SESSION_ID = /^[A-Za-z0-9,-]+$/;
const LIST_LIMIT = 20;
const ACCEPT_RANGE_MAX = 1000;

const DEFAULT_TOKENS: Record<string, SimUserToken> = {
  'admin-user-token': { userId: 2, profile: 'super-admin' },
  'selfservice-user-token': { userId: 5, profile: 'self-service' },
};

interface Session {
  token: string;
  userId: number;
  profile: SimProfile;
  activeEntity: number;
  recursive: boolean;
}

interface Ctx {
  method: string;
  segments: string[];
  query: PhpArray;
  params: Record<string, unknown>;
  files: MultipartPart[];
  multipart: boolean;
  headers: IncomingMessage['headers'];
  remoteIp: string;
  session?: Session;
}

type Input = Record<string, unknown>;

type Outcome = { ok: true; id: number; message: string; extra?: Record<string, unknown> } | { ok: false; message: unknown };

interface QueuedFault {
  fault: SimFault;
  remaining: number;
  endpoint?: string;
}




const PARENT_FKS: Record<string, string> = {
  User: 'users_id', Ticket: 'tickets_id', Document: 'documents_id', Entity: 'entities_id', ITILCategory: 'itilcategories_id',
};

const TICKET_SUBRELS = [
  'Document_Item', 'TicketTask', 'TicketValidation', 'TicketCost', 'Problem_Ticket', 'Change_Ticket', 'Item_Ticket',
  'ITILSolution', 'ITILFollowup', 'Ticket_User', 'Group_Ticket', 'Supplier_Ticket',
];

const FK_ITEMTYPES: Record<string, string> = {
  entities: 'Entity', users: 'User', tickets: 'Ticket', requesttypes: 'RequestType', itilcategories: 'ITILCategory',
  locations: 'Location', profiles: 'Profile', groups: 'Group', documents: 'Document', documentcategories: 'DocumentCategory',
  contacttypes: 'ContactType', usertitles: 'UserTitle', usercategories: 'UserCategory', solutiontypes: 'SolutionType',
  itilfollowups: 'ITILFollowup',
};

/**
 * Extensions of GLPI's default document types (all uploadable), as `GET /DocumentType?range=0-500`
 * lists them on a fresh 10.0.3 (72) and 11.0.8 (73: webp added). GLPI matches them case-insensitively
 * against the end of the name; anything else is refused at upload ("Filetype not allowed").
 */
const ALLOWED_EXTENSIONS_10 = [
  'ai', 'aiff', 'asf', 'avi', 'bmp', 'bz2', 'c', 'csv', 'deb', 'djvu', 'doc', 'docx', 'dvi', 'eps', 'gif', 'gz', 'h', 'html', 'jpeg', 'jpg',
  'mid', 'mng', 'mov', 'mp3', 'mpg', 'odb', 'odc', 'odf', 'odg', 'odi', 'odm', 'odp', 'ods', 'odt', 'ogg', 'otg', 'oth', 'otp', 'ots', 'ott',
  'pas', 'pdf', 'png', 'ppt', 'pptx', 'ps', 'psd', 'qt', 'ra', 'ram', 'rm', 'rpm', 'rtf', 'sdd', 'sdw', 'sit', 'svg', 'swf', 'sxc', 'sxi',
  'sxw', 'tex', 'tgz', 'tif', 'txt', 'wav', 'wmv', 'xcf', 'xls', 'xlsx', 'xml', 'zip',
];
const ALLOWED_EXTENSIONS = { '10': new Set(ALLOWED_EXTENSIONS_10), '11': new Set([...ALLOWED_EXTENSIONS_10, 'webp']) };

function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function isObject(value: unknown): value is Input {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truthy(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 'true';
}

/** A value given either as a scalar or as a list aligned with another list (the `_notif` arrays). */
function at(value: unknown, index: number, scalar: boolean): unknown {
  if (Array.isArray(value)) return value[index];
  if (isObject(value)) return value[String(index)];
  return scalar || index === 0 ? value : undefined;
}

function stripTags(html: string): string {
  return html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
}

/** GLPI's default urgency x impact matrix. */
const PRIORITY_MATRIX: number[][] = [
  [1, 1, 2, 2, 2],
  [1, 2, 2, 3, 3],
  [2, 2, 3, 4, 4],
  [2, 3, 4, 4, 5],
  [2, 3, 4, 5, 5],
];

export class Simulator implements GlpiSimulator {
  readonly state: SimState;
  readonly calls: SimCall[] = [];
  /** Answers sent since the last resetCalls(), and their time from request to last byte (the GLPI's own latency). */
  private readonly served = { count: 0, totalMs: 0 };
  url = '';
  port = 0;
  readonly version: SimGlpiVersion;

  private readonly db: SimDb;
  private readonly server = createServer();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sessions = new Map<string, Session>();
  private readonly tokens: Record<string, SimUserToken>;
  private readonly credentials: GlpiSimulatorOptions['credentials'];
  private readonly profiles: Record<SimProfile, ProfileDef> = defaultProfiles();
  private readonly appToken: string | null;
  private readonly offsetMin: number;
  /** GLPI 11 stores text as sent; GLPI 10 HTML-encodes it (Sanitizer) on the way in. */
  private readonly v11: boolean;
  private readonly encode: (text: string) => string;
  private readonly decode: (text: string) => string;
  /** Tokens this GLPI 11 ever issued (it can decrypt them even after the session ended). */
  private readonly issued = new Set<string>();
  private latencyMs: number;
  private faults: QueuedFault[] = [];
  private outage: SimFault | undefined;
  private apiEnabled = true;
  private ipAllowed = true;
  private closed = false;

  constructor(private readonly options: GlpiSimulatorOptions) {
    this.appToken = options.appToken ?? null;
    this.latencyMs = options.latencyMs ?? 0;
    this.offsetMin = options.timezoneOffsetMin ?? 0;
    this.tokens = options.userTokens ?? DEFAULT_TOKENS;
    this.credentials = options.credentials;
    this.version = options.version ?? '10.0.3';
    this.v11 = this.version.startsWith('11.');
    this.encode = this.v11 ? (text) => text : glpiEncode;
    this.decode = this.v11 ? (text) => text : glpiDecode;
    const sessions = this.sessions;
    const state = {
      users: [], useremails: [], contacts: [], tickets: [], ticketUsers: [], followups: [], solutions: [], documents: [],
      documentItems: [], entities: [], categories: [], profiles: [], profileUsers: [],
      get sessions(): string[] {
        return [...sessions.keys()];
      },
    } as unknown as SimState;
    this.state = state;
    this.db = new SimDb(state);
    this.seed();
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch((err: unknown) => {
        // A bug in the simulator must show up in the test that hit it, not hang it.
        console.error('glpi-simulator: internal error', err);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(err));
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}${BASE_PATH}/`;
  }

  /** Where GLPI's own links, Location headers and documentation links point. */
  private get linkBase(): string {
    return this.v11 ? `http://127.0.0.1:${this.port}${V1_PATH}/` : this.url;
  }

  // ---- public API ----------------------------------------------------------------------------

  count(method?: string, endpoint?: string): number {
    return this.calls.filter((c) => (method === undefined || c.method === method) && (endpoint === undefined || c.endpoint === endpoint)).length;
  }

  resetCalls(): void {
    this.calls.length = 0;
    this.served.count = 0;
    this.served.totalMs = 0;
  }

  /** Mean time from a request's arrival to its answer's last byte, since the last resetCalls(); null before any. */
  meanResponseMs(): number | null {
    return this.served.count === 0 ? null : this.served.totalMs / this.served.count;
  }

  followupsOf(ticketId: number): SimRow[] {
    return this.state.followups
      .filter((f) => f.itemtype === 'Ticket' && f.items_id === ticketId)
      .sort((a, b) => String(a.date ?? '').localeCompare(String(b.date ?? '')) || a.id - b.id);
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  failNext(fault: SimFault, times = 1, endpoint?: string): void {
    const entry: QueuedFault = { fault, remaining: times };
    if (endpoint !== undefined) entry.endpoint = endpoint;
    this.faults.push(entry);
  }

  failAll(fault: SimFault): void {
    this.outage = fault;
  }

  clearFaults(): void {
    this.faults = [];
    this.outage = undefined;
  }

  expireSessions(): void {
    this.sessions.clear();
  }

  setApiEnabled(enabled: boolean): void {
    this.apiEnabled = enabled;
  }

  setIpAllowed(allowed: boolean): void {
    this.ipAllowed = allowed;
  }

  setRight(profile: SimProfile, itemtype: string, right: 'read' | 'create' | 'update' | 'delete', allowed: boolean): void {
    const rights = this.profiles[profile].rights;
    const key = profileKey(itemtype);
    const bits = rightBits(itemtype, right);
    rights[key] = allowed ? (rights[key] ?? 0) | bits : (rights[key] ?? 0) & ~bits;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive and hung requests would hold close() forever.
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await done;
  }

  // ---- seed ----------------------------------------------------------------------------------

  private seed(): void {
    this.db.insert('Entity', this.db.build('Entity', { name: 'Root entity', completename: 'Root entity', entities_id: null, level: 1 }, 0));
    const requestTypes = ['Helpdesk', 'E-Mail', 'Phone', 'Direct', 'Written', 'Other'];
    requestTypes.forEach((name, i) =>
      this.db.insert('RequestType', this.db.build('RequestType', { name, is_helpdesk_default: i === 0 ? 1 : 0, is_mail_default: i === 1 ? 1 : 0 }, i + 1)),
    );
    const seeded: Record<number, string> = { 2: 'glpi', 5: 'post-only' };
    for (const token of Object.values(this.tokens)) seeded[token.userId] ??= `user${token.userId}`;
    for (const cred of Object.values(this.credentials ?? {})) seeded[cred.userId] ??= `user${cred.userId}`;
    for (const [id, name] of Object.entries(seeded).sort((a, b) => Number(a[0]) - Number(b[0]))) {
      this.db.insert('User', this.db.build('User', { name, list_limit: LIST_LIMIT, language: name === 'post-only' ? 'en_GB' : null }, Number(id)));
    }
    // GLPI's install creates users 2..6; new users start at 7 as on a fresh GLPI.
    if (this.db.nextId('User') < 7) this.db.insert('User', this.db.build('User', { name: 'glpi-system', is_active: 0 }, 6));
    // The install's profiles the bridge tells apart (ids and interfaces as in GLPI 10.0.3 and 11.0.8).
    for (const [id, name, iface, isDefault, config] of [
      [1, 'Self-Service', 'helpdesk', 1, 0],
      [4, 'Super-Admin', 'central', 0, 3],
      [6, 'Technician', 'central', 0, 0],
    ] as const) {
      this.db.insert('Profile', this.db.build('Profile', { name, interface: iface, is_default: isDefault, config }, id));
    }
    const profileOf = (userId: number): number | undefined => {
      if (userId === 5) return 1;
      const token = [...Object.values(this.tokens), ...Object.values(this.credentials ?? {})].find((t) => t.userId === userId);
      return token === undefined ? (userId === 2 ? 4 : undefined) : this.profiles[token.profile].id;
    };
    for (const user of [...this.state.users]) {
      const profileId = profileOf(user.id);
      if (profileId !== undefined) this.addProfileUser(user.id, profileId, 0, { is_recursive: 1 });
    }
  }

  /** A user's profile in an entity (Profile_User row). */
  private addProfileUser(userId: number, profileId: number, entityId: number, extra: Input = {}): void {
    this.db.insert('Profile_User', this.db.build('Profile_User', { users_id: userId, profiles_id: profileId, entities_id: entityId, ...extra }));
  }

  // ---- HTTP plumbing -------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = performance.now();
    res.once('finish', () => {
      this.served.count += 1;
      this.served.totalMs += performance.now() - arrivedAt;
    });
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      // The client went away mid-body (its timeout, or a test closing it): nothing to answer.
      return;
    }
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const base = [BASE_PATH, ...(this.v11 ? [V1_PATH] : [])].find((b) => url.pathname === b || url.pathname.startsWith(`${b}/`));
    const inBase = base !== undefined;
    const rest = inBase ? url.pathname.slice(base.length) : url.pathname;
    const segments = rest.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
    const endpoint = `/${segments.map((s) => (/^\d+$/.test(s) ? ':id' : s)).join('/')}`;
    const call = { method, endpoint, path: `${url.pathname}${url.search}` };

    if (this.latencyMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, this.latencyMs);
        this.timers.add(timer);
      });
      if (this.closed) return;
    }

    const fault = this.takeFault(method, endpoint);
    if (fault && !fault.afterCommit) {
      this.applyFault(fault, call, res);
      return;
    }
    let reply: Reply;
    if (!inBase) {
      reply = { status: 404, headers: { 'Content-Type': 'text/html; charset=UTF-8' }, body: '<h1>Not Found</h1>' };
    } else {
      reply = this.dispatch(method, segments, url, body, req);
    }
    if (fault) {
      this.applyFault(fault, call, res);
      return;
    }
    this.calls.push({ ...call, status: reply.status });
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }

  private takeFault(method: string, endpoint: string): SimFault | undefined {
    if (this.outage) return this.outage;
    const index = this.faults.findIndex((f) => {
      if (f.endpoint === undefined) return true;
      const space = f.endpoint.indexOf(' ');
      return space > 0 ? f.endpoint === `${method} ${endpoint}` : f.endpoint === endpoint;
    });
    if (index < 0) return undefined;
    const entry = this.faults[index] as QueuedFault;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  private applyFault(fault: SimFault, call: Omit<SimCall, 'status'>, res: ServerResponse): void {
    switch (fault.kind) {
      case 'reset':
        this.calls.push({ ...call, status: 0 });
        res.socket?.destroy();
        return;
      case 'hang':
        // Never answered; close() destroys the socket.
        this.calls.push({ ...call, status: 0 });
        return;
      default: {
        const reply = fault.kind === 'status' ? proxyErrorPage(fault.status) : fault.kind === 'empty200' ? emptyPhpPage() : phpFatalPage();
        this.calls.push({ ...call, status: reply.status });
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      }
    }
  }

  private dispatch(method: string, segments: string[], url: URL, body: Buffer, req: IncomingMessage): Reply {
    // Observed on 10.0.3: search answers stay encoded even with the header (they are not items).
    const unsanitize = !this.v11 && segments[0] !== 'search' && String(req.headers['x-glpi-sanitized-content'] ?? '').toLowerCase() === 'false';
    try {
      const ctx = this.context(method, segments, url, body, req);
      if (ctx === 'php-fatal') return emptyPhpPage();
      if (ctx === 'php-error') return phpErrorPage();
      const result = this.route(ctx);
      if ('body' in result && (typeof result.body === 'string' || Buffer.isBuffer(result.body))) return result;
      const { status, json, headers } = result as { status: number; json: unknown; headers?: Record<string, string> };
      return this.json(method, status, json, unsanitize, headers);
    } catch (err) {
      if (err instanceof ApiError) {
        let message = err.detail;
        if (err.doc && typeof message === 'string') message = `${message}; view documentation in your browser at ${this.linkBase}#${err.code}`;
        return this.json(method, err.status, [err.code, message], false);
      }
      if (err instanceof SearchError) {
        const message = err.doc ? `${err.message}; view documentation in your browser at ${this.linkBase}#${err.code}` : err.message;
        return this.json(method, err.status, [err.code, message], false);
      }
      throw err;
    }
  }

  private json(method: string, status: number, json: unknown, unsanitize: boolean, extra?: Record<string, string>): Reply {
    const payload = unsanitize ? mapStrings(json, this.decode) : json;
    return { status, headers: { ...jsonHeaders(method), ...extra }, body: JSON.stringify(payload) };
  }

  /** APIRest::parseIncomingParams plus the checks every call goes through (API::initApi). */
  private context(method: string, segments: string[], url: URL, body: Buffer, req: IncomingMessage): Ctx | 'php-fatal' | 'php-error' {
    if (!this.apiEnabled) throw new ApiError('ERROR', 'API disabled', 400, false);
    const remoteIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    if (!this.ipAllowed) {
      throw new ApiError('ERROR_NOT_ALLOWED_IP', `There isn't an active API client matching your IP address in the configuration (${remoteIp})`, 400, false);
    }
    const query = parsePhpQuery(url.search);
    const params: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(query)) params[key] = value === 'true' ? true : value === 'false' ? false : value;
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    let files: MultipartPart[] = [];
    let multipart = false;
    if (method === 'GET' && body.length > 0) {
      throw new ApiError('ERROR_JSON_PAYLOAD_FORBIDDEN', 'GET Request should not have json payload (http body)');
    }
    if (contentType.includes('application/json')) {
      const text = body.toString('utf8');
      if (text.trim() !== '') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new ApiError('ERROR_JSON_PAYLOAD_INVALID', 'JSON payload seems not valid', 400, false);
        }
        if (isObject(parsed)) Object.assign(params, parsed);
      }
    } else if (contentType.includes('multipart/form-data')) {
      multipart = true;
      const parts = parseMultipart(body, String(req.headers['content-type']));
      files = (parts ?? []).filter((p) => p.filename !== undefined && p.filename !== '');
      if (files.length === 0) throw new ApiError('ERROR_UPLOAD_FILE_TOO_BIG_POST_MAX_SIZE', 'The file seems too big');
      const manifest = parts?.find((p) => p.name === 'uploadManifest');
      let parsed: unknown;
      try {
        parsed = JSON.parse(manifest?.data.toString('utf8') ?? '');
      } catch {
        throw new ApiError('ERROR_JSON_PAYLOAD_INVALID', 'JSON payload seems not valid', 400, false);
      }
      if (isObject(parsed)) Object.assign(params, parsed);
    } else if (contentType.includes('application/x-www-form-urlencoded') && method !== 'GET' && body.length > 0) {
      // Observed: GLPI 10.0.3 dies on a TypeError and PHP answers 200 with an empty text/html page.
      return 'php-fatal';
    }
    // Without a Content-Type GLPI ignores the body (observed: ERROR_BAD_ARRAY on POST).

    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const appToken = header('app-token') ?? str(params.app_token);
    if (this.appToken !== null) {
      if (appToken === undefined || appToken === '') throw new ApiError('ERROR_APP_TOKEN_PARAMETERS_MISSING', 'missing parameter app_token');
      if (appToken !== this.appToken) throw new ApiError('ERROR_WRONG_APP_TOKEN_PARAMETER', 'parameter app_token seems wrong');
    } else if (appToken !== undefined && appToken !== '') {
      // The matching API client has no token: array_search finds no client for a non-empty one.
      throw new ApiError('ERROR_WRONG_APP_TOKEN_PARAMETER', 'parameter app_token seems wrong');
    }

    const ctx: Ctx = { method, segments, query, params, files, multipart, headers: req.headers, remoteIp };
    const resource = segments[0] ?? '';
    if (resource !== 'initSession' && resource !== 'lostPassword' && resource !== '') {
      const headerToken = header('session-token');
      const token = headerToken ?? str(params.session_token);
      if (token === undefined || token === '') throw new ApiError('ERROR_SESSION_TOKEN_MISSING', 'parameter session_token is missing or empty');
      if (this.v11 && headerToken === undefined && !PHP_SESSION_ID.test(token)) return 'php-error';
      // GLPI 11 decrypts the header token first: one it never issued decrypts to nothing.
      if (this.v11 && headerToken !== undefined && !this.issued.has(token)) {
        throw new ApiError('ERROR_SESSION_TOKEN_MISSING', 'parameter session_token is missing or empty');
      }
      const session = this.sessions.get(token);
      if (!session) throw new ApiError('ERROR_SESSION_TOKEN_INVALID', 'session_token seems invalid', 401, false);
      ctx.session = session;
    }
    return ctx;
  }

  private route(ctx: Ctx): Reply | { status: number; json: unknown; headers?: Record<string, string> } {
    const [resource = '', second, third] = ctx.segments;
    const { method } = ctx;
    switch (resource) {
      case '':
        return { status: 200, headers: { 'Content-type': 'text/html; charset=UTF-8' }, body: '# GLPI REST API:  Documentation\n\n(simulator)\n' };
      case 'initSession':
        return this.initSession(ctx);
      case 'killSession':
        this.sessions.delete((ctx.session as Session).token);
        return { status: 200, json: true };
      case 'getMyProfiles': {
        const profile = this.profiles[(ctx.session as Session).profile];
        return { status: 200, json: { myprofiles: [{ id: profile.id, name: profile.name, entities: ROOT_ENTITIES }] } };
      }
      case 'getActiveProfile':
        return { status: 200, json: { active_profile: activeProfileBody(this.profiles[(ctx.session as Session).profile], ROOT_ENTITIES) } };
      case 'changeActiveProfile': {
        const id = num(ctx.params.profiles_id);
        if (id === undefined) throw new ApiError('ERROR', 'missing parameter profiles_id');
        if (id !== this.profiles[(ctx.session as Session).profile].id) throw new ApiError('ERROR_ITEM_NOT_FOUND', 'Item not found', 404, false);
        return { status: 200, json: true };
      }
      case 'getMyEntities': {
        const all = truthy(ctx.params.is_recursive);
        const list = all ? this.state.entities : this.state.entities.filter((e) => e.id === 0);
        return { status: 200, json: { myentities: list.map((e) => ({ id: e.id, name: e.name })) } };
      }
      case 'getActiveEntities': {
        const session = ctx.session as Session;
        return {
          status: 200,
          json: {
            active_entity: {
              id: session.activeEntity,
              active_entity_recursive: session.recursive ? 1 : 0,
              active_entities: this.activeEntities(session).map((id) => ({ id })),
            },
          },
        };
      }
      case 'changeActiveEntities': {
        const session = ctx.session as Session;
        const recursive = ctx.params.is_recursive;
        if (recursive !== undefined && typeof recursive !== 'boolean') throw new ApiError('ERROR', 'Bad Request');
        // GLPI intval()s whatever it gets: "all" becomes entity 0.
        const id = ctx.params.entities_id === undefined ? 0 : (num(ctx.params.entities_id) ?? 0);
        if (!this.db.find('Entity', id)) return { status: 200, json: false };
        session.activeEntity = id;
        session.recursive = recursive === true;
        return { status: 200, json: true };
      }
      case 'getFullSession':
        return { status: 200, json: { session: this.fullSession(ctx.session as Session) } };
      case 'getGlpiConfig':
        return { status: 200, json: { cfg_glpi: this.glpiConfig() } };
      case 'listSearchOptions': {
        const itemtype = canonicalItemtype(second ?? '');
        if (!itemtype) throw resourceNotFound();
        return { status: 200, json: listSearchOptions(itemtype) ?? { common: { name: 'Characteristics' } } };
      }
      case 'search': {
        const itemtype = canonicalItemtype(second ?? '');
        if (!itemtype) throw resourceNotFound();
        return this.search(ctx, itemtype);
      }
      default:
        break;
    }
    const itemtype = canonicalItemtype(resource);
    if (!itemtype) throw resourceNotFound();
    const id = second !== undefined && /^\d+$/.test(second) ? Number(second) : undefined;
    if (second !== undefined && id === undefined) throw resourceNotFound();
    const subtype = third === undefined ? undefined : canonicalItemtype(third);
    if (third !== undefined && !subtype) throw resourceNotFound();
    switch (method) {
      case 'GET':
        if (id === undefined) return this.getList(ctx, itemtype);
        if (subtype) return this.getSubItems(ctx, itemtype, id, subtype);
        return this.getItem(ctx, itemtype, id);
      case 'POST':
        // GLPI ignores the parent in /Ticket/1/ITILFollowup: the input must name it (observed).
        if (id !== undefined && !subtype) throw new ApiError('ERROR_METHOD_NOT_ALLOWED', 'Method Not Allowed', 405);
        return this.create(ctx, subtype ?? itemtype);
      case 'PUT':
      case 'PATCH':
        if (subtype) throw new ApiError('ERROR_METHOD_NOT_ALLOWED', 'Method Not Allowed', 405);
        return this.updateItems(ctx, itemtype, id);
      case 'DELETE':
        if (subtype) throw new ApiError('ERROR_METHOD_NOT_ALLOWED', 'Method Not Allowed', 405);
        return this.deleteItems(ctx, itemtype, id);
      default:
        throw new ApiError('ERROR_METHOD_NOT_ALLOWED', 'Method Not Allowed', 405);
    }
  }

  // ---- sessions ------------------------------------------------------------------------------

  private initSession(ctx: Ctx): { status: number; json: unknown } {
    const authorization = String(ctx.headers.authorization ?? '');
    let userToken = str(ctx.params.user_token);
    let login = str(ctx.params.login);
    let password = str(ctx.params.password);
    if (authorization.includes('user_token')) userToken = authorization.split(' ')[1] ?? '';
    const basic = /^Basic\s+(.+)$/i.exec(authorization);
    if (basic) {
      const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      login = colon >= 0 ? decoded.slice(0, colon) : decoded;
      password = colon >= 0 ? decoded.slice(colon + 1) : '';
    }
    const hasCredentials = Boolean(login) && Boolean(password);
    if (!hasCredentials && !userToken) {
      throw new ApiError('ERROR_LOGIN_PARAMETERS_MISSING', 'parameter(s) login, password or user_token are missing');
    }
    if (hasCredentials && this.credentials === undefined) {
      throw new ApiError('ERROR_LOGIN_WITH_CREDENTIALS_DISABLED', 'usage of initSession resource with credentials is disabled', 400, false);
    }
    let who: SimUserToken | undefined;
    if (!userToken) {
      const cred = this.credentials?.[login as string];
      if (!cred || cred.password !== password) throw new ApiError('ERROR_GLPI_LOGIN', 'Incorrect username or password', 401, false);
      who = cred;
    } else {
      who = this.tokens[userToken];
      if (!who) throw new ApiError('ERROR_GLPI_LOGIN_USER_TOKEN', 'parameter user_token seems invalid', 401, false);
    }
    const token = this.v11 ? glpi11SessionToken() : phpSessionId();
    if (this.v11) this.issued.add(token);
    const session: Session = { token, userId: who.userId, profile: who.profile, activeEntity: 0, recursive: true };
    this.sessions.set(token, session);
    const user = this.db.find('User', who.userId);
    if (user) user.last_login = this.now();
    const json: Record<string, unknown> = { session_token: token };
    if (truthy(ctx.params.get_full_session)) json.session = this.fullSession(session);
    return { status: 200, json };
  }

  private activeEntities(session: Session): number[] {
    if (!session.recursive) return [session.activeEntity];
    const out = [session.activeEntity];
    for (let i = 0; i < out.length; i += 1) {
      for (const e of this.state.entities) if (e.entities_id === out[i] && e.id !== out[i] && !out.includes(e.id)) out.push(e.id);
    }
    return out;
  }

  private fullSession(session: Session): Record<string, unknown> {
    const user = this.db.find('User', session.userId);
    const profile = this.profiles[session.profile];
    const name = String(user?.name ?? `user${session.userId}`);
    return {
      valid_id: session.token, glpi_currenttime: this.now(), glpi_use_mode: 0, glpiID: session.userId, glpiis_ids_visible: '0',
      glpifriendlyname: name, glpiname: name, glpirealname: user?.realname ?? null, glpifirstname: user?.firstname ?? null,
      glpidefault_entity: 0, glpiextauth: 1, glpiauthtype: 1, glpiroot: '', glpi_plannings: [], glpi_tabs: [],
      glpidefault_requesttypes_id: '1', glpifollowup_private: '0', glpilanguage: 'en_GB', glpilist_limit: LIST_LIMIT,
      glpiset_default_requester: '1', glpitimeline_order: 'natural', glpi_dropdowntranslations: [], glpipluralnumber: 2,
      glpiprofiles: { [String(profile.id)]: { name: profile.name, entities: ROOT_ENTITIES } },
      glpiactiveprofile: activeProfileBody(profile, ROOT_ENTITIES),
      glpiactive_entity: session.activeEntity, glpiactive_entity_recursive: session.recursive ? 1 : 0,
      glpiactive_entity_name: String(this.db.find('Entity', session.activeEntity)?.completename ?? ''),
      glpiactiveentities: this.activeEntities(session), glpiactiveentities_string: this.activeEntities(session).map((id) => `'${id}'`).join(', '),
    };
  }

  private glpiConfig(): Record<string, unknown> {
    return {
      version: this.version, dbversion: this.version, url_base: this.url.replace(/\/apirest\.php\/$/, ''),
      // GLPI 11 has no url_base_api setting.
      ...(this.v11 ? {} : { url_base_api: this.url.replace(/\/$/, '') }),
      enable_api: this.apiEnabled ? 1 : 0, enable_api_login_credentials: this.credentials ? 1 : 0, enable_api_login_external_token: 1,
      list_limit: LIST_LIMIT, list_limit_max: 50, timezone: null, use_notifications: '0', default_requesttypes_id: 1,
      language: 'en_GB', priority_matrix: { 1: { 1: 1, 2: 1, 3: 2, 4: 2, 5: 2 } },
    };
  }

  // ---- rights --------------------------------------------------------------------------------

  private bits(session: Session, itemtype: string): number {
    return this.profiles[session.profile].rights[profileKey(itemtype)] ?? 0;
  }

  /** Which items of a type the session may read: all, only its own tickets' items, or none. */
  private readScope(session: Session, itemtype: string): 'all' | 'own' | 'none' {
    switch (itemtype) {
      case 'Ticket':
      case 'Ticket_User':
      case 'ITILFollowup':
      case 'ITILSolution': {
        const ticket = this.bits(session, 'Ticket');
        return ticket & TICKET_READALL ? 'all' : ticket & READ ? 'own' : 'none';
      }
      case 'RequestType':
        return 'all';
      default:
        return this.bits(session, itemtype) & READ ? 'all' : 'none';
    }
  }

  /** Requester, observer or writer of the ticket: what Self-Service's "my tickets" means. */
  private ownsTicket(session: Session, ticket: SimRow): boolean {
    if (ticket.users_id_recipient === session.userId) return true;
    return this.state.ticketUsers.some((tu) => tu.tickets_id === ticket.id && tu.users_id === session.userId && tu.type !== 2);
  }

  private ticketOf(itemtype: string, row: SimRow): SimRow | undefined {
    if (itemtype === 'Ticket') return row;
    if (itemtype === 'Ticket_User') return this.db.find('Ticket', row.tickets_id as number);
    if (row.itemtype === 'Ticket') return this.db.find('Ticket', row.items_id as number);
    return undefined;
  }

  private canReadRow(session: Session, itemtype: string, row: SimRow): boolean {
    const scope = this.readScope(session, itemtype);
    if (scope === 'all') return true;
    if (scope === 'none') return false;
    const ticket = this.ticketOf(itemtype, row);
    return ticket !== undefined && this.ownsTicket(session, ticket);
  }

  private visibleEntity(session: Session, row: SimRow): boolean {
    if (!('entities_id' in row) || typeof row.entities_id !== 'number') return true;
    const active = this.activeEntities(session);
    if (active.includes(row.entities_id)) return true;
    // Recursive items of a parent entity are visible below it.
    return row.is_recursive === 1;
  }

  // ---- read ----------------------------------------------------------------------------------

  private present(ctx: Ctx, itemtype: string, row: SimRow): Record<string, unknown> {
    const out: Record<string, unknown> = { ...row };
    const hateoas = ctx.params.get_hateoas !== false && ctx.params.get_hateoas !== '0';
    if (truthy(ctx.params.expand_dropdowns)) {
      for (const [key, value] of Object.entries(row)) {
        const target = fkItemtype(key);
        if (!target || typeof value !== 'number' || (value === 0 && target !== 'Entity')) continue;
        if (!TABLES[target]) continue;
        const linked = this.db.find(target, value);
        if (linked) out[key] = linked.completename ?? linked.name ?? value;
      }
    }
    if (hateoas) out.links = this.links(itemtype, row);
    return out;
  }

  private links(itemtype: string, row: SimRow): { rel: string; href: string }[] {
    const links: { rel: string; href: string }[] = [];
    for (const [key, value] of Object.entries(row)) {
      if (key === 'items_id' && typeof row.itemtype === 'string' && row.itemtype !== '' && typeof value === 'number') {
        links.push({ rel: row.itemtype, href: `${this.linkBase}${row.itemtype}/${value}` });
        continue;
      }
      const target = fkItemtype(key);
      if (!target || typeof value !== 'number' || (value === 0 && target !== 'Entity')) continue;
      links.push({ rel: target, href: `${this.linkBase}${target}/${value}` });
    }
    const subrels = itemtype === 'Ticket' ? TICKET_SUBRELS : ['User', 'ITILFollowup', 'Contact'].includes(itemtype) ? ['Document_Item'] : [];
    for (const rel of subrels) links.push({ rel, href: `${this.linkBase}${itemtype}/${row.id}/${rel}/` });
    return links;
  }

  private getItem(ctx: Ctx, itemtype: string, id: number): Reply | { status: number; json: unknown; headers?: Record<string, string> } {
    const session = ctx.session as Session;
    if (this.readScope(session, itemtype) === 'none') throw rightMissing();
    const row = this.db.find(itemtype, id);
    if (!row || (id === 0 && itemtype !== 'Entity')) throw new ApiError('ERROR_ITEM_NOT_FOUND', 'Item not found', 404, false);
    if (!this.canReadRow(session, itemtype, row)) throw rightMissing();
    const accept = String(ctx.headers.accept ?? '');
    if (itemtype === 'Document' && (accept.includes('application/octet-stream') || ctx.params.alt === 'media')) {
      const data = this.db.files.get(id) ?? Buffer.alloc(0);
      const headers = documentFileHeaders(this.decode(String(row.filename ?? 'file')), String(row.mime ?? 'application/octet-stream'), this.v11);
      return {
        status: 200,
        headers,
        body: data,
      };
    }
    const headers: Record<string, string> = {};
    if (typeof row.date_mod === 'string') headers['Last-Modified'] = httpDate(row.date_mod, this.offsetMin);
    return { status: 200, json: this.present(ctx, itemtype, row), headers };
  }

  /** getItems' paging: range, Content-Range and 200/206, shared by lists and sub-item lists. */
  private page(ctx: Ctx, itemtype: string, rows: SimRow[]): { status: number; json: unknown; headers: Record<string, string> } {
    const rawRange = phpString(ctx.query.range);
    let range: [number, number];
    try {
      range = parseRange(rawRange, LIST_LIMIT);
    } catch (err) {
      if (err instanceof SearchError) throw new ApiError(err.code, err.message);
      throw err;
    }
    const sortKey = phpString(ctx.query.sort) ?? 'id';
    const desc = (phpString(ctx.query.order) ?? 'ASC').toUpperCase() === 'DESC';
    const sorted = [...rows].sort((a, b) => {
      const va = a[sortKey];
      const vb = b[sortKey];
      const cmp = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va ?? '').localeCompare(String(vb ?? ''));
      return (desc ? -cmp : cmp) || a.id - b.id;
    });
    const total = sorted.length;
    const [start, end] = range;
    if (start > total) throw new ApiError('ERROR_RANGE_EXCEED_TOTAL', `Provided range exceed total count of data: ${total}`);
    const slice = sorted.slice(start, end + 1);
    const onlyId = truthy(ctx.params.only_id);
    const json = slice.map((row) => {
      if (!onlyId) return this.present(ctx, itemtype, row);
      const out: Record<string, unknown> = { id: row.id };
      if (ctx.params.get_hateoas !== false) out.links = this.links(itemtype, row).filter((l) => l.href.endsWith('/'));
      return out;
    });
    const headers: Record<string, string> = { 'Accept-Range': `${itemtype} ${ACCEPT_RANGE_MAX}` };
    if (total > 0) {
      // Without ?range GLPI 10.0 computes the header from [0, list_limit] (off by one, glpi#23941).
      const headerEnd = rawRange === undefined ? LIST_LIMIT : end;
      headers['Content-Range'] = `${start}-${Math.min(headerEnd, total - 1)}/${total}`;
    }
    return { status: slice.length < total ? 206 : 200, json, headers };
  }

  private listable(ctx: Ctx, itemtype: string, rows: SimRow[]): SimRow[] {
    const session = ctx.session as Session;
    const deleted = truthy(ctx.params.is_deleted) ? 1 : 0;
    let out = rows.filter((r) => !('is_deleted' in r) || r.is_deleted === deleted);
    out = out.filter((r) => this.canReadRow(session, itemtype, r) && (itemtype === 'User' || this.visibleEntity(session, r)));
    const searchText = ctx.query.searchText;
    if (typeof searchText === 'object') {
      const columns = TABLES[itemtype]?.columns ?? {};
      for (const [field, value] of Object.entries(searchText)) {
        if (typeof value !== 'string') continue;
        const fields = field === 'all' ? ['name', 'comment'] : [field];
        if (field !== 'all' && field !== 'id' && !(field in columns)) {
          throw new ApiError('ERROR_FIELD_NOT_FOUND', `Field not found: ${field}`);
        }
        const pattern = likePattern(value);
        out = out.filter((r) =>
          fields.some((f) => {
            const cell = r[f] === null || r[f] === undefined ? null : this.decode(String(r[f]));
            return pattern === null || pattern === '' ? cell === null || cell === '' : likeMatches(pattern, cell);
          }),
        );
      }
    }
    return out;
  }

  private getList(ctx: Ctx, itemtype: string): { status: number; json: unknown; headers: Record<string, string> } {
    const session = ctx.session as Session;
    if (this.readScope(session, itemtype) === 'none') throw rightMissing();
    return this.page(ctx, itemtype, this.listable(ctx, itemtype, this.db.rows(itemtype)));
  }

  private getSubItems(ctx: Ctx, itemtype: string, id: number, subtype: string): { status: number; json: unknown; headers: Record<string, string> } {
    const session = ctx.session as Session;
    if (this.readScope(session, itemtype) === 'none') throw rightMissing();
    const parent = this.db.find(itemtype, id);
    if (!parent) throw new ApiError('ERROR_ITEM_NOT_FOUND', 'Item not found', 404, false);
    if (!this.canReadRow(session, itemtype, parent)) throw rightMissing();
    const parentFk = PARENT_FKS[itemtype];
    const columns = TABLES[subtype]?.columns ?? {};
    // API::getItems: the child's <parent>s_id column if it has one, else its itemtype/items_id pair.
    const children = this.db.rows(subtype).filter((r) =>
      parentFk !== undefined && parentFk in columns ? r[parentFk] === id : r.itemtype === itemtype && r.items_id === id,
    );
    const readable = children.filter((r) => !('is_deleted' in r) || r.is_deleted === 0);
    return this.page(ctx, subtype, readable);
  }

  private search(ctx: Ctx, itemtype: string): { status: number; json: unknown; headers: Record<string, string> } {
    const session = ctx.session as Session;
    if (this.readScope(session, itemtype) === 'none') throw rightMissing();
    if (!SEARCH[itemtype]) throw new ApiError('ERROR', 'Bad field ID in search criteria');
    const deleted = truthy(ctx.params.is_deleted) ? 1 : 0;
    const visible = this.db
      .rows(itemtype)
      .filter((r) => (!('is_deleted' in r) || r.is_deleted === deleted) && this.canReadRow(session, itemtype, r))
      .filter((r) => itemtype === 'User' || this.visibleEntity(session, r))
      .filter((r) => !(itemtype === 'User' && r.name === 'glpi-system'));
    const answer = runSearch({ itemtype, query: ctx.query, visible, db: this.db, listLimit: LIST_LIMIT });
    const headers: Record<string, string> = { 'Accept-Range': `${itemtype} ${ACCEPT_RANGE_MAX}` };
    if (answer.contentRange) headers['Content-Range'] = answer.contentRange;
    return { status: answer.status, json: answer.body, headers };
  }

  // ---- create --------------------------------------------------------------------------------

  private inputs(ctx: Ctx): { list: Input[]; bulk: boolean } {
    const input = ctx.params.input;
    if (Array.isArray(input)) {
      if (input.length === 0 || !input.every(isObject)) throw badArray();
      return { list: input.map((i) => mapStrings(i, this.encode)), bulk: true };
    }
    if (!isObject(input)) throw badArray();
    return { list: [mapStrings(input, this.encode)], bulk: false };
  }

  private create(ctx: Ctx, itemtype: string): { status: number; json: unknown; headers?: Record<string, string> } {
    const { list, bulk } = this.inputs(ctx);
    const session = ctx.session as Session;
    const results = list.map((input) => {
      if (input.entities_id === undefined && 'entities_id' in (TABLES[itemtype]?.columns ?? {})) input.entities_id = session.activeEntity;
      return this.createOne(ctx, itemtype, input);
    });
    const location = (id: number) => `${this.linkBase}${itemtype}/${id}`;
    // GLPI 11: "Item successfully added: Doe &lt;c&gt;", HTML-escaped and without 10's " (id)".
    const added = (r: Extract<Outcome, { ok: true }>) => (this.v11 ? htmlSpecialChars(r.message.replace(` (${r.id})`, '')) : r.message);
    if (!bulk) {
      const r = results[0] as Outcome;
      if (!r.ok) throw new ApiError('ERROR_GLPI_ADD', r.message, 400, false);
      return { status: 201, json: { id: r.id, message: added(r), ...r.extra }, headers: { location: location(r.id) } };
    }
    const shaped = results.map((r) => (r.ok ? { id: r.id, message: added(r), ...r.extra } : { id: false, message: r.message }));
    const ok = results.filter((r): r is Extract<Outcome, { ok: true }> => r.ok);
    if (ok.length === 0) throw new ApiError('ERROR_GLPI_ADD', shaped, 400, false);
    if (ok.length < results.length) return { status: 207, json: ['ERROR_GLPI_PARTIAL_ADD', shaped] };
    return { status: 201, json: shaped, headers: { link: ok.map((r) => location(r.id)).join(',') } };
  }

  private canCreate(session: Session, itemtype: string, input: Input): boolean {
    switch (itemtype) {
      case 'ITILFollowup': {
        const ticket = input.itemtype === 'Ticket' ? this.db.find('Ticket', num(input.items_id) ?? -1) : undefined;
        if (!ticket) return false;
        // CommonITILObject::canAddFollowups: a closed ticket takes no followup, whatever the rights;
        // GLPI says so with its generic "permission" refusal.
        if (ticket.status === 6) return false;
        const bits = this.bits(session, 'ITILFollowup');
        if (bits & FOLLOWUP_ADDALL) return true;
        return (bits & FOLLOWUP_ADDMY) !== 0 && this.ownsTicket(session, ticket);
      }
      case 'ITILSolution': {
        const ticket = input.itemtype === 'Ticket' ? this.db.find('Ticket', num(input.items_id) ?? -1) : undefined;
        return ticket !== undefined && (this.bits(session, 'Ticket') & UPDATE) !== 0;
      }
      case 'Ticket_User':
        return (this.bits(session, 'Ticket') & UPDATE) !== 0;
      case 'UserEmail':
        return (this.bits(session, 'User') & (CREATE | UPDATE)) !== 0;
      case 'RequestType':
        return (this.bits(session, 'dropdown') & CREATE) !== 0;
      default:
        return (this.bits(session, itemtype) & CREATE) !== 0;
    }
  }

  private createOne(ctx: Ctx, itemtype: string, input: Input): Outcome {
    const session = ctx.session as Session;
    if (!this.canCreate(session, itemtype, input)) return { ok: false, message: NO_PERMISSION };
    switch (itemtype) {
      case 'User':
        return this.addUser(input);
      case 'UserEmail':
        return this.addUserEmail(input);
      case 'Ticket':
        return this.addTicket(session, input, ctx.files);
      case 'Ticket_User':
        return this.addTicketUser(input);
      case 'ITILFollowup':
        return this.addFollowup(session, input, ctx.files);
      case 'ITILSolution':
        return this.addSolution(session, input);
      case 'Document':
        return this.addDocument(session, input, ctx.files, ctx.multipart);
      case 'Document_Item':
        return this.addDocumentItem(session, input);
      case 'Entity':
      case 'ITILCategory':
        return this.addTreeItem(itemtype, input);
      default: {
        const row = this.db.insert(itemtype, this.db.build(itemtype, { ...input, date_creation: this.now(), date_mod: this.now() }));
        return { ok: true, id: row.id, message: `Item successfully added: ${String(row.name ?? row.id)}` };
      }
    }
  }

  private now(): string {
    return localDateTime(Date.now(), this.offsetMin);
  }

  private addUser(input: Input): Outcome {
    const name = str(input.name)?.trim() ?? '';
    const decoded = this.decode(name);
    if (name === '' || !(/^[\p{L}\p{N}'@.\-_ ]+$/u.test(decoded) || isValidEmail(decoded))) {
      return { ok: false, message: 'The login is not valid. Unable to add the user.' };
    }
    const lower = decoded.toLowerCase();
    if (this.state.users.some((u) => this.decode(String(u.name ?? '')).toLowerCase() === lower)) {
      return { ok: false, message: 'Unable to add. The user already exists.' };
    }
    const now = this.now();
    const fields: Input = { ...input, name, date_creation: now, date_mod: now, list_limit: null };
    if (str(input.password) && input.password === input.password2) fields.password_last_update = now;
    delete fields.password;
    const row = this.db.insert('User', this.db.build('User', fields));
    this.addUserEmails(row.id, input._useremails, input._default_email);
    // As observed on 10.0.3 and 11.0.8: no right rule applies, so GLPI gives the default profile
    // (Self-Service) in _entities_id, dynamic, not recursive.
    const profileId = num(input._profiles_id) ?? (this.state.profiles.find((p) => p.is_default === 1)?.id);
    if (profileId !== undefined && profileId > 0) {
      this.addProfileUser(row.id, profileId, num(input._entities_id) ?? 0, { is_dynamic: 1, is_default_profile: 1, is_recursive: num(input._is_recursive) ?? 0 });
    }
    return { ok: true, id: row.id, message: `Item successfully added: ${friendlyName(row)}` };
  }

  /** User::updateUserEmails for new addresses: keys are not ids of this user's e-mails, so each adds a row. */
  private addUserEmails(userId: number, emails: unknown, defaultKey: unknown): void {
    if (emails === undefined || emails === null) return;
    const entries: [string, unknown][] = Array.isArray(emails) ? emails.map((e, i) => [String(i), e]) : isObject(emails) ? Object.entries(emails) : [];
    for (const [key, email] of entries) {
      const address = str(email)?.trim();
      if (!address) continue;
      const isDefault = defaultKey !== undefined && defaultKey !== null && String(defaultKey) === key;
      this.addUserEmail({ users_id: userId, email: address, is_default: isDefault ? 1 : 0 });
    }
  }

  private addUserEmail(input: Input): Outcome {
    const userId = num(input.users_id);
    const email = str(input.email)?.trim() ?? '';
    if (userId === undefined || !this.db.find('User', userId)) return { ok: false, message: NO_PERMISSION };
    if (!isValidEmail(this.decode(email))) return { ok: false, message: `Invalid email address ${email}` };
    const mine = this.state.useremails.filter((e) => e.users_id === userId);
    if (mine.some((e) => String(e.email).toLowerCase() === email.toLowerCase())) return { ok: false, message: '' };
    // UserEmail::prepareInputForAdd: a user's first address is the default whatever the input says.
    const isDefault = mine.length === 0 || truthy(input.is_default) ? 1 : 0;
    if (isDefault) for (const e of mine) e.is_default = 0;
    const row = this.db.insert('UserEmail', this.db.build('UserEmail', { ...input, users_id: userId, email, is_default: isDefault }));
    return { ok: true, id: row.id, message: '' };
  }

  /** The actor rows a ticket input asks for (classic `_users_id_<role>` keys and 10.0 `_actors`). */
  private actorInputs(input: Input): { rows: Input[]; invalidEmail?: string } {
    const rows: Input[] = [];
    const roles: [string, number][] = [['requester', 1], ['assign', 2], ['observer', 3]];
    for (const [role, type] of roles) {
      const ids = input[`_users_id_${role}`];
      const notif = isObject(input[`_users_id_${role}_notif`]) ? (input[`_users_id_${role}_notif`] as Input) : {};
      const list = Array.isArray(ids) ? ids : ids === undefined || ids === null ? [] : [ids];
      const scalar = !Array.isArray(ids);
      list.forEach((raw, i) => {
        const usersId = num(raw) ?? 0;
        const row: Input = { type, users_id: usersId, use_notification: num(at(notif.use_notification, i, scalar)) ?? 1, alternative_email: str(at(notif.alternative_email, i, scalar)) ?? '' };
        rows.push(row);
      });
    }
    const actors = isObject(input._actors) ? input._actors : undefined;
    if (actors) {
      for (const [role, type] of roles) {
        const list = Array.isArray(actors[role]) ? (actors[role] as unknown[]) : [];
        for (const actor of list) {
          if (!isObject(actor) || actor.itemtype !== 'User') continue;
          const hasNotif = actor.use_notification !== undefined;
          rows.push({
            type,
            users_id: num(actor.items_id) ?? 0,
            use_notification: hasNotif ? (num(actor.use_notification) ?? 1) : 1,
            // transformActorsInput copies alternative_email only alongside use_notification.
            alternative_email: hasNotif ? (str(actor.alternative_email) ?? '') : '',
          });
        }
      }
    }
    const valid: Input[] = [];
    for (const row of rows) {
      const email = String(row.alternative_email);
      if (email !== '' && !isValidEmail(this.decode(email))) return { rows: [], invalidEmail: email };
      const usersId = row.users_id as number;
      if (usersId > 0 ? !this.db.find('User', usersId) : email === '') continue;
      if (valid.some((v) => v.type === row.type && v.users_id === usersId && v.alternative_email === row.alternative_email)) continue;
      valid.push(row);
    }
    return { rows: valid };
  }

  private addTicket(session: Session, input: Input, files: MultipartPart[]): Outcome {
    const actors = this.actorInputs(input);
    if (actors.invalidEmail !== undefined) return { ok: false, message: `Invalid email address ${actors.invalidEmail}` };
    const now = this.now();
    const urgency = clamp(num(input.urgency) ?? 3);
    const impact = clamp(num(input.impact) ?? 3);
    let name = str(input.name) ?? '';
    if (name.trim() === '') name = this.encode(stripTags(this.decode(str(input.content) ?? '')).slice(0, 70));
    const row = this.db.build('Ticket', {
      ...input,
      name,
      urgency,
      impact,
      priority: num(input.priority) ?? (PRIORITY_MATRIX[urgency - 1] as number[])[impact - 1],
      status: num(input.status) ?? 1,
      date: str(input.date) ?? now,
      date_mod: now,
      date_creation: now,
      users_id_recipient: session.userId,
      users_id_lastupdater: session.userId,
      requesttypes_id: num(input.requesttypes_id) ?? 1,
      type: num(input.type) ?? 1,
    });
    this.db.insert('Ticket', row);
    for (const actor of actors.rows) this.db.insert('Ticket_User', this.db.build('Ticket_User', { ...actor, tickets_id: row.id }));
    this.afterAssign(row);
    const extra = files.length > 0 ? this.attachFiles(session, files, 'Ticket', row.id) : undefined;
    return { ok: true, id: row.id, message: `Item successfully added: ${String(row.name)} (${row.id})`, ...(extra ? { extra } : {}) };
  }

  /** Adding a technician to a New ticket makes it Processing (assigned). */
  private afterAssign(ticket: SimRow): void {
    if (ticket.status === 1 && this.state.ticketUsers.some((tu) => tu.tickets_id === ticket.id && tu.type === 2)) {
      ticket.status = 2;
      ticket.takeintoaccount_delay_stat = 1;
    }
  }

  private addTicketUser(input: Input): Outcome {
    const ticket = this.db.find('Ticket', num(input.tickets_id) ?? -1);
    if (!ticket) return { ok: false, message: NO_PERMISSION };
    const usersId = num(input.users_id) ?? 0;
    const email = str(input.alternative_email) ?? '';
    const type = num(input.type) ?? 1;
    // CommonITILActor::isAttach2Valid: users_id 0 only with an alternative_email.
    if (usersId === 0 ? email === '' : !this.db.find('User', usersId)) return { ok: false, message: '' };
    if (email !== '' && !isValidEmail(this.decode(email))) return { ok: false, message: `Invalid email address ${email}` };
    if (this.state.ticketUsers.some((tu) => tu.tickets_id === ticket.id && tu.type === type && tu.users_id === usersId && tu.alternative_email === email)) {
      return { ok: false, message: '' };
    }
    const row = this.db.insert('Ticket_User', this.db.build('Ticket_User', { ...input, tickets_id: ticket.id, users_id: usersId, type, alternative_email: email }));
    this.afterAssign(ticket);
    return { ok: true, id: row.id, message: '' };
  }

  private reopen(ticket: SimRow): void {
    if (![4, 5, 6].includes(ticket.status as number)) return;
    ticket.status = this.state.ticketUsers.some((tu) => tu.tickets_id === ticket.id && tu.type === 2) ? 2 : 1;
    ticket.solvedate = null;
    ticket.closedate = null;
  }

  private addFollowup(session: Session, input: Input, files: MultipartPart[]): Outcome {
    const ticket = this.db.find('Ticket', num(input.items_id) ?? -1) as SimRow;
    const content = str(input.content) ?? '';
    const closing = truthy(input.add_close) || truthy(input.add_reopen);
    if (content.trim() === '' && !closing) return { ok: false, message: "You can't add a followup without description" };
    const now = this.now();
    const date = str(input.date);
    const row = this.db.build('ITILFollowup', {
      ...input,
      itemtype: 'Ticket',
      items_id: ticket.id,
      // GLPI keeps a given date as is (server local time); date_creation is the real insert time.
      date: date !== undefined && date.trim() !== '' ? date : now,
      users_id: num(input.users_id) ?? session.userId,
      users_id_editor: 0,
      is_private: num(input.is_private) ?? 0,
      requesttypes_id: num(input.requesttypes_id) ?? 0,
      date_mod: now,
      date_creation: now,
      timeline_position: 1,
    });
    this.db.insert('ITILFollowup', row);
    const requester = this.state.ticketUsers.some((tu) => tu.tickets_id === ticket.id && tu.type === 1 && tu.users_id === session.userId);
    const assignee = this.state.ticketUsers.some((tu) => tu.tickets_id === ticket.id && tu.type === 2 && tu.users_id === session.userId);
    if (input.pending !== undefined && truthy(input.pending)) {
      ticket.status = 4;
      ticket.begin_waiting_date = now;
    } else if (truthy(input.add_reopen) || (input.pending !== undefined && !truthy(input.pending)) || (requester && !assignee)) {
      // ParentStatus::updateParentStatus: forced reopen, or needReopen() for a requester's reply.
      this.reopen(ticket);
    } else if (truthy(input.add_close) && ticket.status === 5) {
      ticket.status = 6;
      ticket.closedate = now;
    }
    ticket.date_mod = now;
    const extra = files.length > 0 ? this.attachFiles(session, files, 'ITILFollowup', row.id) : undefined;
    return { ok: true, id: row.id, message: '', ...(extra ? { extra } : {}) };
  }

  private addSolution(session: Session, input: Input): Outcome {
    const ticket = this.db.find('Ticket', num(input.items_id) ?? -1) as SimRow;
    if (ticket.status === 5 || ticket.status === 6) {
      return { ok: false, message: 'The item is already solved, did anyone pushed a solution before you?' };
    }
    const now = this.now();
    const row = this.db.insert(
      'ITILSolution',
      this.db.build('ITILSolution', { ...input, itemtype: 'Ticket', items_id: ticket.id, users_id: session.userId, date_creation: now, date_mod: now, status: 2 }),
    );
    ticket.status = 5;
    ticket.solvedate = now;
    ticket.begin_waiting_date = now;
    ticket.date_mod = now;
    return { ok: true, id: row.id, message: `Item successfully added: ${row.id}` };
  }

  /** Stores one uploaded file as a Document (or reuses the entity's document with the same sha1, as addFiles does). */
  private storeFile(session: Session, file: MultipartPart, input: Input, dedupe: boolean): { row?: SimRow; result: Record<string, unknown> } {
    const original = this.uploadedName(file.filename ?? 'file');
    const ext = original.includes('.') ? (original.split('.').pop() as string).toLowerCase() : '';
    const prefix = randomBytes(6).toString('hex').slice(0, 13);
    const result: Record<string, unknown> = { name: `${prefix}${original}`, size: file.data.length, type: file.contentType ?? '', prefix, display: original };
    if (!ALLOWED_EXTENSIONS[this.v11 ? '11' : '10'].has(ext)) {
      result.error = 'Filetype not allowed';
      return { result };
    }
    if (file.data.length === 0) {
      result.error = 'File is too small';
      return { result };
    }
    if (imageNameMismatch(ext, file.data)) {
      // 10.0.3's GLPIUploadHandler has no text for this error, so the result says `error: false`
      // and no Document gets the file (recorded).
      result.error = this.v11 ? 'Invalid file type' : false;
      return { result };
    }
    const sha1 = createHash('sha1').update(file.data).digest('hex');
    const entity = num(input.entities_id) ?? session.activeEntity;
    if (dedupe) {
      const existing = this.state.documents.find((d) => d.sha1sum === sha1 && d.entities_id === entity && d.is_deleted === 0);
      if (existing) return { row: existing, result };
    }
    const now = this.now();
    const row = this.db.build('Document', {
      ...input,
      name: str(input.name) ?? this.encode(original),
      filename: this.encode(original),
      filepath: `${ext.toUpperCase()}/${sha1.slice(0, 2)}/${sha1.slice(2)}.${ext}`,
      mime: contentMime(file.data),
      sha1sum: sha1,
      users_id: session.userId,
      entities_id: entity,
      tag: randomBytes(16).toString('hex'),
      date_creation: now,
      date_mod: now,
    });
    this.db.insert('Document', row);
    this.db.files.set(row.id, file.data);
    return { row, result };
  }

  /**
   * The name GLPI keeps from the one PHP parsed: 10.0.3 first sanitizes `$_FILES` names (its DB
   * escape writes CR as `\r`) and the upload handler's stripslashes then leaves `r`; the handler
   * trims dots, spaces and control characters at the end only (the random prefix is in front by then).
   */
  private uploadedName(parsed: string): string {
    // eslint-disable-next-line no-control-regex
    return (this.v11 ? parsed : parsed.replace(/\r/g, 'r').replace(/\x1a/g, 'Z')).replace(/[.\x00-\x20]+$/, '');
  }

  private linkDocument(session: Session, documentId: number, itemtype: string, itemsId: number): void {
    if (this.state.documentItems.some((di) => di.documents_id === documentId && di.itemtype === itemtype && di.items_id === itemsId)) return;
    const now = this.now();
    this.db.insert(
      'Document_Item',
      this.db.build('Document_Item', { documents_id: documentId, itemtype, items_id: itemsId, users_id: session.userId, date_creation: now, date_mod: now, date: now }),
    );
  }

  /** CommonDBTM::addFiles after a Ticket / ITILFollowup add with uploaded files. */
  private attachFiles(session: Session, files: MultipartPart[], itemtype: string, itemsId: number): Record<string, unknown> {
    const results = files.map((file) => {
      const { row, result } = this.storeFile(session, file, {}, true);
      if (row) this.linkDocument(session, row.id, itemtype, itemsId);
      return result;
    });
    return { upload_result: { filename: results } };
  }

  private addDocument(session: Session, input: Input, files: MultipartPart[], multipart: boolean): Outcome {
    const file = files[0];
    let row: SimRow | undefined;
    let uploadResult: Record<string, unknown>[] = [];
    if (file) {
      const stored = this.storeFile(session, file, input, false);
      row = stored.row;
      uploadResult = [stored.result];
      if (!row && truthy(input._only_if_upload_succeed)) {
        // Observed: the refused file is gone from _tmp when Document::moveDocument looks for it.
        const { name, display } = stored.result as { name: string; display: string };
        return { ok: false, message: this.v11 ? `File ${display} not found.` : `File /var/www/glpi/files/_tmp/${name} not found.` };
      }
    }
    if (!row) {
      if (truthy(input._only_if_upload_succeed)) return { ok: false, message: 'No file uploaded' };
      const now = this.now();
      row = this.db.insert('Document', this.db.build('Document', { ...input, users_id: session.userId, date_creation: now, date_mod: now }));
    }
    const target = str(input.itemtype);
    const targetId = num(input.items_id);
    if (target && targetId !== undefined && canonicalItemtype(target)) this.linkDocument(session, row.id, canonicalItemtype(target) as string, targetId);
    const outcome: Outcome = { ok: true, id: row.id, message: `Item successfully added: ${String(row.name ?? row.id)}` };
    if (multipart) outcome.extra = { upload_result: { filename: uploadResult } };
    return outcome;
  }

  private addDocumentItem(session: Session, input: Input): Outcome {
    const doc = this.db.find('Document', num(input.documents_id) ?? -1);
    const itemtype = canonicalItemtype(str(input.itemtype) ?? '');
    const itemsId = num(input.items_id);
    if (!doc || !itemtype || itemsId === undefined || !this.db.find(itemtype, itemsId)) return { ok: false, message: NO_PERMISSION };
    if (this.state.documentItems.some((di) => di.documents_id === doc.id && di.itemtype === itemtype && di.items_id === itemsId)) {
      return { ok: false, message: '' };
    }
    this.linkDocument(session, doc.id, itemtype, itemsId);
    const row = this.state.documentItems[this.state.documentItems.length - 1] as SimRow;
    return { ok: true, id: row.id, message: '' };
  }

  private addTreeItem(itemtype: string, input: Input): Outcome {
    const name = str(input.name)?.trim() ?? '';
    if (name === '') return { ok: false, message: '' };
    const parentKey = itemtype === 'Entity' ? 'entities_id' : 'itilcategories_id';
    const parentId = num(input[parentKey]) ?? 0;
    const parent = parentId === 0 && itemtype !== 'Entity' ? undefined : this.db.find(itemtype, parentId);
    if (itemtype === 'Entity' && !parent) return { ok: false, message: NO_PERMISSION };
    const now = this.now();
    const row = this.db.insert(
      itemtype,
      this.db.build(itemtype, {
        ...input,
        name,
        [parentKey]: parentId,
        completename: parent ? `${String(parent.completename)} > ${name}` : name,
        level: parent ? Number(parent.level ?? 1) + 1 : 1,
        date_creation: now,
        date_mod: now,
      }),
    );
    return { ok: true, id: row.id, message: `Item successfully added: ${String(row.completename)}` };
  }

  // ---- update --------------------------------------------------------------------------------

  private canUpdate(session: Session, itemtype: string, row: SimRow): boolean {
    switch (itemtype) {
      case 'Ticket':
        return (this.bits(session, 'Ticket') & UPDATE) !== 0 && this.canReadRow(session, itemtype, row);
      case 'ITILFollowup':
        return (this.bits(session, 'ITILFollowup') & UPDATE) !== 0 || (this.bits(session, 'Ticket') & UPDATE) !== 0;
      case 'Ticket_User':
      case 'ITILSolution':
        return (this.bits(session, 'Ticket') & UPDATE) !== 0;
      case 'UserEmail':
        return (this.bits(session, 'User') & UPDATE) !== 0;
      default:
        return (this.bits(session, itemtype) & UPDATE) !== 0;
    }
  }

  private updateItems(ctx: Ctx, itemtype: string, urlId: number | undefined): Reply | { status: number; json: unknown } {
    const session = ctx.session as Session;
    const raw = ctx.params.input;
    if (raw === undefined || (!isObject(raw) && !Array.isArray(raw))) throw badArray();
    const list: Input[] = urlId !== undefined ? [isObject(raw) ? raw : {}] : Array.isArray(raw) ? raw.filter(isObject) : [raw];
    const results: Record<string, unknown>[] = [];
    let failed = 0;
    for (const original of list) {
      const id = urlId ?? num(original.id);
      const row = id === undefined ? undefined : this.db.find(itemtype, id);
      if (id === undefined || !row) {
        // API::updateItems counts it as failed but does not report it (GLPI 10.0 bug).
        failed += 1;
        continue;
      }
      if (!this.canUpdate(session, itemtype, row)) {
        failed += 1;
        results.push({ [String(id)]: false, message: NO_PERMISSION });
        continue;
      }
      if (itemtype === 'User' && isObject(original._useremails)) {
        // Observed: the keyed form reaches updateUserEmails() as stdClass, a PHP TypeError.
        return emptyPhpPage();
      }
      const input = mapStrings(original, this.encode);
      this.applyUpdate(session, itemtype, row, input);
      results.push({ [String(id)]: true, message: '' });
    }
    if (failed === 0) return { status: 200, json: results };
    if (list.length === 1) {
      const only = results[0];
      throw new ApiError('ERROR_GLPI_UPDATE', only ? only.message : null, 400, false);
    }
    if (failed === list.length) throw new ApiError('ERROR_GLPI_UPDATE', results, 400, false);
    return { status: 207, json: ['ERROR_GLPI_PARTIAL_UPDATE', results] };
  }

  private applyUpdate(session: Session, itemtype: string, row: SimRow, input: Input): void {
    const now = this.now();
    const before = row.status;
    this.db.update(itemtype, row, input);
    if ('date_mod' in row) row.date_mod = now;
    if (itemtype === 'User' && Array.isArray(input._useremails)) this.addUserEmails(row.id, input._useremails, input._default_email);
    if (itemtype === 'ITILFollowup') row.users_id_editor = session.userId;
    if (itemtype !== 'Ticket') return;
    row.users_id_lastupdater = session.userId;
    if (row.status !== before) {
      if (row.status === 5) row.solvedate = now;
      if (row.status === 6) row.closedate = now;
      if ((row.status as number) < 5) {
        row.solvedate = null;
        row.closedate = null;
      }
    }
    const actors = this.actorInputs(input);
    if (isObject(input._actors)) {
      // On update _actors is the whole desired state: unlisted actors of each role are removed.
      const keep = (tu: SimRow) => actors.rows.some((a) => a.type === tu.type && a.users_id === tu.users_id && a.alternative_email === tu.alternative_email);
      for (const tu of [...this.state.ticketUsers]) if (tu.tickets_id === row.id && !keep(tu)) this.db.remove('Ticket_User', tu.id);
    }
    for (const actor of actors.rows) {
      const exists = this.state.ticketUsers.some((tu) => tu.tickets_id === row.id && tu.type === actor.type && tu.users_id === actor.users_id && tu.alternative_email === actor.alternative_email);
      if (!exists) this.db.insert('Ticket_User', this.db.build('Ticket_User', { ...actor, tickets_id: row.id }));
    }
    this.afterAssign(row);
  }

  // ---- delete --------------------------------------------------------------------------------

  private deleteItems(ctx: Ctx, itemtype: string, urlId: number | undefined): { status: number; json: unknown } {
    const session = ctx.session as Session;
    const raw = ctx.params.input;
    let ids: (number | undefined)[];
    if (urlId !== undefined) ids = [urlId];
    else if (Array.isArray(raw)) ids = raw.map((i) => (isObject(i) ? num(i.id) : undefined));
    else if (isObject(raw)) ids = [num(raw.id)];
    else throw badArray();
    const purge = truthy(ctx.params.force_purge);
    const results: Record<string, unknown>[] = [];
    let failed = 0;
    for (const id of ids) {
      const row = id === undefined ? undefined : this.db.find(itemtype, id);
      if (id === undefined || !row) {
        failed += 1;
        results.push({ [String(id ?? '')]: false, message: 'Item not found' });
        continue;
      }
      if ((this.bits(session, itemtype) & DELETE) === 0) {
        failed += 1;
        results.push({ [String(id)]: false, message: NO_PERMISSION });
        continue;
      }
      if (TABLES[itemtype]?.trash && !purge) row.is_deleted = 1;
      else this.purge(itemtype, id);
      results.push({ [String(id)]: true, message: '' });
    }
    if (failed === 0) return { status: 200, json: results };
    if (ids.length === 1) throw new ApiError('ERROR_GLPI_DELETE', (results[0] as Record<string, unknown>).message, 400, false);
    if (failed === ids.length) throw new ApiError('ERROR_GLPI_DELETE', results, 400, false);
    return { status: 207, json: ['ERROR_GLPI_PARTIAL_DELETE', results] };
  }

  private purge(itemtype: string, id: number): void {
    this.db.remove(itemtype, id);
    const drop = (child: string, match: (r: SimRow) => boolean) => {
      for (const r of [...this.db.rows(child)]) if (match(r)) this.db.remove(child, r.id);
    };
    if (itemtype === 'Ticket') {
      drop('Ticket_User', (r) => r.tickets_id === id);
      drop('ITILFollowup', (r) => r.itemtype === 'Ticket' && r.items_id === id);
      drop('ITILSolution', (r) => r.itemtype === 'Ticket' && r.items_id === id);
    }
    if (itemtype === 'User') drop('UserEmail', (r) => r.users_id === id);
    if (itemtype === 'Document') {
      drop('Document_Item', (r) => r.documents_id === id);
      this.db.files.delete(id);
    }
    drop('Document_Item', (r) => r.itemtype === itemtype && r.items_id === id);
  }
}

function fkItemtype(key: string): string | undefined {
  const m = /^([a-z]+)_id(?:_[a-z_]+)?$/.exec(key);
  if (!m) return undefined;
  return FK_ITEMTYPES[m[1] as string];
}

function friendlyName(user: SimRow): string {
  const realname = String(user.realname ?? '');
  const firstname = String(user.firstname ?? '');
  if (realname !== '') return firstname !== '' ? `${realname} ${firstname}` : realname;
  if (firstname !== '') return firstname;
  return String(user.name ?? '');
}

function clamp(level: number): number {
  return Math.min(5, Math.max(1, level));
}

function resourceNotFound(): ApiError {
  return new ApiError('ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM', 'resource not found or not an instance of CommonDBTM');
}

function rightMissing(): ApiError {
  return new ApiError('ERROR_RIGHT_MISSING', NO_PERMISSION, 403, false);
}

function badArray(): ApiError {
  return new ApiError('ERROR_BAD_ARRAY', 'input parameter must be an array of objects');
}

export async function startGlpiSimulator(options: GlpiSimulatorOptions = {}): Promise<GlpiSimulator> {
  const sim = new Simulator(options);
  await sim.listen();
  return sim;
}
