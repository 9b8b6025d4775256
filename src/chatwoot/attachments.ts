import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, request, type Dispatcher } from 'undici';
import type { ChatwootAttachment } from './events.js';
import { ipLiteral, isPublicAddress } from './address-policy.js';
import type { AttachmentPolicy, HookConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import { AddressRefusedError, JobAbortedError, errorCode, hasCode } from '../errors/index.js';
import type { UploadFile } from '../glpi/types.js';
import { humanBytes } from '../util/bytes.js';
import { safeDecode, safeHref } from '../util/html.js';

/**
 * A download either brings the file or says, in words a GLPI technician can read, why the file
 * stays a link. `hideLink`: the link itself points somewhere the bridge refused to go (an
 * internal address); the followup then names the file without making it clickable.
 */
export type AttachmentDownload = { file: UploadFile } | AttachmentRefusal;

interface AttachmentRefusal {
  refused: string;
  hideLink?: boolean;
  /** For the bridge's log only, never written to GLPI: where it happened (origin, resolved address). */
  detail?: string;
}

export interface DownloadRequest {
  /** The job's signal (lock lost, worker stopping): aborting it hands the job back. */
  signal: AbortSignal;
  /** Whole download, redirects included. */
  deadlineMs: number;
  maxBytes: number;
}

/** `dns.lookup`'s shape, as net.connect calls it (with `all: true` when it tries several families). */
export type LookupFn = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

interface AttachmentFetcherOptions {
  /** Tests inject a MockAgent (it has no connect step, so only URL literals are checked then). */
  dispatcher?: Dispatcher;
  /** Tests inject a resolver to play DNS rebinding. */
  lookup?: LookupFn;
  maxRedirects?: number;
  connectTimeoutMs?: number;
}

export interface AttachmentFetcher {
  fetch(hook: HookConfig, attachment: ChatwootAttachment, request: DownloadRequest): Promise<AttachmentDownload>;
  /** Aborts downloads in flight (their jobs are handed back) and refuses new ones: shutdown never waits on a file. */
  close(): Promise<void>;
}

const PRIVATE_REASON = 'the link points to a private or reserved network address';

/**
 * Resolves like dns.lookup and refuses the connection when any answer is not public. Checking
 * here, at connect time, is what defeats DNS rebinding: the address judged is the one dialled.
 */
export function publicOnlyLookup(resolve: LookupFn = dnsLookup): LookupFn {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = Array.isArray(addresses) ? addresses : [{ address: addresses, family: ipLiteral(addresses)?.includes(':') ? 6 : 4 }];
      const refused = list.find((a) => !isPublicAddress(a.address));
      if (refused !== undefined || list.length === 0) {
        return callback(new AddressRefusedError(hostname, refused?.address ?? 'nothing'), '');
      }
      if (options.all === true) return callback(null, list);
      const first = list[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}

/** Chatwoot's own origin and the listed hosts may sit on the private network; nothing else may. */
function isTrusted(url: URL, policy: AttachmentPolicy): boolean {
  if (url.origin === policy.chatwootOrigin) return true;
  return policy.allowedHosts.some((entry) => entry === url.host || entry === url.hostname);
}

/** The lookup's refusal, however deep undici wrapped it. */
function addressRefusal(err: unknown): Error | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth += 1) {
    if (hasCode(e, 'ATTACHMENT_ADDRESS_REFUSED')) return e as Error;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Drops a body we will not read; undici reports the destroy as an error nobody needs to hear. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Downloads a Chatwoot attachment so it can become a GLPI Document. `data_url` is an ActiveStorage
 * redirect (to the app or to object storage), so redirects are followed, here, one hop at a time,
 * each hop judged on its own host. A customer controls the attachment (and on some channels its
 * URL), so every way this can go wrong ends as a refusal reason, never as an error of the job;
 * only the job's own abort (and close()) throws, so the job is handed back instead of posting a
 * followup that says "refused" about a file nobody refused.
 */
/**
 * Whether a link may be written into GLPI as clickable, judged without a network call (the ticket
 * description is written before any download): a link to a private or reserved address literal
 * (or `localhost`) outside Chatwoot's origin and the allowed hosts is named, never linked, as the
 * followups do after a refused download.
 */
export function linkRefusal(dataUrl: string | null | undefined, policy: AttachmentPolicy): { refused: string; hideLink: true } | undefined {
  if (typeof dataUrl !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(dataUrl);
  } catch {
    return undefined; // not a link at all: safeHref keeps it as text
  }
  if (isTrusted(url, policy)) return undefined;
  const host = url.hostname.toLowerCase();
  // `localhost` too: the description cannot wait for the connect-time check a download gets.
  return isPrivateLiteral(url) || host === 'localhost' || host.endsWith('.localhost') ? { refused: PRIVATE_REASON, hideLink: true } : undefined;
}

/** The host is an IP literal outside public unicast (decimal, octal and hex forms parse to one). */
function isPrivateLiteral(url: URL): boolean {
  const literal = ipLiteral(url.hostname);
  return literal !== undefined && !isPublicAddress(literal);
}

export function createAttachmentFetcher(options: AttachmentFetcherOptions = {}): AttachmentFetcher {
  const maxRedirects = options.maxRedirects ?? DEFAULTS.attachments.maxRedirects;
  const timeout = options.connectTimeoutMs ?? DEFAULTS.attachments.connectTimeoutMs;
  const trusted = options.dispatcher ?? new Agent({ connect: { timeout } });
  const publicOnly = options.dispatcher ?? new Agent({ connect: { timeout, lookup: publicOnlyLookup(options.lookup) } });
  const closing = new AbortController();

  async function download(
    hook: HookConfig,
    attachment: ChatwootAttachment,
    req: DownloadRequest,
    signal: AbortSignal,
    at: { origin?: string },
  ): Promise<AttachmentDownload> {
    let url: URL;
    try {
      url = new URL(attachment.data_url ?? '');
    } catch {
      return { refused: 'the link is malformed', hideLink: true };
    }
    for (let hop = 0; ; hop += 1) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { refused: 'only http(s) links are fetched', hideLink: true };
      at.origin = url.origin;
      const trustedHop = isTrusted(url, hook.attachments);
      // net.connect does not look IP literals up, so the connect-time check never sees them.
      if (!trustedHop && isPrivateLiteral(url)) return { refused: PRIVATE_REASON, hideLink: true };
      const res = await request(url, {
        method: 'GET',
        dispatcher: trustedHop ? trusted : publicOnly,
        signal,
        headersTimeout: req.deadlineMs,
        bodyTimeout: req.deadlineMs,
      });
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
        discard(res.body);
        if (hop >= maxRedirects) return { refused: `more than ${maxRedirects} redirects` };
        try {
          url = new URL(location, url);
        } catch {
          return { refused: 'the server redirected to a malformed link' };
        }
        continue;
      }
      if (res.statusCode !== 200) {
        discard(res.body);
        return { refused: `the server answered HTTP ${res.statusCode}` };
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > req.maxBytes) {
        discard(res.body);
        return { refused: `larger than ${humanBytes(req.maxBytes)}` };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > req.maxBytes) {
          discard(res.body);
          return { refused: `larger than ${humanBytes(req.maxBytes)}` };
        }
        chunks.push(chunk as Buffer);
      }
      const header = res.headers['content-type'];
      const contentType = attachment.content_type ?? (typeof header === 'string' ? header.split(';')[0] : undefined) ?? 'application/octet-stream';
      return { file: { filename: attachmentName(attachment), contentType, data: Buffer.concat(chunks) } };
    }
  }

  return {
    async fetch(hook, attachment, req) {
      if (closing.signal.aborted || req.signal.aborted) throw new JobAbortedError(closing.signal.aborted ? 'attachment downloads stopped' : req.signal.reason);
      if (hook.chatwoot.webhookSecrets.length === 0 && hook.chatwoot.webhookToken === undefined) {
        return { refused: 'links from unauthenticated webhooks are not fetched' };
      }
      if (typeof attachment.file_size === 'number' && attachment.file_size > req.maxBytes) return { refused: `larger than ${humanBytes(req.maxBytes)}` };
      const deadline = AbortSignal.timeout(req.deadlineMs);
      const signal = AbortSignal.any([req.signal, closing.signal, deadline]);
      const at: { origin?: string } = {};
      try {
        const got = await download(hook, attachment, req, signal, at);
        return 'refused' in got ? { ...got, detail: at.origin } : got;
      } catch (err) {
        if (closing.signal.aborted) throw new JobAbortedError('attachment downloads stopped');
        if (req.signal.aborted) throw new JobAbortedError(req.signal.reason);
        const detail = `${at.origin ?? '?'}: ${(err as Error).message}`;
        if (deadline.aborted) return { refused: `the download took more than ${Number((req.deadlineMs / 1000).toFixed(1))} s`, detail };
        const refusal = addressRefusal(err);
        if (refusal !== undefined) return { refused: PRIVATE_REASON, hideLink: true, detail: refusal.message };
        return { refused: `the download failed: ${networkFailure(errorCode(err))}`, detail };
      }
    },
    async close() {
      closing.abort();
      if (options.dispatcher === undefined) await Promise.all([trusted.destroy(), publicOnly.destroy()]);
    },
  };
}

