import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from 'undici';
import type { GlpiHookConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import { errorCode } from '../errors.js';
import { scrubSecrets } from '../logger.js';
import { GlpiError, glpiErrorFromBody, isGlpiError } from './errors.js';
import { decodeEntities } from '../util/html.js';
import { buildSearchQuery, formatRange, parseSearchBody } from './search.js';
import { GlpiSession } from './session.js';
import type {
  DocumentDownload,
  GlpiCallObserver,
  GlpiClient,
  GlpiInput,
  GlpiItem,
  ItemType,
  ListPageOptions,
  SearchOptions,
  SearchResult,
  UploadFile,
} from './types.js';
import { field } from '../util/json.js';

export interface GlpiClientDeps {
  /** undici dispatcher (tests: a MockAgent). Default: a keep-alive Pool for the GLPI origin, owned by the client. */
  dispatcher?: Dispatcher;
  observer?: GlpiCallObserver;
  logger?: Logger;
  /** Only used for the default Pool. */
  connectTimeoutMs?: number;
  /** Items per request when listing sub-items. */
  pageSize?: number;
}

export interface GlpiClientHandle extends GlpiClient {
  /** Kills the session and closes the dispatcher if the client created it. */
  close(): Promise<void>;
}

export type GlpiClientHook = GlpiHookConfig & { hookId: string };

const DEFAULT_PAGE_SIZE = 100;
/** Bounds any listing, so a GLPI that keeps answering 206 cannot keep us paging forever. */
const MAX_PAGES = 1_000;
const POOL_CONNECTIONS = 16;
/** Below Apache's default KeepAliveTimeout (5 s), so we drop idle sockets before the server does. */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;
/**
 * Session tokens are opaque: GLPI 10 answers the 26-char PHP session id, GLPI 11.0.8 a 120-char
 * base64 string (`+`, `/`, `=`). The only requirement is that it travels safely in the
 * `Session-Token` header: visible ASCII, no spaces, quotes or control characters, bounded length.
 */
const SESSION_TOKEN_SHAPE = /^[\x21-\x7E]{1,1024}$/;
/** What cfg_glpi.version looks like ("10.0.3", "11.0.8"); anything else is not trusted as a version. */
const GLPI_VERSION_SHAPE = /^\d{1,3}\.\d{1,3}(\.\d{1,3})?([-+.~][0-9A-Za-z.-]{1,32})?$/;
/** Sub-items linked to their parent by itemtype + items_id rather than a `<parent>s_id` column. */
const POLYMORPHIC_CHILDREN = new Set<ItemType>(['ITILFollowup', 'ITILSolution', 'Document_Item']);

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Call {
  method: HttpMethod;
  /** Relative to the base URL, no leading slash (a leading slash would drop `apirest.php`). */
  path: string;
  query?: URLSearchParams;
  /** Template for metrics and errors, e.g. "POST /Ticket/:id/ITILFollowup". */
  endpoint: string;
  json?: unknown;
  multipart?: { boundary: string; data: Buffer };
}

type Credentials = { kind: 'session'; token: string } | { kind: 'login' };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: unknown;
}

