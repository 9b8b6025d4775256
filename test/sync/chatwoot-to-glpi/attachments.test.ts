import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentFetcher, type AttachmentFetcher } from '../../../src/chatwoot/attachments.js';
import { loadConfig } from '../../../src/config/load.js';
import type { HookConfig } from '../../../src/config/schema.js';
import { JobAbortedError } from '../../../src/errors/index.js';
import type { SyncProcessor } from '../../../src/sync/use-case.js';
import { PNG_1PX } from '../../glpi-simulator/recorded-uploads.js';
import { glpiDecode } from '../../support/glpi-simulator/index.js';
import { ADMIN_TOKEN, HOOK_ID, at, conversationEvent, jobData, messageEvent, startHarness, type ConversationSpec, type SyncHarness } from '../support.js';

/**
 * Hostile attachments through the whole sync: the message is always synced, every refused file
 * is a line in its followup, and nothing inside the network is contacted.
 */

const text = (value: unknown) => glpiDecode(String(value ?? ''));
const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
/** Text under an image's name: GLPI checks an image's first bytes against its extension and refuses it. */
const disguised = Buffer.from('INVOICE 2026-117\nTotal due: 1,200 EUR\n');

let h: SyncHarness;
let chatwoot: Server;
let chatwootPort: number;
const chatwootHits: string[] = [];
let internal: Server;
let internalPort: number;
let internalHits = 0;
const trickles = new Set<NodeJS.Timeout>();
let fetcher: AttachmentFetcher;
let nextConversation = 7_100;
let nextMessage = 710_000;

