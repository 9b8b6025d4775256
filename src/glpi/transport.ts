import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from 'undici';
import type { GlpiHookConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import { GlpiError, networkFailure } from '../errors/index.js';
import { scrubSecrets } from '../logger.js';
import { glpiErrorFromBody } from './error-body.js';
import { dispositionFilename, unexpectedAnswer } from './answers.js';
import type { DocumentDownload, GlpiCallObserver } from './types.js';

export interface DownloadLimits {
  maxBytes: number;
  deadlineMs: number;
  signal?: AbortSignal;
}

/**
 * One HTTP exchange with GLPI's REST API: headers and credentials out, the answer decoded into
 * JSON or a typed GlpiError back (GLPI's `["ERROR_…", "message"]` bodies, HTTP statuses, network
 * failures and timeouts), every call reported to the observer. Sessions live in the client.
 */

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Call {
  method: HttpMethod;
  /** Relative to the base URL, no leading slash (a leading slash would drop `apirest.php`). */
  path: string;
  query?: URLSearchParams;
  /** Template for metrics and errors, e.g. "POST /Ticket/:id/ITILFollowup". */
  endpoint: string;
  json?: unknown;
  /** An encoded multipart/form-data body and its content type (with the boundary). */
  multipart?: { contentType: string; data: Uint8Array };
}

type Credentials = { kind: 'session'; token: string } | { kind: 'login' };

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: unknown;
}

export type GlpiClientHook = GlpiHookConfig & { hookId: string };

interface TransportDeps {
  dispatcher: Dispatcher;
  observer?: GlpiCallObserver;
  logger?: Logger;
  /** The session token in use, so error texts never echo it. */
  sessionToken: () => string | undefined;
}

/** A default keep-alive Pool for one GLPI origin (shared by hooks on the same GLPI via the registry). */
export function createGlpiPool(baseUrl: string, options: { timeoutMs: number }): Pool {
  return new Pool(new URL(baseUrl).origin, {
    connections: DEFAULTS.glpiClient.poolConnections,
    keepAliveTimeout: DEFAULTS.glpiClient.keepAliveTimeoutMs,
    connect: { timeout: DEFAULTS.glpiConnectTimeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
}

export class GlpiTransport {
  private readonly baseUrl: URL;

  constructor(
    private readonly hook: GlpiClientHook,
    private readonly deps: TransportDeps,
  ) {
    this.baseUrl = new URL(hook.baseUrl);
    if (!this.baseUrl.pathname.endsWith('/')) {
      // checkGlpiApiUrl guarantees this; relative resolution would silently drop "apirest.php".
      this.baseUrl.pathname = `${this.baseUrl.pathname}/`;
    }
  }

  async exchange(call: Call, credentials: Credentials): Promise<Answer> {
    const url = new URL(call.path, this.baseUrl);
    if (call.query !== undefined) url.search = call.query.toString();
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': call.multipart ? call.multipart.contentType : 'application/json',
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
      const response = await this.deps.dispatcher.request({
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

  /**
   * A document's file (observed on 10.0.3 and 11.0.8: raw bytes, the document's MIME type and a
   * Content-Disposition with its name). Read as a stream and cut off past `maxBytes`, so a huge
   * document costs at most that much memory; an error answer is JSON and decoded as usual.
   */
  async download(path: string, endpoint: string, token: string, limits: DownloadLimits): Promise<DocumentDownload> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/octet-stream', 'session-token': token, 'user-agent': 'chatwoot-glpi-bridge' };
    if (this.hook.appToken !== undefined) headers['app-token'] = this.hook.appToken;
    const deadline = AbortSignal.timeout(limits.deadlineMs);
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await this.deps.dispatcher.request({
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
    // Observed once the body is read (or dropped), as exchange does: the duration covers the file.
    const status = response.statusCode;
    if (status !== 200) {
      const text = await response.body.text().catch(() => '');
      this.observe(endpoint, status, started);
      this.interpret(endpoint, status, response.headers, text);
      throw unexpectedAnswer(endpoint, status, 'no file');
    }
    const declared = Number(response.headers['content-length']);
    const drop = () => {
      response.body.on('error', () => undefined);
      response.body.destroy();
      this.observe(endpoint, status, started);
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
      this.observe(endpoint, 'network-error', started);
      throw this.networkError(err, endpoint);
    }
    this.observe(endpoint, status, started);
    const type = response.headers['content-type'];
    return { kind: 'file', data: Buffer.concat(chunks), contentType: typeof type === 'string' ? type : undefined, filename };
  }

  /** Text safe to put in an error or a log: the hook's tokens and the session token replaced. */
  scrub(text: string): string {
    const secrets = [this.hook.userToken, this.hook.appToken, this.deps.sessionToken()].filter(
      (s): s is string => s !== undefined,
    );
    return scrubSecrets(text, secrets);
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
    const { kind, code } = networkFailure(err);
    const reason = this.scrub(code ?? (err instanceof Error ? err.message : String(err)));
    if (kind === 'timeout') {
      return new GlpiError('GLPI_TIMEOUT', `GLPI ${endpoint} did not answer within ${this.hook.timeoutMs} ms (${reason})`, {
        endpoint,
        cause: err,
      });
    }
    if (kind === 'tls') return new GlpiError('GLPI_TLS_ERROR', `GLPI ${endpoint}: TLS failed (${reason})`, { endpoint, cause: err });
    return new GlpiError('GLPI_NETWORK_ERROR', `GLPI ${endpoint} could not be reached (${reason})`, { endpoint, cause: err });
  }

  private observe(endpoint: string, status: number | 'network-error', started: number): void {
    const observer = this.deps.observer;
    if (observer === undefined) return;
    try {
      observer({ endpoint, status, durationMs: performance.now() - started });
    } catch (err) {
      // Metrics must never break a sync.
      this.deps.logger?.warn({ hookId: this.hook.hookId, err }, 'GLPI call observer failed');
    }
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}...` : flat;
}

function stripQuery(location: string): string {
  return location.replace(/[?#].*$/, '');
}
