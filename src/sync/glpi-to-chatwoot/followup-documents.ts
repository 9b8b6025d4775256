import type { MessageFile } from '../../chatwoot/api-client.js';
import { DEFAULTS } from '../../config/defaults.js';
import { errorCode, isTransient } from '../../errors/index.js';
import type { GlpiClient } from '../../glpi/types.js';
import { humanBytes } from '../../util/bytes.js';
import { attachmentBudget } from '../attachment-budget.js';
import { throwIfAborted } from '../context.js';
import type { G2cContext } from './context.js';
import { oneLine } from '../../util/text.js';
import { escapeMarkdown } from './glpi-text.js';

/** Longest file name passed on (Chatwoot and the customer's channel show it). */
const FILE_NAME_MAX_CHARS = 120;
/** An extension longer than this is not kept when a long name is cut. */
const EXTENSION_MAX_CHARS = 16;

/**
 * Which documents are attached to which followup. GLPI links a followup's files to the followup
 * itself (Document_Item itemtype ITILFollowup; observed on 10.0.3 and 11.0.8), never to the
 * ticket. Asking each followup would cost a call per followup, files or not; instead the first
 * followup of a poll that will become a message reads the newest followup links once, sorted by
 * followup id, down to the oldest followup this poll may send: one call for the whole poll, none
 * in a poll with nothing to send. Past documentLinkMaxPages (a burst of files elsewhere in GLPI), the
 * followups not reached are asked one by one: the listing is not read again, since it would stop
 * at the same page. Each followup's answer is kept for the poll, so asking twice costs nothing.
 */
export interface FollowupDocuments {
  /** Document ids of a followup, in upload order; undefined when GLPI refused to tell. */
  of(followupId: number, oldestFollowupId: number): Promise<number[] | undefined>;
}

export function followupDocumentIndex(glpi: GlpiClient, ctx: Pick<G2cContext, 'logger'>): FollowupDocuments {
  /** followup id -> [link id, document id] */
  const links = new Map<number, [number, number][]>();
  /** Every followup id >= this is fully known. */
  let coveredFrom = Infinity;
  /** A load stopped at documentLinkMaxPages: reading the listing again cannot reach lower followups. */
  let exhausted = false;
  /** followup id -> what of() answered, for a second ask of the same followup. */
  const answered = new Map<number, number[] | undefined>();

  function add(followupId: number, linkId: number, documentId: number): void {
    const list = links.get(followupId) ?? [];
    if (!list.some(([l]) => l === linkId)) list.push([linkId, documentId]);
    links.set(followupId, list);
  }

  async function load(oldest: number): Promise<void> {
    const before = coveredFrom;
    let lowest = Infinity;
    const { documentLinkPageSize: pageSize, documentLinkMaxPages } = DEFAULTS.glpiToChatwoot;
    for (let page = 0; page < documentLinkMaxPages; page += 1) {
      const start = page * pageSize;
      const { items, total } = await glpi.listPage('Document_Item', {
        searchText: { itemtype: '^ITILFollowup$' },
        sort: 'items_id',
        order: 'DESC',
        range: [start, start + pageSize - 1],
      });
      for (const row of items) {
        const followupId = Number(row.items_id);
        const documentId = Number(row.documents_id);
        if (!Number.isSafeInteger(followupId) || !Number.isSafeInteger(documentId) || documentId <= 0) continue;
        lowest = Math.min(lowest, followupId);
        if (followupId >= oldest && followupId < before) add(followupId, row.id, documentId);
      }
      if (lowest < oldest || items.length < pageSize || start + pageSize >= total) {
        coveredFrom = Math.min(before, oldest);
        return;
      }
    }
    // The last page may hold only part of the lowest followup's links: it is not covered.
    if (lowest !== Infinity) coveredFrom = Math.min(before, lowest + 1);
    exhausted = true;
  }

  const ids = (followupId: number) => (links.get(followupId) ?? []).sort((a, b) => a[0] - b[0]).map(([, d]) => d);

  async function lookUp(followupId: number, oldestFollowupId: number): Promise<number[] | undefined> {
    try {
      if (followupId >= coveredFrom) return ids(followupId);
      if (!exhausted) {
        await load(Math.min(followupId, oldestFollowupId));
        if (followupId >= coveredFrom) return ids(followupId);
      }
      const rows = await glpi.getSubItems('ITILFollowup', followupId, 'Document_Item');
      links.delete(followupId);
      for (const row of rows) add(followupId, row.id, Number(row.documents_id));
      return ids(followupId).filter((d) => Number.isSafeInteger(d) && d > 0);
    } catch (err) {
      if (isTransient(err)) throw err;
      ctx.logger.warn({ followupId, code: errorCode(err), err: { message: (err as Error).message } }, "could not read a GLPI followup's documents; the message goes without them");
      return undefined;
    }
  }

  return {
    async of(followupId, oldestFollowupId) {
      if (answered.has(followupId)) return answered.get(followupId);
      const documentIds = await lookUp(followupId, oldestFollowupId);
      answered.set(followupId, documentIds);
      return documentIds;
    },
  };
}