/** A default keep-alive Pool for one GLPI origin (shared by hooks on the same GLPI via the registry). */
export function createGlpiPool(baseUrl: string, options: { timeoutMs: number; connectTimeoutMs?: number }): Pool {
  return new Pool(new URL(baseUrl).origin, {
    connections: POOL_CONNECTIONS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connect: { timeout: options.connectTimeoutMs ?? DEFAULTS.glpiConnectTimeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
}

export function createGlpiClient(hook: GlpiClientHook, deps: GlpiClientDeps = {}): GlpiClientHandle {
  return new UndiciGlpiClient(hook, deps);
}

class UndiciGlpiClient implements GlpiClientHandle {
  readonly hookId: string;
  private readonly baseUrl: URL;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly session: GlpiSession;
  private readonly pageSize: number;
  private lastSessionToken: string | undefined;
  private version: string | undefined;

  constructor(
    private readonly hook: GlpiClientHook,
    private readonly deps: GlpiClientDeps,
  ) {
    this.hookId = hook.hookId;
    this.baseUrl = new URL(hook.baseUrl);
    if (!this.baseUrl.pathname.endsWith('/')) {
      // checkGlpiApiUrl guarantees this; relative resolution would silently drop "apirest.php".
      this.baseUrl.pathname = `${this.baseUrl.pathname}/`;
    }
    this.ownsDispatcher = deps.dispatcher === undefined;
    this.dispatcher =
      deps.dispatcher ?? createGlpiPool(hook.baseUrl, { timeoutMs: hook.timeoutMs, connectTimeoutMs: deps.connectTimeoutMs });
    this.pageSize = deps.pageSize ?? DEFAULT_PAGE_SIZE;
    this.session = new GlpiSession(
      () => this.login(),
      (token) => this.logout(token),
    );
  }

  // ---- session -------------------------------------------------------------------------------

  async ensureSession(): Promise<void> {
    await this.session.get();
  }

  get glpiVersion(): string | undefined {
    return this.version;
  }

  async killSession(): Promise<void> {
    await this.session.kill();
  }

  async close(): Promise<void> {
    try {
      await this.session.kill();
    } catch (err) {
      this.deps.logger?.warn({ hookId: this.hookId, code: errorCode(err) }, 'could not end the GLPI session');
    }
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async login(): Promise<string> {
    const endpoint = 'GET /initSession';
    const answer = await this.exchange({ method: 'GET', path: 'initSession', endpoint }, { kind: 'login' });
    const token = field(answer.json, 'session_token');
    if (typeof token !== 'string' || !SESSION_TOKEN_SHAPE.test(token)) {
      throw new GlpiError('GLPI_UNEXPECTED_RESPONSE', `GLPI ${endpoint} answered without a usable session_token`, {
        endpoint,
        status: answer.status,
      });
    }
    this.lastSessionToken = token;
    await this.learnVersion(token);
    this.deps.logger?.info({ hookId: this.hookId, glpiVersion: this.version ?? 'unknown' }, 'GLPI session opened');
    return token;
  }

  /**
   * GLPI's version, once per session, from `getGlpiConfig` (cfg_glpi.version; observed on 10.0.3
   * and 11.0.8, readable by any profile). It decides how search answers are decoded (see search),
   * so a failure keeps the version already known; an unknown version decodes like GLPI 10.
   */
  private async learnVersion(token: string): Promise<void> {
    const endpoint = 'GET /getGlpiConfig';
    try {
      const answer = await this.exchange({ method: 'GET', path: 'getGlpiConfig', endpoint }, { kind: 'session', token });
      const version = field(field(answer.json, 'cfg_glpi'), 'version');
      if (typeof version === 'string' && GLPI_VERSION_SHAPE.test(version)) {
        if (this.version !== undefined && this.version !== version) {
          this.deps.logger?.warn({ hookId: this.hookId, was: this.version, glpiVersion: version }, 'GLPI version changed (upgraded?)');
        }
        this.version = version;
        return;
      }
      this.deps.logger?.warn({ hookId: this.hookId, endpoint }, 'GLPI did not tell its version; decoding text as GLPI 10 does');
    } catch (err) {
      this.deps.logger?.warn(
        { hookId: this.hookId, endpoint, code: errorCode(err) },
        'could not read the GLPI version; decoding text as GLPI 10 does',
      );
    }
  }

  /**
   * GLPI 10 stores text HTML-encoded (`&#60;`, `&#38;`) and its search answers it that way even
   * with `X-GLPI-Sanitized-Content: false` (observed on 10.0.3, unlike item reads); GLPI 11 stores
   * and answers text as written. Decoding on 11 would turn a literal `&amp;` someone typed into `&`.
   */
  private get searchCellsEncoded(): boolean {
    return glpiMajor(this.version) < 11;
  }

  private async logout(token: string): Promise<void> {
    try {
      await this.exchange({ method: 'GET', path: 'killSession', endpoint: 'GET /killSession' }, { kind: 'session', token });
      this.deps.logger?.debug({ hookId: this.hookId }, 'GLPI session closed');
    } catch (err) {
      // Already gone (expired or killed elsewhere) is what we wanted anyway.
      if (!isGlpiError(err, 'ERROR_SESSION_TOKEN_INVALID')) throw err;
    }
  }

  /**
   * A call on the shared session. On ERROR_SESSION_TOKEN_INVALID (expired session) the session is
   * renewed once, single-flight, and the call replayed once; GLPI checks the session before doing
   * anything, so replaying even a POST cannot create twice. A second refusal is thrown, never looped.
   */
  private async call(original: Call): Promise<Answer> {
    const token = await this.session.get();
    // The version is known once a session is open; GLPI 10 needs some written text protected.
    const glpi10 = this.version !== undefined && glpiMajor(this.version) < 11;
    const call = original.json !== undefined && glpi10 ? { ...original, json: protectForGlpi10(original.json) } : original;
    try {
      return await this.exchange(call, { kind: 'session', token });
    } catch (err) {
      if (!isGlpiError(err, 'ERROR_SESSION_TOKEN_INVALID')) throw err;
      this.deps.logger?.info({ hookId: this.hookId, endpoint: call.endpoint }, 'GLPI session expired; opening a new one');
      const fresh = await this.session.renew(token);
      return this.exchange(call, { kind: 'session', token: fresh });
    }
  }

  // ---- items ---------------------------------------------------------------------------------

  async getItem(itemtype: ItemType, id: number): Promise<GlpiItem> {
    const endpoint = `GET /${itemtype}/:id`;
    const answer = await this.call({
      method: 'GET',
      path: `${itemtype}/${checkId(id)}`,
      query: new URLSearchParams({ get_hateoas: 'false' }),
      endpoint,
    });
    return asItem(answer.json, endpoint, answer.status);
  }

  async getSubItems(itemtype: ItemType, id: number, subtype: ItemType): Promise<GlpiItem[]> {
    return this.listAll(`${itemtype}/${checkId(id)}/${subtype}`, `GET /${itemtype}/:id/${subtype}`);
  }

  async listItems(itemtype: ItemType): Promise<GlpiItem[]> {
    return this.listAll(itemtype, `GET /${itemtype}`);
  }

  /** Every page of a list endpoint. */
  private async listAll(path: string, endpoint: string): Promise<GlpiItem[]> {
    const items: GlpiItem[] = [];
    let start = 0;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ get_hateoas: 'false', range: formatRange([start, start + this.pageSize - 1]) });
      let answer: Answer;
      try {
        answer = await this.call({ method: 'GET', path, query, endpoint });
      } catch (err) {
        // Items deleted between two pages: what we have is the whole list.
        if (start > 0 && isGlpiError(err, 'ERROR_RANGE_EXCEED_TOTAL')) break;
        throw err;
      }
      const list = asItemList(answer.json, endpoint, answer.status);
      items.push(...list);
      const range = parseContentRange(answer.headers['content-range']);
      if (list.length === 0 || range === undefined || range.end + 1 >= range.total) break;
      start = range.end + 1;
    }
    return items;
  }

  async listPage(itemtype: ItemType, options: ListPageOptions): Promise<{ items: GlpiItem[]; total: number }> {
    const endpoint = `GET /${itemtype}`;
    const query = new URLSearchParams({ get_hateoas: 'false', range: formatRange(options.range) });
    if (options.sort !== undefined) query.set('sort', options.sort);
    if (options.order !== undefined) query.set('order', options.order);
    for (const [key, value] of Object.entries(options.searchText ?? {})) query.set(`searchText[${key}]`, value);
    try {
      const answer = await this.call({ method: 'GET', path: itemtype, query, endpoint });
      const items = asItemList(answer.json, endpoint, answer.status);
      return { items, total: parseContentRange(answer.headers['content-range'])?.total ?? items.length };
    } catch (err) {
      // A page past the end (rows deleted while paging) is an empty page.
      if (options.range[0] > 0 && isGlpiError(err, 'ERROR_RANGE_EXCEED_TOTAL')) return { items: [], total: options.range[0] };
      throw err;
    }
  }

  async addItem(itemtype: ItemType, input: GlpiInput): Promise<{ id: number }> {
    const endpoint = `POST /${itemtype}`;
    const answer = await this.call({ method: 'POST', path: itemtype, endpoint, json: { input } });
    return { id: createdId(answer.json, endpoint, answer.status) };
  }

  async addItems(itemtype: ItemType, inputs: GlpiInput[]): Promise<{ id: number }[]> {
    if (inputs.length === 0) return [];
    const endpoint = `POST /${itemtype}`;
    // Partial failure is a 207 ERROR_GLPI_PARTIAL_ADD GlpiError carrying per-item `results`.
    const answer = await this.call({ method: 'POST', path: itemtype, endpoint, json: { input: inputs } });
    if (!Array.isArray(answer.json) || answer.json.length !== inputs.length) {
      throw unexpectedAnswer(endpoint, answer.status, `not a list of ${inputs.length} results`);
    }
    return answer.json.map((entry: unknown) => ({ id: createdId(entry, endpoint, answer.status) }));
  }

  async addSubItem(itemtype: ItemType, id: number, subtype: ItemType, input: GlpiInput): Promise<{ id: number }> {
    const endpoint = `POST /${itemtype}/:id/${subtype}`;
    const answer = await this.call({
      method: 'POST',
      path: `${itemtype}/${checkId(id)}/${subtype}`,
      endpoint,
      // GLPI does not fill the parent link from the URL (it answers ERROR_GLPI_ADD "permission").
      json: { input: withParentLink(itemtype, id, subtype, input) },
    });
    return { id: createdId(answer.json, endpoint, answer.status) };
  }

  async updateItem(itemtype: ItemType, id: number, input: GlpiInput): Promise<void> {
    const endpoint = `PUT /${itemtype}/:id`;
    const answer = await this.call({ method: 'PUT', path: `${itemtype}/${checkId(id)}`, endpoint, json: { input } });
    // 200 [{"<id>": true, "message": ""}]; a false flag is a refusal GLPI did not turn into a 400.
    const first: unknown = Array.isArray(answer.json) ? answer.json[0] : answer.json;
    if (field(first, String(id)) === false) {
      const message = field(first, 'message');
      throw glpiErrorFromBody('ERROR_GLPI_UPDATE', message, answer.status, endpoint, (t) => this.scrub(t));
    }
  }

  // ---- search --------------------------------------------------------------------------------

  async search(itemtype: ItemType, options: SearchOptions): Promise<SearchResult> {
    const endpoint = `GET /search/${itemtype}`;
    try {
      const answer = await this.call({ method: 'GET', path: `search/${itemtype}`, query: buildSearchQuery(options), endpoint });
      const result = parseSearchBody(answer.json, endpoint);
      return this.searchCellsEncoded ? { ...result, rows: result.rows.map(decodeRow) } : result;
    } catch (err) {
      // A page past the end (results shrank while paging) is an empty page, not a failure.
      if (isGlpiError(err, 'ERROR_RANGE_EXCEED_TOTAL') && (options.range?.[0] ?? 0) > 0) {
        const total = /(\d+)\s*$/.exec(err.glpiMessage ?? '');
        return { totalcount: total ? Number(total[1]) : 0, rows: [] };
      }
      throw err;
    }
  }

  // ---- documents -----------------------------------------------------------------------------

  async uploadDocument(file: UploadFile, input: GlpiInput): Promise<{ id: number }> {
    const endpoint = 'POST /Document';
    // GLPI overwrites _filename with the uploaded names but needs the key; _only_if_upload_succeed
    // stops it from creating an empty Document when the file is refused.
    const manifest = { input: { name: file.filename, ...input, _filename: [file.filename], _only_if_upload_succeed: 1 } };
    const answer = await this.call({ method: 'POST', path: 'Document', endpoint, multipart: buildMultipart(manifest, file) });
    const id = createdId(answer.json, endpoint, answer.status);
    const failure = uploadFailure(field(answer.json, 'upload_result'));
    if (failure !== undefined) {
      throw new GlpiError('GLPI_UPLOAD_FAILED', `GLPI created Document ${id} but refused the file: ${this.scrub(failure)}`, {
        endpoint,
        status: answer.status,
        glpiMessage: this.scrub(failure),
      });
    }
    return { id };
  }

  async downloadDocument(id: number, limits: { maxBytes: number; deadlineMs: number; signal?: AbortSignal }): Promise<DocumentDownload> {
    const token = await this.session.get();
    try {
      return await this.readDocument(id, token, limits);
    } catch (err) {
      if (!isGlpiError(err, 'ERROR_SESSION_TOKEN_INVALID')) throw err;
      return this.readDocument(id, await this.session.renew(token), limits);
    }
  }

  /**
   * The file itself (observed on 10.0.3 and 11.0.8: raw bytes, the document's MIME type and a
   * Content-Disposition with its name). Read as a stream and cut off past `maxBytes`, so a huge
   * document costs at most that much memory; an error answer is JSON and decoded as usual.
   */
  private async readDocument(id: number, token: string, limits: { maxBytes: number; deadlineMs: number; signal?: AbortSignal }): Promise<DocumentDownload> {
    const endpoint = 'GET /Document/:id (file)';
    const url = new URL(`Document/${checkId(id)}`, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/octet-stream', 'session-token': token, 'user-agent': 'chatwoot-glpi-bridge' };
    if (this.hook.appToken !== undefined) headers['app-token'] = this.hook.appToken;
    const deadline = AbortSignal.timeout(limits.deadlineMs);
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname,
        method: 'GET',
        headers,
        headersTimeout: limits.deadlineMs,
        bodyTimeout: limits.deadlineMs,
        signal: limits.signal ? AbortSignal.any([deadline, limits.signal]) : deadline,
      });
    } catch (err) {
      this.observe(endpoint, 'network-error', started);
      throw this.networkError(err, endpoint);
    }
    this.observe(endpoint, response.statusCode, started);
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      this.interpret(endpoint, response.statusCode, response.headers, text);
      throw unexpectedAnswer(endpoint, response.statusCode, 'no file');
    }
    const declared = Number(response.headers['content-length']);
    const drop = () => {
      response.body.on('error', () => undefined);
      response.body.destroy();
    };
    const filename = dispositionFilename(response.headers['content-disposition']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      drop();
      return { kind: 'too-large', bytes: declared, filename };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > limits.maxBytes) {
          drop();
          return { kind: 'too-large', bytes: Number.isFinite(declared) ? declared : undefined, filename };
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      throw this.networkError(err, endpoint);
    }
    const type = response.headers['content-type'];
    return {
      kind: 'file',
      data: Buffer.concat(chunks),
      contentType: typeof type === 'string' ? type : undefined,
      filename,
    };
  }

  // ---- doctor --------------------------------------------------------------------------------

  async getMyEntities(): Promise<{ id: number; name: string }[]> {
    const endpoint = 'GET /getMyEntities';
    const answer = await this.call({
      method: 'GET',
      path: 'getMyEntities',
      query: new URLSearchParams({ is_recursive: 'true' }),
      endpoint,
    });
    const list = field(answer.json, 'myentities');
    if (!Array.isArray(list)) throw unexpectedAnswer(endpoint, answer.status, 'no myentities');
    return list.flatMap((entry: unknown) => {
      const id = field(entry, 'id');
      const name = field(entry, 'name');
      return typeof id === 'number' ? [{ id, name: typeof name === 'string' ? name : String(id) }] : [];
    });
  }

  async getActiveProfile(): Promise<Record<string, unknown>> {
    const endpoint = 'GET /getActiveProfile';
    const answer = await this.call({ method: 'GET', path: 'getActiveProfile', endpoint });
    return asRecord(field(answer.json, 'active_profile'), endpoint, answer.status);
  }

  async getFullSession(): Promise<Record<string, unknown>> {
    const endpoint = 'GET /getFullSession';
    const answer = await this.call({ method: 'GET', path: 'getFullSession', endpoint });
    const session = { ...asRecord(field(answer.json, 'session'), endpoint, answer.status) };
    // The PHP session id is the session token: keep it out of anything doctor prints.
    delete session.valid_id;
    return session;
  }

  // ---- transport -----------------------------------------------------------------------------

  private async exchange(call: Call, credentials: Credentials): Promise<Answer> {
    const url = new URL(call.path, this.baseUrl);
    if (call.query !== undefined) url.search = call.query.toString();
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': call.multipart ? `multipart/form-data; boundary=${call.multipart.boundary}` : 'application/json',
      // GLPI 10 returns stored text HTML-encoded unless told not to (GLPI 11 ignores the header).
      'x-glpi-sanitized-content': 'false',
      'user-agent': 'chatwoot-glpi-bridge',
    };
    if (this.hook.appToken !== undefined) headers['app-token'] = this.hook.appToken;
    if (credentials.kind === 'login') headers.authorization = `user_token ${this.hook.userToken}`;
    else headers['session-token'] = credentials.token;

    const body = call.multipart ? call.multipart.data : call.json === undefined ? undefined : JSON.stringify(call.json);
    const started = performance.now();
    let status: number;
    let responseHeaders: IncomingHttpHeaders;
    let text: string;
    try {
      const response = await this.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: call.method,
        headers,
        body,
        headersTimeout: this.hook.timeoutMs,
        bodyTimeout: this.hook.timeoutMs,
        // Bounds the whole exchange; headers/body timeouts only bound the gaps between bytes.
        signal: AbortSignal.timeout(this.hook.timeoutMs),
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      text = await response.body.text();
    } catch (err) {
      this.observe(call.endpoint, 'network-error', started);
      throw this.networkError(err, call.endpoint);
    }
    this.observe(call.endpoint, status, started);
    return this.interpret(call.endpoint, status, responseHeaders, text);
  }

  private interpret(endpoint: string, status: number, headers: IncomingHttpHeaders, text: string): Answer {
    const json = parseJson(text);
    if (Array.isArray(json) && typeof json[0] === 'string' && /^ERROR/.test(json[0]) && (status >= 400 || status === 207)) {
      throw glpiErrorFromBody(json[0], json[1], status, endpoint, (t) => this.scrub(t));
    }
    if (status >= 200 && status < 300) {
      if (text.trim() === '') {
        throw new GlpiError('GLPI_EMPTY_RESPONSE', `GLPI ${endpoint} answered ${status} with an empty body`, { endpoint, status });
      }
      if (json === undefined) {
        throw new GlpiError(
          'GLPI_INVALID_RESPONSE',
          `GLPI ${endpoint} answered ${status} with a body that is not JSON: ${this.scrub(snippet(text))}`,
          { endpoint, status },
        );
      }
      return { status, headers, json };
    }
    if (status >= 300 && status < 400) {
      const location = typeof headers.location === 'string' ? stripQuery(headers.location) : 'elsewhere';
      throw new GlpiError('GLPI_REDIRECTED', `GLPI ${endpoint} answered ${status}, redirecting to ${location}`, { endpoint, status });
    }
    const code =
      status === 429 ? 'GLPI_RATE_LIMITED' : status >= 500 ? 'GLPI_SERVER_ERROR' : status === 404 ? 'GLPI_HTTP_NOT_FOUND' : status === 408 ? 'GLPI_TIMEOUT' : 'GLPI_HTTP_ERROR';
    const detail = text.trim() === '' ? '' : `: ${this.scrub(snippet(text))}`;
    throw new GlpiError(code, `GLPI ${endpoint} answered ${status}${detail}`, { endpoint, status });
  }

  private networkError(err: unknown, endpoint: string): GlpiError {
    const code = errorCode(err) ?? errorCode(causeOf(err));
    const name = err instanceof Error ? err.name : '';
    const reason = this.scrub(code ?? (err instanceof Error ? err.message : String(err)));
    if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new GlpiError('GLPI_TIMEOUT', `GLPI ${endpoint} did not answer within ${this.hook.timeoutMs} ms (${reason})`, {
        endpoint,
        cause: err,
      });
    }
    if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL/.test(code)) {
      return new GlpiError('GLPI_TLS_ERROR', `GLPI ${endpoint}: TLS failed (${reason})`, { endpoint, cause: err });
    }
    return new GlpiError('GLPI_NETWORK_ERROR', `GLPI ${endpoint} could not be reached (${reason})`, { endpoint, cause: err });
  }

  private observe(endpoint: string, status: number | 'network-error', started: number): void {
    const observer = this.deps.observer;
    if (observer === undefined) return;
    try {
      observer({ endpoint, status, durationMs: performance.now() - started });
    } catch (err) {
      // Metrics must never break a sync.
      this.deps.logger?.warn({ hookId: this.hookId, err }, 'GLPI call observer failed');
    }
  }

  private scrub(text: string): string {
    const secrets = [this.hook.userToken, this.hook.appToken, this.lastSessionToken].filter(
      (s): s is string => s !== undefined,
    );
    return scrubSecrets(text, secrets);
  }
}

