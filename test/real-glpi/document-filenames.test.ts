import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGlpiClient, type GlpiClientHandle } from '../../src/glpi/client.js';
import { documentFileHeaders } from '../support/glpi-simulator/responses.js';
import { realGlpiEnv, type RealGlpiEnv } from './glpi-reader.js';

/**
 * Document names through a REAL GLPI (10.0.3 or 11.0.8, shared/real-glpi; `. /tmp/real-glpi-<version>/env`
 * first): each file is uploaded on a session of its own, with the multipart name escaped the way
 * PHP unescapes it (so `"` arrives as typed, which the bridge's upload does not send), then fetched
 * with the bridge's client, which must give the exact name back; the raw headers must be what the
 * simulator answers for that version. Skipped without GLPI_TEST_URL; everything created is purged.
 */
const target = realGlpiEnv();
const v11 = target?.version.startsWith('11.') === true;

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f80f00000101000518d84e0000000049454e44ae426082',
  'hex',
);
const FILES: { name: string; data: Buffer }[] = [
  { name: 'café "x".txt', data: Buffer.from('hello\n') },
  { name: "l'été (1)!.txt", data: Buffer.from('hello\n') },
  { name: '日本.txt', data: Buffer.from('hello\n') },
  { name: 'né日😀.txt', data: Buffer.from('hello\n') },
  { name: 'photo é.png', data: PNG },
  { name: 'r é.pdf', data: Buffer.from('%PDF-1.4\n%%EOF\n') },
];

/** The test's own raw API calls, independent of the client under test. */
async function openRaw(env: RealGlpiEnv) {
  const agent = new Agent({ connect: { timeout: 10_000 } });
  const send = async (method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, body?: Buffer) => {
    const res = await request(`${env.url}/${path}`, { method, dispatcher: agent, headers: { 'app-token': env.appToken, ...headers }, body, headersTimeout: 30_000, bodyTimeout: 30_000 });
    const data = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode >= 300) throw new Error(`GLPI ${method} ${path.split('?')[0]}: HTTP ${res.statusCode} ${data.toString('utf8').slice(0, 300)}`);
    return { headers: res.headers, data };
  };
  const session = JSON.parse((await send('GET', 'initSession', { authorization: `user_token ${env.userToken}` })).data.toString('utf8')) as { session_token: string };
  const auth = { 'session-token': session.session_token };
  return {
    async upload(name: string, data: Buffer): Promise<number> {
      const boundary = `----cgb${randomUUID()}`;
      const manifest = JSON.stringify({ input: { name, _filename: [name] } });
      // PHP's multipart parser unescapes \" and \\ inside a quoted filename.
      const quoted = name.replace(/[\\"]/g, (c) => `\\${c}`);
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="uploadManifest"\r\n\r\n${manifest}\r\n`),
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="filename[0]"; filename="${quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        data,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const res = await send('POST', 'Document', { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, body);
      return (JSON.parse(res.data.toString('utf8')) as { id: number }).id;
    },
    async row(id: number): Promise<{ filename: string; mime: string }> {
      return JSON.parse((await send('GET', `Document/${id}`, auth)).data.toString('utf8')) as { filename: string; mime: string };
    },
    async downloadHeaders(id: number) {
      return (await send('GET', `Document/${id}`, { ...auth, accept: 'application/octet-stream' })).headers;
    },
    async purge(id: number): Promise<void> {
      await send('DELETE', `Document/${id}?force_purge=1`, auth);
    },
    async close(): Promise<void> {
      await send('GET', 'killSession', auth).catch(() => undefined);
      await agent.close();
    },
  };
}

describe.skipIf(target === undefined)(
  target === undefined
    ? 'document names on download from a real GLPI (skipped: set GLPI_TEST_URL, GLPI_TEST_APP_TOKEN and GLPI_TEST_USER_TOKEN, e.g. `. /tmp/real-glpi-10.0.3/env`)'
    : `document names on download from real GLPI ${target.version}`,
  () => {
    const env = target as RealGlpiEnv;
    let raw: Awaited<ReturnType<typeof openRaw>>;
    let client: GlpiClientHandle;
    const created = new Map<string, number>();

    beforeAll(async () => {
      raw = await openRaw(env);
      client = createGlpiClient({
        hookId: 'filenames', baseUrl: `${env.url}/`, appToken: env.appToken, userToken: env.userToken, entityId: 0, syncType: 'user', ticketType: 1,
        categoryId: undefined, defaultUserId: undefined, timeoutMs: 30_000,
      });
      for (const file of FILES) created.set(file.name, await raw.upload(file.name, file.data));
    });

    afterAll(async () => {
      for (const id of created.values()) await raw?.purge(id).catch(() => undefined);
      await client?.close();
      await raw?.close();
    });

    it.each(FILES)('the client gets $name back, bytes unchanged', async ({ name, data }) => {
      const id = created.get(name)!;
      expect((await raw.row(id)).filename).toBe(name);
      const got = await client.downloadDocument(id, { maxBytes: 100_000, deadlineMs: 30_000 });
      expect(got).toMatchObject({ kind: 'file', filename: name });
      expect(got.kind === 'file' && Buffer.from(got.data).equals(data)).toBe(true);
    });

    it.each(FILES)('GLPI sends for $name the headers the simulator sends', async ({ name }) => {
      const id = created.get(name)!;
      const { mime } = await raw.row(id);
      const headers = await raw.downloadHeaders(id);
      const expected = Object.fromEntries(Object.entries(documentFileHeaders(name, mime, v11)).map(([k, v]) => [k.toLowerCase(), v.trim()]));
      expect({ 'content-disposition': headers['content-disposition'], 'content-type': headers['content-type'] }).toEqual(expected);
    });
  },
);
