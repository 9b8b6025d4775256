import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { safeContentType, safeFileName } from '../../../src/sync/glpi-to-chatwoot/followup-documents.js';
import { ACCOUNT_ID, startG2cHarness, type G2cHarness } from './support.js';

// GLPI takes a Document's MIME type from its bytes (libmagic): a PNG signature followed by an IHDR chunk.
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), randomBytes(3000)]);

/** Posts: the Chatwoot API calls that created a message in this conversation. */
const messagePosts = (h: G2cHarness, conversationId: number) =>
  h.chatwoot.calls.filter((c) => c.method === 'POST' && c.path.endsWith(`/conversations/${conversationId}/messages`) && (c.body as { private?: boolean }).private === false);

/** A technician's followup with documents, as GLPI's UI and the two-step API write it (files linked to the followup). */
async function followupWithFiles(h: G2cHarness, ticketId: number, content: string, files: { name: string; type: string; data: Buffer }[]) {
  const { id } = await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content, is_private: 0 });
  const documents: number[] = [];
  for (const f of files) documents.push((await h.tech.uploadDocument({ filename: f.name, contentType: f.type, data: f.data }, { itemtype: 'ITILFollowup', items_id: id })).id);
  return { followupId: id, documents };
}

describe.each(['10.0.3', '11.0.8'] as const)('GLPI %s -> Chatwoot: documents of a followup', (version) => {
  let h: G2cHarness;
  beforeEach(async () => {
    h = await startG2cHarness({ version });
  });
  afterEach(async () => {
    await h?.close();
  });

  it('posts the documents with the message, same bytes, one message; one GLPI call finds them for the whole poll', async () => {
    const ticketA = await h.openConversation(701);
    const ticketB = await h.openConversation(702);
    await h.poll();
    await followupWithFiles(h, ticketA, '<p>Here is the log and a screenshot</p>', [
      { name: 'printer.txt', type: 'text/plain', data: Buffer.from('paper jam at tray 2\n') },
      { name: 'screen.png', type: 'image/png', data: PNG },
    ]);
    await h.tech.addSubItem('Ticket', ticketB, 'ITILFollowup', { content: 'No file here', is_private: 0 });
    h.sim.resetCalls();
    await h.poll();
    await h.poll();

    const [message] = h.chatwoot.conversation(ACCOUNT_ID, 701)!.messages.filter((m) => m.message_type === 1 && !m.private);
    expect(message?.content).toBe('Alex Martin (IT): Here is the log and a screenshot');
    const files = h.chatwoot.files.get(message!.id) ?? [];
    expect(files.map((f) => [f.filename, f.contentType])).toEqual([
      ['printer.txt', 'text/plain'],
      ['screen.png', 'image/png'],
    ]);
    expect(files[0]!.data.equals(Buffer.from('paper jam at tray 2\n'))).toBe(true);
    expect(files[1]!.data.equals(PNG)).toBe(true);
    expect(messagePosts(h, 701)).toHaveLength(1);
    expect(h.outgoing(702).map((m) => m.content)).toEqual(['Alex Martin (IT): No file here']);
    expect(h.chatwoot.files.has(h.outgoing(702)[0]!.id)).toBe(false);
    // Two followups in two tickets: one listing of followup documents, no per-followup look-up.
    expect(h.sim.count('GET', '/Document_Item')).toBe(1);
    expect(h.sim.count('GET', '/ITILFollowup/:id/Document_Item')).toBe(0);
    expect(h.sim.count('GET', '/Document/:id')).toBe(2);
  });

  it('a poll with nothing to send costs no document call', async () => {
    const ticketId = await h.openConversation(703);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'private', is_private: 1 });
    h.sim.resetCalls();
    h.setClockSkew(60_000);
    await h.poll();
    await h.poll();
    expect(h.sim.count('GET', '/Document_Item')).toBe(0);
    expect(h.sim.count('GET', '/Document/:id')).toBe(0);
  });

  it('past the listing page limit, each followup not reached is asked once, without reading the listing again', async () => {
    const ticketId = await h.openConversation(708);
    await h.poll();
    const sent = [
      await followupWithFiles(h, ticketId, 'first', [{ name: 'a.txt', type: 'text/plain', data: Buffer.from('a') }]),
      await followupWithFiles(h, ticketId, 'second', [{ name: 'b.txt', type: 'text/plain', data: Buffer.from('b') }]),
      // No text: its documents are asked twice (is it empty? then the attachments), GLPI once.
      await followupWithFiles(h, ticketId, '<p></p>', [{ name: 'c.txt', type: 'text/plain', data: Buffer.from('c') }]),
    ];
    // A burst of files on newer followups elsewhere in GLPI: more links than the listing reads.
    const { documentLinkPageSize, documentLinkMaxPages } = DEFAULTS.glpiToChatwoot;
    const burst = documentLinkPageSize * documentLinkMaxPages + 20;
    const newest = Math.max(...sent.map((f) => f.followupId));
    const firstId = Math.max(...h.sim.state.documentItems.map((r) => r.id)) + 1;
    for (let i = 0; i < burst; i += 1) {
      h.sim.state.documentItems.push({ ...h.sim.state.documentItems[0]!, id: firstId + i, itemtype: 'ITILFollowup', items_id: newest + 1000 + i, documents_id: sent[0]!.documents[0]! });
    }
    h.sim.resetCalls();
    await h.poll();
    await h.poll();

    const messages = h.outgoing(708);
    expect(messages.map((m) => h.chatwoot.files.get(m.id)?.map((f) => f.data.toString()))).toEqual([['a'], ['b'], ['c']]);
    expect(h.sim.count('GET', '/Document_Item')).toBe(documentLinkMaxPages);
    expect(h.sim.count('GET', '/ITILFollowup/:id/Document_Item')).toBe(sent.length);
  });

  it('a document too large, empty or refused by GLPI becomes a line of the message, which is posted once', async () => {
    await h.close();
    h = await startG2cHarness({ version, env: { ATTACHMENT_MAX_BYTES: String(64 * 1024) } });
    const ticketId = await h.openConversation(704);
    await h.poll();
    const big = randomBytes(2 * 1024 * 1024);
    const { documents } = await followupWithFiles(h, ticketId, 'Files attached', [
      { name: 'broken.txt', type: 'text/plain', data: Buffer.from('GLPI lost it') },
      { name: 'manual.pdf', type: 'application/pdf', data: big },
      { name: 'ok.txt', type: 'text/plain', data: Buffer.from('fine') },
    ]);
    // GLPI refuses an empty upload ("File is too small"), but serves a Document whose file on its
    // disk is empty; the simulator serves no bytes for a Document it holds no file for.
    const okRow = h.sim.state.documents.find((d) => d.id === documents[2])!;
    const emptyId = Math.max(...h.sim.state.documents.map((d) => d.id)) + 1;
    h.sim.state.documents.push({ ...okRow, id: emptyId, filename: 'empty.txt' });
    const okLink = h.sim.state.documentItems.find((di) => di.documents_id === okRow.id)!;
    h.sim.state.documentItems.push({ ...okLink, id: Math.max(...h.sim.state.documentItems.map((di) => di.id)) + 1, documents_id: emptyId });
    // GLPI answers 500 for the first download (a file missing on its disk).
    h.sim.failNext({ kind: 'status', status: 500 }, 1, 'GET /Document/:id');
    await h.poll();
    await h.poll();
    const messages = h.chatwoot.conversation(ACCOUNT_ID, 704)!.messages.filter((m) => m.message_type === 1 && !m.private);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.content).toBe(
      [
        'Alex Martin (IT): Files attached',
        '',
        `Document ${documents[0]} not attached: GLPI did not serve it (GLPI_SERVER_ERROR)`,
        // GLPI sends no Content-Length (observed): the download stops at the limit.
        'manual.pdf (over 64 KB) not attached: too large',
        'empty.txt not attached: the file is empty',
        // Form encoding (HTML's, Chatwoot's dashboard's too) sends line breaks as CRLF.
      ].join('\r\n'),
    );
    expect((h.chatwoot.files.get(messages[0]!.id) ?? []).map((f) => f.data.toString())).toEqual(['fine']);
    expect(messagePosts(h, 704)).toHaveLength(1);
  });

  it('hostile names and MIME types from GLPI users are made safe; the bytes pass unchanged', async () => {
    const ticketId = await h.openConversation(705);
    await h.poll();
    const { documents } = await followupWithFiles(h, ticketId, 'see files', [
      { name: 'a.txt', type: 'text/plain', data: Buffer.from('one') },
      { name: 'b.txt', type: 'text/plain', data: Buffer.from('two') },
      { name: 'c.txt', type: 'text/plain', data: PNG },
      { name: 'd.txt', type: 'text/plain', data: Buffer.from('four') },
    ]);
    const rows = documents.map((id) => h.sim.state.documents.find((d) => d.id === id)!);
    Object.assign(rows[0]!, { filename: '../../etc/passwd\r\nX: y', mime: 'text/html\r\nX-Evil: 1' });
    // GLPI's filename column holds 255 characters.
    Object.assign(rows[1]!, { filename: `${'n'.repeat(251)}.txt`, mime: 'not a mime' });
    // A PNG that GLPI calls text/plain: passed on as is (Chatwoot identifies files by content).
    Object.assign(rows[2]!, { filename: '[click](http://evil.example)\u202e.png', mime: 'text/plain' });
    // 10,000 characters: the answer's headers alone exceed what the bridge reads; a line, not a crash.
    Object.assign(rows[3]!, { filename: `${'x'.repeat(10_000)}.txt` });
    await h.poll();
    await h.poll();
    const messages = h.chatwoot.conversation(ACCOUNT_ID, 705)!.messages.filter((m) => m.message_type === 1 && !m.private);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.content).toMatch(new RegExp(`^Alex Martin \\(IT\\): see files\r\n\r\nDocument ${documents[3]} not attached: GLPI did not serve it \\(GLPI_[A-Z_]+\\)$`));
    const files = h.chatwoot.files.get(messages[0]!.id) ?? [];
    // A name with CR/LF: GLPI sends no Content-Disposition at all, so the bridge names the file after the document.
    expect(files.map((f) => f.filename)).toEqual([`document-${documents[0]}`, `${'n'.repeat(116)}.txt`, 'evil.example).png']);
    expect(files.map((f) => f.contentType)).toEqual(['application/octet-stream', 'application/octet-stream', 'text/plain']);
    expect(files.map((f) => f.data.length)).toEqual([3, 3, PNG.length]);
    expect(files[2]!.data.equals(PNG)).toBe(true);
  });

  it('a worker dying after the post with files: recovery finds the message, files are not sent twice', async () => {
    const ticketId = await h.openConversation(706);
    await h.poll();
    await followupWithFiles(h, ticketId, 'log attached', [{ name: 'x.txt', type: 'text/plain', data: Buffer.from('bytes') }]);
    // Chatwoot stores the message with its files; the worker dies before it hears back.
    h.chatwoot.failAfterNext('drop', 1, '/conversations/706/messages');
    await expect(h.poll()).rejects.toMatchObject({ code: 'CHATWOOT_NETWORK_ERROR' });
    h.sim.resetCalls();
    await h.poll(h.makePoller());
    await h.poll();
    const messages = h.chatwoot.conversation(ACCOUNT_ID, 706)!.messages.filter((m) => m.message_type === 1 && !m.private);
    expect(messages).toHaveLength(1);
    expect(h.chatwoot.files.get(messages[0]!.id)?.map((f) => f.data.toString())).toEqual(['bytes']);
    expect(messagePosts(h, 706)).toHaveLength(1);
    // Recovery read the conversation; it downloaded nothing again.
    expect(h.sim.count('GET', '/Document/:id')).toBe(0);
  });

  it('an intent whose post with files never reached Chatwoot is posted once, with the files, on recovery', async () => {
    const ticketId = await h.openConversation(707);
    await h.poll();
    await followupWithFiles(h, ticketId, 'retry me', [{ name: 'y.txt', type: 'text/plain', data: Buffer.from('again') }]);
    h.chatwoot.failNext(503, 1, '/conversations/707/messages');
    await expect(h.poll()).rejects.toThrow(/503/);
    await h.poll(h.makePoller());
    await h.poll();
    const messages = h.chatwoot.conversation(ACCOUNT_ID, 707)!.messages.filter((m) => m.message_type === 1 && !m.private);
    expect(messages.map((m) => m.content)).toEqual(['Alex Martin (IT): retry me']);
    expect(h.chatwoot.files.get(messages[0]!.id)?.map((f) => f.data.toString())).toEqual(['again']);
  });
});

describe('file names and types from GLPI', () => {
  it('keeps only a bounded last path segment without controls, never empty', () => {
    expect(safeFileName('../../etc/passwd\r\nX: y', 9)).toBe('passwdX_ y');
    expect(safeFileName('C:\\Users\\me\\report.pdf', 9)).toBe('report.pdf');
    expect(safeFileName('...', 9)).toBe('document-9');
    expect(safeFileName(undefined, 9)).toBe('document-9');
    expect(safeFileName('\u0000\u202e', 9)).toBe('document-9');
    const long = safeFileName(`${'é'.repeat(500)}.docx`, 9);
    expect(Array.from(long)).toHaveLength(120);
    expect(long.endsWith('.docx')).toBe(true);
    expect(Array.from(safeFileName('😀'.repeat(300), 9))).toHaveLength(120);
  });

  it('takes a MIME type only when it is one', () => {
    expect(safeContentType('image/png')).toBe('image/png');
    expect(safeContentType('Text/Plain; charset=UTF-8')).toBe('text/plain');
    expect(safeContentType('text/html\r\nX-Evil: 1')).toBe('application/octet-stream');
    expect(safeContentType('')).toBe('application/octet-stream');
    expect(safeContentType(undefined)).toBe('application/octet-stream');
  });
});
