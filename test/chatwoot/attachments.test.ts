import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentFetcher, publicOnlyLookup, type AttachmentDownload, type DownloadRequest, type LookupFn } from '../../src/chatwoot/attachments.js';
import type { ChatwootAttachment } from '../../src/chatwoot/events.js';
import { loadConfig } from '../../src/config/load.js';
import { JobAbortedError } from '../../src/errors/index.js';

const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

/** A local HTTP server that counts what reaches it. */
interface Local {
  server: Server;
  origin: string;
  port: number;
  hits: string[];
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Local> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, origin: `http://127.0.0.1:${port}`, port, hits };
}

const trickles = new Set<NodeJS.Timeout>();
let chatwoot: Local;
/** Stands for anything internal: a metadata service, an admin UI, Redis. */
let internal: Local;

beforeAll(async () => {
  internal = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret'));
  // ActiveStorage answers data_url with a redirect to the blob; the fetcher must follow it.
  chatwoot = await listen((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/rails/active_storage/blobs/redirect/')) {
      res.writeHead(302, { location: '/blob/capture-erreur.png' }).end();
    } else if (url === '/blob/capture-erreur.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    } else if (url === '/big.bin') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(4096));
    } else if (url === '/to-internal') {
      res.writeHead(302, { location: `${internal.origin}/latest/meta-data/` }).end();
    } else if (url === '/to-decimal') {
      res.writeHead(302, { location: `http://2130706433:${internal.port}/` }).end();
    } else if (url === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
    } else if (url === '/trickle') {
      // One byte every 2 s, for minutes: the gap between bytes never trips a body timeout.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        sent += 1;
        if (sent > 300) {
          clearInterval(timer);
          res.end();
        } else res.write('x');
      }, 2_000);
      trickles.add(timer);
      res.on('close', () => clearInterval(timer));
    } else if (url === '/reset') {
      // The connection dies before any answer.
      req.socket.destroy();
    } else if (url === '/silent') {
      // Never answers (headers never come).
    } else {
      res.writeHead(404).end();
    }
  });
});
afterAll(async () => {
  for (const t of trickles) clearInterval(t);
  chatwoot.server.closeAllConnections();
  await Promise.all([chatwoot, internal].map((l) => new Promise((resolve) => l.server.close(resolve))));
});

const hook = (env: Record<string, string> = {}) =>
  loadConfig({
    GLPI_API_URL: 'https://glpi.example.com/apirest.php',
    GLPI_USER_TOKEN: 't',
    CHATWOOT_WEBHOOK_SECRET: 'attachments-test-secret',
    CHATWOOT_BASE_URL: chatwoot.origin,
    ...env,
  }).hooks.get('default')!;

function attachment(url: string, extra: Partial<ChatwootAttachment> = {}): ChatwootAttachment {
  return {
    id: 5517, file_type: 'image', extension: 'png', content_type: 'image/png', data_url: url.startsWith('/') ? `${chatwoot.origin}${url}` : url,
    thumb_url: null, file_size: null, fallback_title: null, coordinates_lat: null, coordinates_long: null, ...extra,
  };
}

const request = (extra: Partial<DownloadRequest> = {}): DownloadRequest => ({ signal: new AbortController().signal, deadlineMs: 5_000, maxBytes: 1024, ...extra });

function refusal(download: AttachmentDownload): string | undefined {
  return 'refused' in download ? download.refused : undefined;
}