// ---- helpers ---------------------------------------------------------------------------------

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
function decodeRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, cell] of Object.entries(row)) {
    out[key] = typeof cell === 'string' ? decodeEntities(cell) : Array.isArray(cell) ? cell.map((v: unknown) => (typeof v === 'string' ? decodeEntities(v) : v)) : cell;
  }
  return out;
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new GlpiError('GLPI_INVALID_ARGUMENT', `invalid GLPI id ${String(id)}`);
  }
  return id;
}

/** GLPI's foreign key for an itemtype: Ticket -> tickets_id, Entity -> entities_id. */
export function foreignKeyFor(itemtype: ItemType): string {
  const lower = itemtype.toLowerCase();
  return lower.endsWith('y') ? `${lower.slice(0, -1)}ies_id` : `${lower}s_id`;
}

/** Input of a sub-item with its parent link filled from the URL's parent (the URL wins). */
export function withParentLink(parent: ItemType, parentId: number, subtype: ItemType, input: GlpiInput): GlpiInput {
  if (POLYMORPHIC_CHILDREN.has(subtype)) return { ...input, itemtype: parent, items_id: parentId };
  return { ...input, [foreignKeyFor(parent)]: parentId };
}

export function parseContentRange(header: string | string[] | undefined): { start: number; end: number; total: number } | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^\s*(\d+)-(-?\d+)\/(\d+)\s*$/.exec(value);
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) };
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function asRecord(value: unknown, endpoint: string, status: number): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw unexpectedAnswer(endpoint, status, 'not an object');
  return value as Record<string, unknown>;
}