/** What an agent reads in the ticket for a connection-level failure; the code stays for whoever diagnoses it. */
const NETWORK_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the server refused the connection',
  ECONNRESET: 'the server closed the connection',
  UND_ERR_SOCKET: 'the server closed the connection',
  EPIPE: 'the server closed the connection',
  ENOTFOUND: "the server's name does not resolve",
  EAI_AGAIN: "the server's name could not be resolved for now",
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'the server did not answer in time',
  UND_ERR_BODY_TIMEOUT: 'the server stopped sending the file',
  EHOSTUNREACH: 'the server cannot be reached',
  ENETUNREACH: 'the server cannot be reached',
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's TLS certificate is not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's TLS certificate is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate is not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's TLS certificate is not trusted",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another name",
};

function networkFailure(code: string): string {
  if (code === 'UNKNOWN') return 'network error';
  const words = NETWORK_FAILURES[code];
  return words === undefined ? `network error (${code})` : `${words} (${code})`;
}

/** File name of an attachment as people see it (the last path segment of its URL). */
export function attachmentName(attachment: ChatwootAttachment): string {
  const href = safeHref(attachment.data_url);
  if (href !== undefined) {
    const last = safeDecode(new URL(href).pathname.split('/').pop() ?? '');
    if (last !== '' && !/^redirect$/i.test(last)) return last;
  }
  const ext = attachment.extension ? `.${attachment.extension}` : '';
  return `attachment-${attachment.id}${ext}`;
}