/** What a followup's message carries besides its text. */
interface DocumentsOutcome {
  files: MessageFile[];
  /** One line per document not attached, and why: appended to the message text. */
  lines: string[];
}

/**
 * Downloads a followup's documents within the hook's attachment limits (ATTACHMENT_*: count,
 * bytes and time per message). A document too large, empty or that GLPI would not serve becomes
 * a line of the message instead ("report.pdf (30 MB) not attached: too large"), never a failure of
 * the poll: the message is posted once either way. Only the job's own abort (lock lost, shutdown)
 * throws, handing the job back before anything was posted.
 */
export async function downloadFollowupDocuments(ctx: G2cContext, ticketId: number, documentIds: number[] | undefined): Promise<DocumentsOutcome> {
  const out: DocumentsOutcome = { files: [], lines: [] };
  if (documentIds === undefined) {
    out.lines.push(`The documents of this followup could not be read; see GLPI ticket #${ticketId}`);
    return out;
  }
  // One budget per message: a new owner object keys it.
  const budget = attachmentBudget({ hook: ctx.hook, now: ctx.now, logger: ctx.logger });
  const refused = (name: string, why: string) => out.lines.push(`${escapeMarkdown(name)} not attached: ${why}`);
  for (const documentId of documentIds) {
    const slot = budget.next();
    if ('refused' in slot) {
      refused(`Document ${documentId}`, slot.refused);
      continue;
    }
    throwIfAborted(ctx.signal);
    let got: Awaited<ReturnType<GlpiClient['downloadDocument']>>;
    try {
      got = await ctx.glpi.downloadDocument(documentId, { maxBytes: slot.maxBytes, deadlineMs: slot.deadlineMs, signal: ctx.signal });
    } catch (err) {
      throwIfAborted(ctx.signal);
      ctx.logger.warn({ ticketId, documentId, code: errorCode(err), err: { message: (err as Error).message } }, 'a GLPI document could not be downloaded');
      refused(`Document ${documentId}`, `GLPI did not serve it (${errorCode(err)})`);
      continue;
    }
    const filename = safeFileName(got.filename, documentId);
    if (got.kind === 'too-large') {
      refused(`${filename} (${got.bytes === undefined ? `over ${humanBytes(slot.maxBytes)}` : humanBytes(got.bytes)})`, 'too large');
      continue;
    }
    budget.spend(got.data.length);
    if (got.data.length === 0) {
      refused(filename, 'the file is empty');
      continue;
    }
    out.files.push({ filename, contentType: safeContentType(got.contentType), data: got.data });
  }
  const max = DEFAULTS.attachments.listMax;
  if (out.lines.length > max) out.lines.splice(max, out.lines.length - max, `... and ${out.lines.length - max} more documents not attached`);
  return out;
}

/**
 * A document's name as the customer will see it. GLPI users choose it, so: the last path segment
 * only, no control or direction characters, none of the characters file systems refuse, no
 * leading dots, at most FILE_NAME_MAX_CHARS (the extension kept). Never empty.
 */
export function safeFileName(raw: string | undefined, documentId: number): string {
  const last = (raw ?? '').split(/[/\\]/).pop() ?? '';
  let name = oneLine(last.replace(/[\r\n\t]/g, ''))
    .replace(/["*:<>?|]/g, '_')
    .replace(/^[.\s]+/, '');
  if (name === '') return `document-${documentId}`;
  const chars = Array.from(name);
  if (chars.length > FILE_NAME_MAX_CHARS) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= EXTENSION_MAX_CHARS ? Array.from(name.slice(dot)) : [];
    name = chars.slice(0, FILE_NAME_MAX_CHARS - ext.length).join('') + ext.join('');
  }
  return name;
}

const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * GLPI's MIME type when it is one (parameters dropped), else application/octet-stream. The bytes
 * are passed on as they are: Chatwoot (ActiveStorage) identifies a file's type from its content.
 */
export function safeContentType(raw: string | undefined): string {
  const type = (raw ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return MIME.test(type) ? type : 'application/octet-stream';
}