describe('attachment fetcher', () => {
  const fetcher = createAttachmentFetcher();
  afterAll(() => fetcher.close());

  it('follows the ActiveStorage redirect on the Chatwoot origin (a private address) and returns the file', async () => {
    const got = await fetcher.fetch(hook(), attachment('/rails/active_storage/blobs/redirect/abc--def/capture-erreur.png'), request());
    expect('file' in got && got.file.filename).toBe('capture-erreur.png');
    expect('file' in got && got.file.contentType).toBe('image/png');
    expect('file' in got && Buffer.from(got.file.data).equals(png)).toBe(true);
  });

  it('refuses files over the size limit (declared or discovered while downloading)', async () => {
    expect(refusal(await fetcher.fetch(hook(), attachment('/big.bin', { file_size: 4096 }), request()))).toBe('larger than 1 KB');
    expect(refusal(await fetcher.fetch(hook(), attachment('/big.bin'), request()))).toBe('larger than 1 KB');
  });

  it('turns an HTTP error into a reason', async () => {
    expect(refusal(await fetcher.fetch(hook(), attachment('/gone'), request()))).toBe('the server answered HTTP 404');
  });

  it('says in words why the connection failed, with its network code (never UNKNOWN)', async () => {
    expect(refusal(await fetcher.fetch(hook(), attachment('/reset'), request()))).toBe('the download failed: the server closed the connection (UND_ERR_SOCKET)');

    // A port nobody listens on any more (the Chatwoot origin is trusted, so the address is allowed).
    const gone = await listen(() => undefined);
    await new Promise((resolve) => gone.server.close(resolve));
    const closed = hook({ CHATWOOT_BASE_URL: gone.origin });
    const got = await fetcher.fetch(closed, attachment(`${gone.origin}/blob/x.png`), request());
    expect(refusal(got)).toBe('the download failed: the server refused the connection (ECONNREFUSED)');
    expect('detail' in got && got.detail).toMatch(/^http:\/\/127\.0\.0\.1:\d+: /);
  });

  it('fetches nothing for an unauthenticated hook, a non-http or a malformed URL', async () => {
    const open = hook({ CHATWOOT_WEBHOOK_SECRET: '', ALLOW_UNAUTHENTICATED: 'true' });
    expect(refusal(await fetcher.fetch(open, attachment('/blob/capture-erreur.png'), request()))).toMatch(/unauthenticated/);
    expect(refusal(await fetcher.fetch(hook(), attachment('file:///etc/passwd'), request()))).toBe('only http(s) links are fetched');
    expect(refusal(await fetcher.fetch(hook(), attachment('http://exa mple.com/%E0%A4%A'), request()))).toBe('the link is malformed');
  });

  it('bounds redirects', async () => {
    const before = chatwoot.hits.length;
    expect(refusal(await fetcher.fetch(hook(), attachment('/loop'), request()))).toBe('more than 5 redirects');
    expect(chatwoot.hits.length - before).toBe(6);
  });
});

describe('attachment fetcher: reaching inside (SSRF)', () => {
  const fetcher = createAttachmentFetcher();
  afterAll(() => fetcher.close());
  // Chatwoot is elsewhere: nothing on 127.0.0.1 is Chatwoot's.
  const remote = () => hook({ CHATWOOT_BASE_URL: 'https://chat.acme-it.example' });

  it.each([
    ['loopback', () => `${internal.origin}/`],
    ['localhost (resolved at connect time)', () => `http://localhost:${internal.port}/`],
    ['decimal IPv4 (2130706433 is 127.0.0.1)', () => `http://2130706433:${internal.port}/`],
    ['hex and short IPv4 forms', () => `http://0x7f.1:${internal.port}/`],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${internal.port}/`],
    ['0.0.0.0', () => `http://0.0.0.0:${internal.port}/`],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['Redis', () => 'http://127.0.0.1:6379/'],
  ])('refuses %s and contacts nothing', async (_name, url) => {
    const before = internal.hits.length;
    const got = await fetcher.fetch(remote(), attachment(url()), request());
    expect(got).toMatchObject({ refused: 'the link points to a private or reserved network address', hideLink: true });
    expect(internal.hits.length).toBe(before);
  });

  it('says in the log (not in GLPI) what a name resolved to', async () => {
    const got = await fetcher.fetch(remote(), attachment(`http://localhost:${internal.port}/`), request());
    expect('refused' in got && got.detail).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is not a public address$/);
  });

  it('re-checks every redirect hop: Chatwoot redirecting inside is refused', async () => {
    const before = internal.hits.length;
    for (const path of ['/to-internal', '/to-decimal']) {
      const got = await fetcher.fetch(hook(), attachment(path), request());
      expect(refusal(got)).toBe('the link points to a private or reserved network address');
    }
    expect(internal.hits.length).toBe(before);
  });

  it('checks the address it connects to, not the name (DNS rebinding)', async () => {
    const rebinding: LookupFn = (_host, options, callback) =>
      options.all === true ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
    const rebound = createAttachmentFetcher({ lookup: rebinding });
    try {
      const before = internal.hits.length;
      const got = await rebound.fetch(remote(), attachment(`http://files.attacker.example:${internal.port}/`), request());
      expect(refusal(got)).toBe('the link points to a private or reserved network address');
      expect(internal.hits.length).toBe(before);
    } finally {
      await rebound.close();
    }
  });

  it('fetches from a host listed in ATTACHMENT_ALLOWED_HOSTS even on a private address (object storage)', async () => {
    const storage = remote();
    const allowed = hook({ CHATWOOT_BASE_URL: 'https://chat.acme-it.example', ATTACHMENT_ALLOWED_HOSTS: `localhost:${chatwoot.port}` });
    expect(refusal(await fetcher.fetch(storage, attachment(`http://localhost:${chatwoot.port}/blob/capture-erreur.png`), request()))).toBeDefined();
    const got = await fetcher.fetch(allowed, attachment(`http://localhost:${chatwoot.port}/blob/capture-erreur.png`), request());
    expect('file' in got && Buffer.from(got.file.data).equals(png)).toBe(true);
  });
});

