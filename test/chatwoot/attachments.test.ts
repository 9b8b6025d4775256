import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentFetcher } from '../../src/chatwoot/attachments.js';
import type { ChatwootAttachment } from '../../src/chatwoot/events.js';
import { loadConfig } from '../../src/config/load.js';

const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
let server: Server;
let origin: string;

beforeAll(async () => {
  // ActiveStorage answers data_url with a redirect to the blob; the fetcher must follow it.
  server = createServer((req, res) => {
    if (req.url?.startsWith('/rails/active_storage/blobs/redirect/')) {
      res.writeHead(302, { location: '/blob/capture-erreur.png' }).end();
    } else if (req.url === '/blob/capture-erreur.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    } else if (req.url === '/big.bin') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(4096));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const hook = (env: Record<string, string> = {}) =>
  loadConfig({ GLPI_API_URL: 'https://glpi.example.com/apirest.php', GLPI_USER_TOKEN: 't', CHATWOOT_WEBHOOK_SECRET: 'attachments-test-secret', ...env }).hooks.get('default')!;

function attachment(path: string, extra: Partial<ChatwootAttachment> = {}): ChatwootAttachment {
  return {
    id: 5517, file_type: 'image', extension: 'png', content_type: 'image/png', data_url: `${origin}${path}`,
    thumb_url: null, file_size: null, fallback_title: null, coordinates_lat: null, coordinates_long: null, ...extra,
  };
}

describe('attachment fetcher', () => {
  const fetcher = createAttachmentFetcher({ maxBytes: 1024 });
  afterAll(() => fetcher.close());

  it('follows the ActiveStorage redirect and returns the file with its name and type', async () => {
    const file = await fetcher.fetch(hook(), attachment('/rails/active_storage/blobs/redirect/abc--def/capture-erreur.png'));
    expect(file?.filename).toBe('capture-erreur.png');
    expect(file?.contentType).toBe('image/png');
    expect(Buffer.from(file!.data).equals(png)).toBe(true);
  });

  it('leaves files over the size limit as links (declared or discovered while downloading)', async () => {
    expect(await fetcher.fetch(hook(), attachment('/big.bin', { file_size: 4096 }))).toBeUndefined();
    expect(await fetcher.fetch(hook(), attachment('/big.bin'))).toBeUndefined();
  });

  it('throws on an HTTP error so the caller keeps the link and logs why', async () => {
    await expect(fetcher.fetch(hook(), attachment('/gone'))).rejects.toThrow('HTTP 404');
  });

  it('fetches nothing for an unauthenticated hook or a non-http URL', async () => {
    const open = hook({ CHATWOOT_WEBHOOK_SECRET: '', ALLOW_UNAUTHENTICATED: 'true' });
    expect(await fetcher.fetch(open, attachment('/blob/capture-erreur.png'))).toBeUndefined();
    expect(await fetcher.fetch(hook(), { ...attachment('/x'), data_url: 'file:///etc/passwd' })).toBeUndefined();
  });
});
