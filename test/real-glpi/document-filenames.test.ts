import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGlpiClient, type GlpiClientHandle } from '../../src/glpi/client.js';
import { PNG_1PX, REFUSED_ONLY_IF_SUCCEED, UPLOADS, uploadBody, WEBP_1PX, type RecordedUpload } from '../glpi-simulator/recorded-uploads.js';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
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

const PNG = PNG_1PX;
const FILES: { name: string; data: Buffer }[] = [
  { name: 'café "x".txt', data: Buffer.from('hello\n') },
  { name: "l'été (1)!.txt", data: Buffer.from('hello\n') },
  { name: '日本.txt', data: Buffer.from('hello\n') },
  { name: 'né日😀.txt', data: Buffer.from('hello\n') },
  { name: 'photo é.png', data: PNG },
  { name: 'r é.pdf', data: Buffer.from('%PDF-1.4\n%%EOF\n') },
];

/** The test's own raw API calls, independent of the client under test; the same for the real GLPI and the simulator. */
async function openRaw(env: Pick<RealGlpiEnv, 'url' | 'appToken' | 'userToken'>) {
  const agent = new Agent({ connect: { timeout: 10_000 } });
  const exchange = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, headers: Record<string, string>, body?: Buffer) => {
    const res = await request(`${env.url.replace(/\/+$/, '')}/${path}`, { method, dispatcher: agent, headers: { 'app-token': env.appToken, ...headers }, body, headersTimeout: 30_000, bodyTimeout: 30_000 });
    return { status: res.statusCode, headers: res.headers, data: Buffer.from(await res.body.arrayBuffer()) };
  };
  const send = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, headers: Record<string, string>, body?: Buffer) => {
    const res = await exchange(method, path, headers, body);
    if (res.status >= 300) throw new Error(`GLPI ${method} ${path.split('?')[0]}: HTTP ${res.status} ${res.data.toString('utf8').slice(0, 300)}`);
    return res;
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
    /** POST /Document with a ready-made multipart body: the answer as is, whatever its status. */
    async postMultipart(upload: { body: Buffer; contentType: string }): Promise<{ status: number; json: unknown }> {
      const res = await exchange('POST', 'Document', { ...auth, 'content-type': upload.contentType }, upload.body);
      return { status: res.status, json: JSON.parse(res.data.toString('utf8')) as unknown };
    },
    /** The stored row, names unsanitized (10.0.3 honours the header; 11.0.8 stores them raw anyway). */
    async rawRow(id: number): Promise<{ filename: string | null; mime: string | null }> {
      return JSON.parse((await send('GET', `Document/${id}`, { ...auth, 'x-glpi-sanitized-content': 'false' })).data.toString('utf8')) as { filename: string | null; mime: string | null };
    },
    async rename(id: number, filename: string): Promise<void> {
      await send('PUT', `Document/${id}`, { ...auth, 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ input: { filename } })));
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

/** What one upload gave: the upload_result entry, the stored row, and the download's two headers. */
async function observeUpload(raw: Awaited<ReturnType<typeof openRaw>>, upload: RecordedUpload, created: number[]) {
  const answer = await raw.postMultipart(uploadBody(upload.quoted, upload.type, upload.data, { input: { name: upload.label, _filename: ['x'] } }));
  const json = answer.json as { id: number; upload_result: { filename: { error?: string | false; type: string }[] } };
  created.push(json.id);
  const result = json.upload_result.filename[0]!;
  const row = await raw.rawRow(json.id);
  // A name with control characters other than tab, CR and LF goes out raw in the header, which
  // undici refuses to parse (observed with \x01 and \x1a): not downloaded here.
  // eslint-disable-next-line no-control-regex
  const downloadable = row.filename !== null && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(row.filename);
  const headers = downloadable ? await raw.downloadHeaders(json.id) : undefined;
  return {
    status: answer.status,
    error: result.error === undefined ? undefined : result.error,
    type: result.type,
    stored: row.filename === null ? null : { filename: row.filename, mime: row.mime },
    download: headers && { disposition: headers['content-disposition'], type: headers['content-type'] },
  };
}

