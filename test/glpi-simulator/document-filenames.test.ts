/**
 * Content-Disposition and Content-type of a Document download, as recorded on the real 10.0.3 and
 * 11.0.8 (2026-12-01: documents uploaded through the API under these names, then
 * `GET Document/:id` with `Accept: application/octet-stream`). The quoted name is Latin-1 on the
 * wire; undici reads header bytes as Latin-1, so `\xe9` below is the byte 0xE9 GLPI sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispositionFilename } from '../../src/glpi/answers.js';
import { createGlpiClient } from '../../src/glpi/client.js';
import { startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { REFUSED_ONLY_IF_SUCCEED, UPLOADS, uploadBody, WEBP_1PX } from './recorded-uploads.js';
import { APP_TOKEN, ADMIN, call, login } from './support.js';

interface Recorded {
  name: string;
  mime: string;
  type: string;
  '10.0.3': string;
  '11.0.8': string;
}

const RECORDED: Recorded[] = [
  {
    name: 'café "x".txt',
    mime: 'text/plain',
    type: 'text/plain;charset=UTF-8',
    '10.0.3': `attachment; filename="caf\xe9 \\"x\\".txt"; filename*=utf-8''caf%C3%A9%20%22x%22.txt`,
    '11.0.8': `attachment; filename="caf\xe9 \\"x\\".txt"; filename*=utf-8''caf%C3%A9%20%22x%22.txt`,
  },
  {
    name: "l'été (1)!.txt",
    mime: 'text/plain',
    type: 'text/plain;charset=UTF-8',
    '10.0.3': `attachment; filename="l\\'\xe9t\xe9 (1)!.txt"; filename*=utf-8''l%27%C3%A9t%C3%A9%20%281%29%21.txt`,
    '11.0.8': `attachment; filename="l\\'\xe9t\xe9 (1)!.txt"; filename*=utf-8''l%27%C3%A9t%C3%A9%20%281%29%21.txt`,
  },
  {
    name: '日本.txt',
    mime: 'text/plain',
    type: 'text/plain;charset=UTF-8',
    '10.0.3': `attachment; filename=""; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt`,
    '11.0.8': `attachment; filename="??.txt"; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt`,
  },
  {
    name: 'né日😀.txt',
    mime: 'text/plain',
    type: 'text/plain;charset=UTF-8',
    '10.0.3': `attachment; filename=""; filename*=utf-8''n%C3%A9%E6%97%A5%F0%9F%98%80.txt`,
    '11.0.8': `attachment; filename="n\xe9??.txt"; filename*=utf-8''n%C3%A9%E6%97%A5%F0%9F%98%80.txt`,
  },
  {
    name: 'plain name.txt',
    mime: 'text/plain',
    type: 'text/plain;charset=UTF-8',
    '10.0.3': `attachment; filename="plain name.txt"; filename*=utf-8''plain%20name.txt`,
    '11.0.8': `attachment; filename="plain name.txt"; filename*=utf-8''plain%20name.txt`,
  },
  {
    name: 'photo é.png',
    mime: 'image/png',
    type: 'image/png',
    '10.0.3': `filename="photo \xe9.png"; filename*=utf-8''photo%20%C3%A9.png`,
    '11.0.8': `filename="photo \xe9.png"; filename*=utf-8''photo%20%C3%A9.png`,
  },
  {
    name: 'r é.pdf',
    mime: 'application/pdf',
    type: 'application/pdf',
    '10.0.3': `filename="r \xe9.pdf"; filename*=utf-8''r%20%C3%A9.pdf`,
    '11.0.8': `filename="r \xe9.pdf"; filename*=utf-8''r%20%C3%A9.pdf`,
  },
  {
    name: 's.svg',
    mime: 'image/svg+xml',
    type: 'image/svg+xml',
    '10.0.3': `attachment; filename="s.svg"; filename*=utf-8''s.svg`,
    '11.0.8': `attachment; filename="s.svg"; filename*=utf-8''s.svg`,
  },
];

const VERSIONS = ['10.0.3', '11.0.8'] as const;

describe('dispositionFilename on the headers real GLPI sends', () => {
  for (const version of VERSIONS) {
    it.each(RECORDED)(`recovers $name from ${version}'s header`, (recorded) => {
      expect(dispositionFilename(recorded[version])).toBe(recorded.name);
    });
  }
});

describe.each(VERSIONS)('GLPI %s simulator: Document uploads and download headers', (version) => {
  let sim: GlpiSimulator;
  let token: string;

  beforeAll(async () => {
    sim = await startGlpiSimulator({ appToken: APP_TOKEN, ...(version === '11.0.8' ? { version } : {}) });
    token = await login(sim);
  });

  afterAll(async () => {
    await sim?.close();
  });

  async function documentNamed(name: string, mime: string): Promise<number> {
    const boundary = '----simtest';
    const manifest = JSON.stringify({ input: { name: 'upload', _filename: ['upload.txt'] } });
    const body = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="uploadManifest"\r\n\r\n${manifest}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="filename[0]"; filename="upload.txt"\r\nContent-Type: ${mime}\r\n\r\nhello\r\n--${boundary}--\r\n`,
    );
    const res = await call(sim, 'POST', 'Document', { session: token, body, contentType: `multipart/form-data; boundary=${boundary}` });
    const id = (res.json as { id: number }).id;
    // Name and MIME type exactly as recorded (an upload would take the MIME type from the bytes), so set them here.
    Object.assign(sim.state.documents.find((d) => d.id === id)!, { filename: name, mime });
    return id;
  }

  it.each(RECORDED)('answers $name as recorded, byte for byte', async (recorded) => {
    const id = await documentNamed(recorded.name, recorded.mime);
    const res = await call(sim, 'GET', `Document/${id}`, { session: token, headers: { accept: 'application/octet-stream' } });
    expect([res.status, res.headers['content-disposition'], res.headers['content-type'], res.text]).toEqual([200, recorded[version], recorded.type, 'hello']);
  });

  it('inlines images other than SVG and PDFs only (10.0.3 compares the type case-sensitively, 11.0.8 does not)', async () => {
    const disposition = async (mime: string) => {
      const id = await documentNamed('f.bin', mime);
      const res = await call(sim, 'GET', `Document/${id}?alt=media`, { session: token });
      return String(res.headers['content-disposition']).startsWith('attachment;') ? 'attachment' : 'inline';
    };
    expect(await disposition('image/jpeg')).toBe('inline');
    expect(await disposition('application/pdf')).toBe('inline');
    expect(await disposition('image/svg+xml')).toBe('attachment');
    expect(await disposition('text/html')).toBe('attachment');
    expect(await disposition('application/octet-stream')).toBe('attachment');
    expect(await disposition('IMAGE/PNG')).toBe(version === '11.0.8' ? 'inline' : 'attachment');
  });

  it('escapes a backslash and a quote with addslashes; a name with a line break gets no Content-Disposition at all', async () => {
    const escaped = await documentNamed('a\\b"c\t.txt', 'text/plain');
    const plain = await call(sim, 'GET', `Document/${escaped}`, { session: token, headers: { accept: 'application/octet-stream' } });
    expect(plain.headers['content-disposition']).toBe(`attachment; filename="a\\\\b\\"c\t.txt"; filename*=utf-8''a%5Cb%22c%09.txt`);
    // Recorded on both versions (name stored with PUT Document): 200, the bytes, Content-type, no Content-Disposition.
    for (const name of ['a\r\nX-Evil: 1.txt', 'lf\nonly.txt', 'cr\ronly.txt']) {
      const id = await documentNamed(name, 'text/plain');
      const res = await call(sim, 'GET', `Document/${id}`, { session: token, headers: { accept: 'application/octet-stream' } });
      expect([res.status, res.headers['content-disposition'], res.headers['content-type'], res.headers['x-evil'], res.text]).toEqual([200, undefined, 'text/plain;charset=UTF-8', undefined, 'hello']);
    }
  });

  it("gives the bridge's client the names back", async () => {
    const client = createGlpiClient({
      hookId: 'filenames', baseUrl: sim.url, appToken: APP_TOKEN, userToken: ADMIN, entityId: 0, syncType: 'user', ticketType: 1,
      categoryId: undefined, defaultUserId: undefined, timeoutMs: 10_000,
    });
    try {
      for (const recorded of RECORDED) {
        const id = await documentNamed(recorded.name, recorded.mime);
        const got = await client.downloadDocument(id, { maxBytes: 1_000, deadlineMs: 10_000 });
        expect(got).toMatchObject({ kind: 'file', filename: recorded.name });
      }
    } finally {
      await client.close();
    }
  });

  // What an upload stores, as recorded (recorded-uploads.ts; the real-GLPI test checks the table).
  it.each(UPLOADS)('$label', async (upload) => {
    const { body, contentType } = uploadBody(upload.quoted, upload.type, upload.data, { input: { name: upload.label, _filename: ['x'] } });
    const res = await call(sim, 'POST', 'Document', { session: token, body, contentType });
    const answer = res.json as { id: number; upload_result: { filename: { error?: string; type: string }[] } };
    const result = answer.upload_result.filename[0]!;
    const row = sim.state.documents.find((d) => d.id === answer.id)!;
    const expected = (version === '10.0.3' ? upload.v10 : undefined) ?? upload.stored;
    // GLPI reports the part's own Content-Type in upload_result (empty without one), whatever it stores.
    expect(result.type).toBe(upload.type);
    if ('error' in expected) {
      expect([res.status, result.error, row.filename ?? null]).toEqual([201, expected.error, null]);
    } else {
      expect([res.status, result.error, { filename: row.filename, mime: row.mime }]).toEqual([201, undefined, expected]);
    }
  });

  it('.webp is a document type on 11.0.8 only', async () => {
    const { body, contentType } = uploadBody('w.webp', 'image/webp', WEBP_1PX, { input: { name: 'webp', _filename: ['x'] } });
    const res = await call(sim, 'POST', 'Document', { session: token, body, contentType });
    const answer = res.json as { id: number; upload_result: { filename: { error?: string }[] } };
    const row = sim.state.documents.find((d) => d.id === answer.id)!;
    expect([answer.upload_result.filename[0]!.error, row.mime ?? null]).toEqual(version === '11.0.8' ? [undefined, 'image/webp'] : ['Filetype not allowed', null]);
  });

  it.each(REFUSED_ONLY_IF_SUCCEED)('$label with _only_if_upload_succeed: 400 ERROR_GLPI_ADD, GLPI looking for the file it dropped', async (upload) => {
    const before = sim.state.documents.length;
    const { body, contentType } = uploadBody(upload.quoted, upload.type, upload.data, { input: { name: 'x', _filename: ['x'], _only_if_upload_succeed: 1 } });
    const res = await call(sim, 'POST', 'Document', { session: token, body, contentType });
    expect(res.status).toBe(400);
    const [code, message] = res.json as [string, string];
    expect(code).toBe('ERROR_GLPI_ADD');
    // Recorded: 10.0.3 "File /…/files/_tmp/6b0f34bda76fb2.40907772p.log not found.", 11.0.8 "File p.log not found."
    const name = upload.quoted.replace(/[.]/g, '\\.');
    expect(message).toMatch(new RegExp(version === '11.0.8' ? `^File ${name} not found\\.$` : `^File /\\S+/files/_tmp/\\S+${name} not found\\.$`));
    expect(sim.state.documents.length).toBe(before);
  });
});
