import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { DEFAULTS } from '../config/defaults.js';
import { errorCode, GlpiError, isGlpiError } from '../errors/index.js';
import { field } from '../util/json.js';
import { asItem, asItemList, asRecord, createdId, parseContentRange, unexpectedAnswer, uploadFailure } from './answers.js';
import { glpiErrorFromBody } from './error-body.js';
import { GLPI_VERSION_SHAPE, decodeRow, glpiMajor, protectForGlpi10 } from './glpi-version.js';
import { checkId, encodeDocumentUpload, withParentLink } from './requests.js';
import { buildSearchQuery, formatRange, parseSearchBody } from './search.js';
import { GlpiSession } from './session.js';
import { createGlpiPool, GlpiTransport, type Answer, type Call, type DownloadLimits, type GlpiClientHook } from './transport.js';
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

/**
 * The GLPI REST client of one hook: a shared session (renewed once on expiry), item, search and
 * document calls, and the few session calls doctor uses. HTTP and answer decoding are in
 * transport.ts, answer shapes in answers.ts, what differs on GLPI 10 in glpi-version.ts.
 */

export type { GlpiClientHook } from './transport.js';

export interface GlpiClientDeps {
  /** undici dispatcher (tests: a MockAgent). Default: a keep-alive Pool for the GLPI origin, owned by the client. */
  dispatcher?: Dispatcher;
  observer?: GlpiCallObserver;
  logger?: Logger;
  /** Items per request when listing sub-items. */
  pageSize?: number;
}

export interface GlpiClientHandle extends GlpiClient {
  /** Kills the session and closes the dispatcher if the client created it. */
  close(): Promise<void>;
}

/**
 * Session tokens are opaque: GLPI 10 answers the 26-char PHP session id, GLPI 11.0.8 a 120-char
 * base64 string (`+`, `/`, `=`). The only requirement is that it travels safely in the
 * `Session-Token` header: visible ASCII, no spaces, quotes or control characters, bounded length.
 */
const SESSION_TOKEN_SHAPE = /^[\x21-\x7E]{1,1024}$/;

export function createGlpiClient(hook: GlpiClientHook, deps: GlpiClientDeps = {}): GlpiClientHandle {
  return new UndiciGlpiClient(hook, deps);
}

class UndiciGlpiClient implements GlpiClientHandle {
  readonly hookId: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly transport: GlpiTransport;
  private readonly session: GlpiSession;
  private readonly pageSize: number;
  private lastSessionToken: string | undefined;
  private version: string | undefined;