describe('publicOnlyLookup (the connect-time check)', () => {
  const resolver = (addresses: string[]): LookupFn => (_host, _options, callback) =>
    callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  const run = (addresses: string[], all: boolean) =>
    new Promise<{ err: Error | null; address: unknown }>((resolve) =>
      publicOnlyLookup(resolver(addresses))('files.example', { all }, (err, address) => resolve({ err, address })),
    );

  it('passes public answers through, in the shape net.connect asked for', async () => {
    expect(await run(['93.184.216.34', '2606:2800:220:1::1'], true)).toEqual({ err: null, address: [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }] });
    expect(await run(['93.184.216.34'], false)).toEqual({ err: null, address: '93.184.216.34' });
  });

  it('refuses the name when any answer is not public', async () => {
    const { err } = await run(['93.184.216.34', '10.0.0.7'], true);
    expect(err?.message).toBe('files.example resolves to 10.0.0.7, which is not a public address');
  });
});

describe('attachment fetcher: stalling', () => {
  it('cuts a download that trickles a byte every 2 s at its overall deadline', async () => {
    const fetcher = createAttachmentFetcher();
    try {
      const got = await fetcher.fetch(hook(), attachment('/trickle'), request({ deadlineMs: 300 }));
      expect(refusal(got)).toBe('the download took more than 0.3 s');
      const silent = await fetcher.fetch(hook(), attachment('/silent'), request({ deadlineMs: 300 }));
      expect(refusal(silent)).toMatch(/took more than/);
    } finally {
      await fetcher.close();
    }
  }, 15_000);

  it("the job's abort and close() end a download at once and hand the job back instead of refusing", async () => {
    const fetcher = createAttachmentFetcher();
    const job = new AbortController();
    const aborted = fetcher.fetch(hook(), attachment('/trickle'), request({ signal: job.signal, deadlineMs: 600_000 }));
    setTimeout(() => job.abort('lock lost'), 50);
    await expect(aborted).rejects.toBeInstanceOf(JobAbortedError);

    const inFlight = fetcher.fetch(hook(), attachment('/trickle'), request({ deadlineMs: 600_000 }));
    const inFlightOutcome = expect(inFlight).rejects.toBeInstanceOf(JobAbortedError);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fetcher.close();
    await inFlightOutcome;
    await expect(fetcher.fetch(hook(), attachment('/blob/capture-erreur.png'), request())).rejects.toBeInstanceOf(JobAbortedError);
  }, 15_000);
});