function asItem(value: unknown, endpoint: string, status: number): GlpiItem {
  const record = asRecord(value, endpoint, status);
  if (typeof record.id !== 'number') throw unexpectedAnswer(endpoint, status, 'an item without id');
  return record as GlpiItem;
}

function asItemList(value: unknown, endpoint: string, status: number): GlpiItem[] {
  if (!Array.isArray(value)) throw unexpectedAnswer(endpoint, status, 'not a list');
  return value.map((entry: unknown) => asItem(entry, endpoint, status));
}

function createdId(value: unknown, endpoint: string, status: number): number {
  const id = field(value, 'id');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw unexpectedAnswer(endpoint, status, 'a creation result without id');
  }
  return id;
}

function unexpectedAnswer(endpoint: string, status: number, what: string): GlpiError {
  return new GlpiError('GLPI_UNEXPECTED_RESPONSE', `GLPI ${endpoint} answered ${status} with ${what}`, { endpoint, status });
}

function uploadFailure(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  for (const files of Object.values(result)) {
    for (const file of Array.isArray(files) ? files : []) {
      const error = field(file, 'error');
      if (typeof error === 'string' && error !== '') return error;
    }
  }
  return undefined;
}

function buildMultipart(manifest: unknown, file: UploadFile): { boundary: string; data: Buffer } {
  const boundary = `----cgb-${randomUUID()}`;
  const headerSafe = (s: string) => s.replace(/[\r\n"\\]/g, '_');
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="uploadManifest"\r\nContent-Type: application/json\r\n\r\n` +
    `${JSON.stringify(manifest)}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="filename[0]"; filename="${headerSafe(file.filename)}"\r\n` +
    `Content-Type: ${headerSafe(file.contentType) || 'application/octet-stream'}\r\n\r\n`;
  return {
    boundary,
    data: Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(file.data), Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8')]),
  };
}

/** `filename*=utf-8''...` (RFC 6266) when present, else `filename="..."`; undefined without either. */
function dispositionFilename(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const extended = /filename\*\s*=\s*(?:utf-8|UTF-8)''([^;]+)/.exec(value);
  if (extended?.[1] !== undefined) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/.exec(value);
  return plain === null ? undefined : (plain[1] ?? plain[2] ?? '').trim();
}

function causeOf(err: unknown): unknown {
  return err instanceof Error ? err.cause : undefined;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}...` : flat;
}

function stripQuery(location: string): string {
  return location.replace(/[?#].*$/, '');
}