  constructor(
    hook: GlpiClientHook,
    private readonly deps: GlpiClientDeps,
  ) {
    this.hookId = hook.hookId;
    this.ownsDispatcher = deps.dispatcher === undefined;
    this.dispatcher =
      deps.dispatcher ?? createGlpiPool(hook.baseUrl, { timeoutMs: hook.timeoutMs });
    this.transport = new GlpiTransport(hook, {
      dispatcher: this.dispatcher,
      observer: deps.observer,
      logger: deps.logger,
      sessionToken: () => this.lastSessionToken,
    });
    this.pageSize = deps.pageSize ?? DEFAULTS.glpiClient.pageSize;
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
    const answer = await this.transport.exchange({ method: 'GET', path: 'initSession', endpoint }, { kind: 'login' });
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
      const answer = await this.transport.exchange({ method: 'GET', path: 'getGlpiConfig', endpoint }, { kind: 'session', token });
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
      await this.transport.exchange({ method: 'GET', path: 'killSession', endpoint: 'GET /killSession' }, { kind: 'session', token });
      this.deps.logger?.debug({ hookId: this.hookId }, 'GLPI session closed');
    } catch (err) {
      // Already gone (expired or killed elsewhere) is what we wanted anyway.
      if (!isGlpiError(err, 'ERROR_SESSION_TOKEN_INVALID')) throw err;
    }
  }

  /** A call on the shared session (see withSession). */
  private async call(original: Call): Promise<Answer> {
    return this.withSession(original.endpoint, (token) => {
      // The version is known once a session is open; GLPI 10 needs some written text protected.
      const glpi10 = this.version !== undefined && glpiMajor(this.version) < 11;
      const call = original.json !== undefined && glpi10 ? { ...original, json: protectForGlpi10(original.json) } : original;
      return this.transport.exchange(call, { kind: 'session', token });
    });
  }

  /**
   * A request on the shared session. On ERROR_SESSION_TOKEN_INVALID (expired session) the session
   * is renewed once, single-flight, and the request replayed once; GLPI checks the session before
   * doing anything, so replaying even a POST cannot create twice. A second refusal is thrown, never looped.
   */
  private async withSession<T>(endpoint: string, send: (token: string) => Promise<T>): Promise<T> {
    const token = await this.session.get();
    try {
      return await send(token);
    } catch (err) {
      if (!isGlpiError(err, 'ERROR_SESSION_TOKEN_INVALID')) throw err;
      this.deps.logger?.info({ hookId: this.hookId, endpoint }, 'GLPI session expired; opening a new one');
      return send(await this.session.renew(token));
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
    for (let page = 0; page < DEFAULTS.glpiClient.maxPages; page += 1) {
      const query = new URLSearchParams({ get_hateoas: 'false', range: formatRange([start, start + this.pageSize - 1]) });
      const { list, range } = await this.listRange(path, endpoint, query, start);
      items.push(...list);
      if (list.length === 0 || range === undefined || range.end + 1 >= range.total) break;
      start = range.end + 1;
    }
    return items;
  }

  async listPage(itemtype: ItemType, options: ListPageOptions): Promise<{ items: GlpiItem[]; total: number }> {
    const query = new URLSearchParams({ get_hateoas: 'false', range: formatRange(options.range) });
    if (options.sort !== undefined) query.set('sort', options.sort);
    if (options.order !== undefined) query.set('order', options.order);
    for (const [key, value] of Object.entries(options.searchText ?? {})) query.set(`searchText[${key}]`, value);
    const [first, last] = options.range;
    const { list, range } = await this.listRange(itemtype, `GET /${itemtype}`, query, first);
    if (range !== undefined) return { items: list, total: range.total };
    // Without Content-Range GLPI does not say where the list ends. A short page is the end; after a
    // full one the total is only known to be larger, and is answered as one row more so that a
    // caller keeps paging instead of stopping at the first page.
    const full = list.length >= last - first + 1;
    return { items: list, total: first + list.length + (full ? 1 : 0) };
  }

  /**
   * One page of a list endpoint. A page that starts past the end (rows deleted while paging) is
   * an empty page, not an error: GLPI answers it with ERROR_RANGE_EXCEED_TOTAL.
   */
  private async listRange(path: string, endpoint: string, query: URLSearchParams, start: number): Promise<{ list: GlpiItem[]; range: ReturnType<typeof parseContentRange> }> {
    try {
      const answer = await this.call({ method: 'GET', path, query, endpoint });
      return { list: asItemList(answer.json, endpoint, answer.status), range: parseContentRange(answer.headers['content-range']) };
    } catch (err) {
      if (start > 0 && isGlpiError(err, 'ERROR_RANGE_EXCEED_TOTAL')) return { list: [], range: undefined };
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
      throw glpiErrorFromBody('ERROR_GLPI_UPDATE', message, answer.status, endpoint, (t) => this.transport.scrub(t));
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
    const answer = await this.call({ method: 'POST', path: 'Document', endpoint, multipart: await encodeDocumentUpload(manifest, file) });
    const id = createdId(answer.json, endpoint, answer.status);
    const failure = uploadFailure(field(answer.json, 'upload_result'));
    if (failure !== undefined) {
      throw new GlpiError('GLPI_UPLOAD_FAILED', `GLPI created Document ${id} but refused the file: ${this.transport.scrub(failure)}`, {
        endpoint,
        status: answer.status,
        glpiMessage: this.transport.scrub(failure),
      });
    }
    return { id };
  }

  async downloadDocument(id: number, limits: DownloadLimits): Promise<DocumentDownload> {
    const path = `Document/${checkId(id)}`;
    const endpoint = 'GET /Document/:id (file)';
    return this.withSession(endpoint, (token) => this.transport.download(path, endpoint, token, limits));
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
}