beforeAll(async () => {
  h = await startHarness();
  internal = createServer((_req, res) => {
    internalHits += 1;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret');
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  internalPort = (internal.address() as AddressInfo).port;
  chatwoot = createServer((req, res) => {
    const url = req.url ?? '';
    chatwootHits.push(url);
    if (url.startsWith('/rails/active_storage/blobs/redirect/')) {
      res.writeHead(302, { location: '/blob/capture.png' }).end();
    } else if (url === '/blob/invoice.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(disguised);
    } else if (url === '/blob/server.log') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('2026-05-28 09:14 ERROR 49.4C02\n');
    } else if (url === '/blob/capture.png' || url.startsWith('/many/')) {
      res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    } else if (url === '/to-internal') {
      res.writeHead(302, { location: `http://127.0.0.1:${internalPort}/admin` }).end();
    } else if (url.startsWith('/trickle')) {
      // A byte every 2 s for ten minutes.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write('x'), 2_000);
      trickles.add(timer);
      res.on('close', () => clearInterval(timer));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => chatwoot.listen(0, '127.0.0.1', resolve));
  chatwootPort = (chatwoot.address() as AddressInfo).port;
  fetcher = createAttachmentFetcher();
});
afterAll(async () => {
  await fetcher?.close();
  for (const t of trickles) clearInterval(t);
  chatwoot?.closeAllConnections();
  await Promise.all([chatwoot, internal].map((s) => new Promise((resolve) => s?.close(resolve))));
  await h?.close();
});

/** The hook as deployed: signed webhooks, Chatwoot next door on 127.0.0.1. */
function hook(env: Record<string, string> = {}): HookConfig {
  return loadConfig({
    HOOK_ID,
    GLPI_API_URL: h.sim.url,
    GLPI_USER_TOKEN: ADMIN_TOKEN,
    CHATWOOT_WEBHOOK_SECRET: 'a-webhook-secret',
    CHATWOOT_BASE_URL: `http://127.0.0.1:${chatwootPort}`,
    ...env,
  }).hooks.get(HOOK_ID) as HookConfig;
}

function processorFor(config: HookConfig, logLines?: string[]): SyncProcessor {
  return h.makeProcessor({
    ...(logLines ? { logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }) } : {}),
    hooks: new Map([[config.id, config]]),
    fetchAttachment: (hk, attachment, request) => fetcher.fetch(hk, attachment, request),
  });
}

function file(id: number, url: string, name = 'file.bin'): Record<string, unknown> {
  return { id, message_id: 1, account_id: 3, file_type: 'file', extension: name.split('.').pop(), content_type: null, data_url: url, thumb_url: '', file_size: null, name };
}

async function syncMessage(processor: SyncProcessor, attachments: Record<string, unknown>[]) {
  nextConversation += 1;
  nextMessage += 1;
  const c: ConversationSpec = { id: nextConversation, lastMessage: { id: nextMessage, createdAt: at(0) } };
  await processor.process(jobData(conversationEvent('conversation_created', c)));
  const ticket = h.sim.state.tickets.find((t) => text(t.content).includes(`conversation:${c.id})`));
  nextMessage += 1;
  const data = jobData(messageEvent(c, { id: nextMessage, createdAt: at(10), content: 'see attached', attachments }));
  const outcome = await processor.process(data);
  const followup = h.sim.followupsOf(ticket!.id).at(-1);
  const content = text(followup?.content);
  return { data, outcome, ticketId: ticket!.id, content, plain: content.replace(/<[^>]+>/g, ' ').replace(/ +/g, ' ') };
}

describe('attachments from a hostile message', () => {
  it('refuses internal addresses (loopback, localhost, decimal, redirect inside, Redis) and still syncs the message', async () => {
    const chat = `http://127.0.0.1:${chatwootPort}`;
    const before = internalHits;
    const { outcome, ticketId, content } = await syncMessage(processorFor(hook()), [
      file(1, `${chat}/rails/active_storage/blobs/redirect/abc--def/capture.png`, 'capture.png'),
      file(2, `http://127.0.0.1:${internalPort}/loopback.txt`),
      file(3, `http://localhost:${internalPort}/localhost.txt`),
      file(4, `http://2130706433:${internalPort}/decimal.txt`),
      file(5, `${chat}/to-internal`),
      file(6, 'http://127.0.0.1:6379/redis.txt'),
    ]);
    expect(outcome.action).toBe('followup-posted');
    expect(internalHits).toBe(before);
    // The Chatwoot origin may be private: its file became a GLPI document.
    const docs = h.sim.state.documentItems.filter((d) => d.itemtype === 'Ticket' && d.items_id === ticketId);
    expect(docs).toHaveLength(1);
    expect(content).toContain(`capture.png</a> (file, GLPI document ${String(docs[0]?.documents_id)})`);
    const refused = 'not copied to GLPI: the link points to a private or reserved network address';
    for (const name of ['loopback.txt', 'localhost.txt', 'decimal.txt', 'redis.txt']) {
      expect(content).toMatch(new RegExp(`<li>${name.replace('.', '\\.')} \\(file\\) \\(${refused}\\)</li>`));
    }
    expect(content).toContain(`<li>to-internal (file) (${refused})</li>`);
    // Refused links are named, not made clickable.
    expect(content).not.toContain(`:${internalPort}`);
    expect(content).not.toContain(':6379');
  });

  it('the ticket description names internal links of its first message without making them clickable', async () => {
    const chat = `http://127.0.0.1:${chatwootPort}`;
    nextConversation += 1;
    nextMessage += 1;
    const c: ConversationSpec = { id: nextConversation, lastMessage: { id: nextMessage, createdAt: at(0) } };
    const before = internalHits;
    // The first event is the message itself: it becomes the ticket's description.
    await processorFor(hook()).process(
      jobData(
        messageEvent(c, {
          id: nextMessage,
          createdAt: at(0),
          content: 'my printer',
          attachments: [
            file(1, `${chat}/rails/active_storage/blobs/redirect/abc--def/photo.png`, 'photo.png'),
            file(2, `http://127.0.0.1:${internalPort}/loopback.txt`),
            file(3, `http://localhost:${internalPort}/localhost.txt`),
            file(4, `http://[::1]:${internalPort}/v6.txt`),
          ],
        }),
      ),
    );
    const ticket = h.sim.state.tickets.find((t) => text(t.content).includes(`conversation:${c.id})`));
    const content = text(ticket?.content);
    expect(content).toContain('my printer');
    expect(internalHits).toBe(before);
    for (const name of ['loopback.txt', 'localhost.txt', 'v6.txt']) expect(content).toContain(`<li>${name} (file) (not copied to GLPI: the link points to a private or reserved network address)</li>`);
    expect(content).not.toContain(`:${internalPort}`);
    // Chatwoot's own link stays a link (tests reach no address outside this machine).
    expect(content).toContain(`<a href="${chat}/rails/active_storage/blobs/redirect/abc--def/photo.png">photo.png</a>`);
  });

  it('a malformed attachment URL is a line in the followup, not a URIError in the worker', async () => {
    const { outcome, plain } = await syncMessage(processorFor(hook()), [
      file(1, `http://127.0.0.1:${chatwootPort}/blob/%E0%A4%A.png`),
      file(2, 'http://exa mple.com/x.png'),
    ]);
    expect(outcome.action).toBe('followup-posted');
    expect(plain).toContain('%E0%A4%A.png (file) (not copied to GLPI: the server answered HTTP 404)');
    expect(plain).toContain('attachment-2.bin (file) (not copied to GLPI: the link is malformed)');
  });

  it('cuts a trickling download at its deadline and spends at most the job budget on files', async () => {
    const config = hook({ ATTACHMENT_TIMEOUT_MS: '300', ATTACHMENT_JOB_BUDGET_MS: '500' });
    const chat = `http://127.0.0.1:${chatwootPort}`;
    const before = chatwootHits.filter((u) => u.startsWith('/trickle')).length;
    const { outcome, plain } = await syncMessage(processorFor(config), [1, 2, 3, 4, 5].map((i) => file(i, `${chat}/trickle-${i}`)));
    expect(outcome.action).toBe('followup-posted');
    // Deadlines are timers that never fire early: 300 ms, then at most the 200 ms left, then none.
    expect(chatwootHits.filter((u) => u.startsWith('/trickle')).length - before).toBeLessThanOrEqual(2);
    expect(plain).toContain('trickle-1 (file) (not copied to GLPI: the download took more than 0.3 s)');
    expect(plain).toContain('trickle-5 (file) (not copied to GLPI: the 0.5 s allowed for the files of this message were used up)');
  }, 30_000);

  it('a body with 4,000 attachments makes at most ATTACHMENT_MAX_COUNT requests and a followup of bounded size', async () => {
    const chat = `http://127.0.0.1:${chatwootPort}`;
    const before = chatwootHits.filter((u) => u.startsWith('/many/')).length;
    const attachments = Array.from({ length: 4_000 }, (_, i) => file(i + 1, `${chat}/many/${i + 1}.png`, `${i + 1}.png`));
    const logLines: string[] = [];
    const { outcome, plain } = await syncMessage(processorFor(hook(), logLines), attachments);
    // One line says the limit was reached, not 3,990.
    expect(logLines.filter((l) => l.includes('attachment limit reached'))).toHaveLength(1);
    expect(outcome.action).toBe('followup-posted');
    expect(chatwootHits.filter((u) => u.startsWith('/many/')).length - before).toBe(10);
    expect(plain).toContain('11.png (file) (not copied to GLPI: only the first 10 attachments of a message are copied)');
    expect(plain).toContain('and 3900 more attachments, not listed');
    expect(plain).not.toContain('101.png');
  }, 60_000);

  it('text disguised as invoice.png, and a type GLPI does not take: one followup, the files not attached and why, the job done for good', async () => {
    const logLines: string[] = [];
    const processor = processorFor(hook(), logLines);
    const documentsBefore = h.sim.state.documents.length;
    const { data, outcome, ticketId, plain } = await syncMessage(processor, [
      file(1, `http://127.0.0.1:${chatwootPort}/blob/invoice.png`, 'invoice.png'),
      file(2, `http://127.0.0.1:${chatwootPort}/blob/server.log`, 'server.log'),
    ]);
    expect(outcome.action).toBe('followup-posted');
    const followups = () => h.sim.followupsOf(ticketId).filter((f) => text(f.content).includes('see attached'));
    expect(followups()).toHaveLength(1);
    const why = 'GLPI refused the file: its type is not one GLPI accepts, its content does not match its name, or it is empty (ERROR_GLPI_ADD)';
    expect(plain).toContain(`invoice.png (file) (not copied to GLPI: ${why})`);
    expect(plain).toContain(`server.log (file) (not copied to GLPI: ${why})`);
    // Nothing half-made: no Document, with or without a file, and no link to the ticket.
    expect(h.sim.state.documents.length).toBe(documentsBefore);
    expect(h.sim.state.documentItems.filter((d) => d.itemtype === 'Ticket' && d.items_id === ticketId)).toHaveLength(0);
    expect(logLines.filter((l) => l.includes('GLPI refused the attachment'))).toHaveLength(2);
    // The same delivery again (a retry) is a duplicate, not a second followup or a second upload.
    expect(await processor.process(data)).toMatchObject({ action: 'skipped', reason: 'already posted', glpiCalls: 0 });
    expect(followups()).toHaveLength(1);
    expect(h.sim.state.documents.length).toBe(documentsBefore);
  });

  it('a job stopped in the middle of a message\'s files does not upload the first ones again when it reruns', async () => {
    nextConversation += 1;
    nextMessage += 1;
    const c: ConversationSpec = { id: nextConversation, lastMessage: { id: nextMessage, createdAt: at(0) } };
    await h.processor.process(jobData(conversationEvent('conversation_created', c)));
    const ticketId = h.sim.state.tickets.find((t) => text(t.content).includes(`conversation:${c.id})`))!.id;
    nextMessage += 1;
    const event = messageEvent(c, { id: nextMessage, createdAt: at(10), attachments: [1, 2, 3].map((i) => file(i, `https://chat.example/${i}.png`, `${i}.png`)) });
    const tinyPng = { filename: 'x.png', contentType: 'image/png', data: new Uint8Array(PNG_1PX) };
    const shutdown = new AbortController();
    const stopping = h.makeProcessor({
      hooks: new Map([[HOOK_ID, hook()]]),
      fetchAttachment: async (_hook, attachment) => {
        if (attachment.id === 1) return { file: tinyPng };
        shutdown.abort('shutdown');
        throw new JobAbortedError('attachment downloads stopped');
      },
    });
    const data = jobData(event);
    await expect(stopping.process(data, { signal: shutdown.signal })).rejects.toBeInstanceOf(JobAbortedError);
    const docs = () => h.sim.state.documentItems.filter((d) => d.itemtype === 'Ticket' && d.items_id === ticketId).length;
    expect(docs()).toBe(1);
    const resumed = h.makeProcessor({ hooks: new Map([[HOOK_ID, hook()]]), fetchAttachment: async () => ({ file: tinyPng }) });
    expect((await resumed.process(data)).action).toBe('followup-posted');
    expect(docs()).toBe(3);
  });
});