describe.skipIf(target === undefined)(
  target === undefined
    ? 'uploads on a real GLPI and on the simulator (skipped: set GLPI_TEST_URL, GLPI_TEST_APP_TOKEN and GLPI_TEST_USER_TOKEN)'
    : `uploads: real GLPI ${target.version} and its simulator store and serve the same`,
  () => {
    const env = target as RealGlpiEnv;
    let real: Awaited<ReturnType<typeof openRaw>>;
    let sim: GlpiSimulator;
    let simRaw: Awaited<ReturnType<typeof openRaw>>;
    const created: number[] = [];

    beforeAll(async () => {
      real = await openRaw(env);
      sim = await startGlpiSimulator({ appToken: 'sim-app-token', ...(v11 ? { version: '11.0.8' as const } : {}) });
      simRaw = await openRaw({ url: sim.url, appToken: 'sim-app-token', userToken: 'admin-user-token' });
    });

    afterAll(async () => {
      for (const id of created) await real?.purge(id).catch(() => undefined);
      await real?.close();
      await simRaw?.close();
      await sim?.close();
    });

    it.each(UPLOADS)('$label: as recorded, and the same on the simulator', async (upload) => {
      const got = await observeUpload(real, upload, created);
      const expected = (v11 ? undefined : upload.v10) ?? upload.stored;
      // 10.0.3 reports a file it refused as an image with `error: false` (the simulator's answer is compared exactly below).
      expect([got.status, got.error || undefined, got.stored]).toEqual(
        'error' in expected ? [201, expected.error || undefined, null] : [201, undefined, expected],
      );
      expect(await observeUpload(simRaw, upload, [])).toEqual(got);
    });

    it(".webp: what the version's document types say, the same on the simulator", async () => {
      const webp: RecordedUpload = { label: 'webp', quoted: 'w.webp', type: 'image/webp', data: WEBP_1PX, stored: { filename: 'w.webp', mime: 'image/webp' } };
      const got = await observeUpload(real, webp, created);
      expect(got.stored).toEqual(v11 ? { filename: 'w.webp', mime: 'image/webp' } : null);
      expect(await observeUpload(simRaw, webp, [])).toEqual(got);
    });

    it.each(REFUSED_ONLY_IF_SUCCEED)('$label with _only_if_upload_succeed: the same 400 ERROR_GLPI_ADD on the simulator', async (refused) => {
      const upload = uploadBody(refused.quoted, refused.type, refused.data, { input: { name: 'refused', _filename: ['x'], _only_if_upload_succeed: 1 } });
      const got = await real.postMultipart(upload);
      const simulated = await simRaw.postMultipart(upload);
      const shape = (answer: { status: number; json: unknown }) => {
        const [code, message] = answer.json as [string, string];
        // The 23-character random prefix and GLPI's directory differ; the rest must not.
        return [answer.status, code, message.replace(/\/\S*\/files\/_tmp\/[0-9a-f]+(?:\.\d+)?/, '<tmp>/')];
      };
      expect(shape(simulated)).toEqual(shape(got));
      expect(shape(got)).toEqual([400, 'ERROR_GLPI_ADD', v11 ? `File ${refused.quoted} not found.` : `File <tmp>/${refused.quoted} not found.`]);
    });

    it.each(['a\r\nX-Evil: 1.txt', 'lf\nonly.txt', 'cr\ronly.txt', 'tab\tx.txt', 'nul\u0000x.txt'])(
      'a stored name %j: the download headers are what the simulator sends',
      async (name) => {
        const upload: RecordedUpload = { label: 'renamed', quoted: 'plain.txt', type: 'text/plain', data: Buffer.from('hello\n'), stored: { filename: 'plain.txt', mime: 'text/plain' } };
        const answer = await real.postMultipart(uploadBody(upload.quoted, upload.type, upload.data, { input: { name: 'renamed', _filename: ['x'] } }));
        const id = (answer.json as { id: number }).id;
        created.push(id);
        await real.rename(id, name);
        expect((await real.rawRow(id)).filename).toBe(name);
        const headers = await real.downloadHeaders(id);
        const expected = Object.fromEntries(Object.entries(documentFileHeaders(name, 'text/plain', v11)).map(([k, v]) => [k.toLowerCase(), v.trim()]));
        expect({ 'content-disposition': headers['content-disposition'], 'content-type': headers['content-type'] }).toEqual({ 'content-disposition': undefined, ...expected });
      },
    );
  },
);
