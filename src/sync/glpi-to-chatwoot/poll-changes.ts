import { DEFAULTS } from '../../config/defaults.js';
import { rowId } from '../../glpi/search.js';
import type { GlpiItem, SearchOptions } from '../../glpi/types.js';
import { errorAdvice, errorCode, isTransient } from '../../errors/index.js';
import { parseGlpiDate } from '../glpi-time.js';
import { applyGlpiStatus, type StatusApplied } from './apply-status.js';
import type { G2cContext } from './context.js';
import { followupDocumentIndex, type FollowupDocuments } from './followup-documents.js';
import { postGlpiFollowup } from './post-followup.js';
import { postGlpiSolution } from './post-solution.js';
import type { ItemRecord } from './records.js';

/** Ticket search options (both 10.0.x and 11.0.x): 2 id, 12 status, 19 date_mod. */
const OPT = { id: 2, status: 12, dateMod: 19 } as const;
/** A GLPI date as it appears in answers and criteria: "YYYY-MM-DD HH:MM:SS". */
const GLPI_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

interface PollOutcome {
  /** Rows GLPI returned that were new (not already handled at the cursor). */
  changedTickets: number;
  /** Of those, tickets the bridge created and looked at. */
  ourTickets: number;
  cursor: string | undefined;
}

interface Row {
  ticketId: number;
  status: number;
  dateMod: string;
}

/**
 * One poll of a hook (GLPI 10 has no webhooks; on 11 a webhook only makes this run sooner).
 *
 * The recommended poll (shared/reference/glpi-changes-observed.md): every followup, solution and
 * status change bumps the ticket's `date_mod`, so one search for tickets with `date_mod >= cursor`
 * finds everything new, and costs one call when nothing changed. `>=`, not `>`: `date_mod` has
 * one-second resolution and a change later in the same second as the last poll would be lost
 * with a strict comparison; the (ticket, date_mod) pairs already handled at the cursor are
 * remembered and skipped instead. The cursor is GLPI's own string, never our clock (GLPI's dates
 * are its PHP process's local time). Rows are filtered to the tickets the bridge created.
 * Steady state (nothing changed, the cursor's second long over): one GLPI call.
 */
export async function pollChanges(ctx: G2cContext): Promise<PollOutcome> {
  const state = await ctx.records.readCursor();
  if (state.cursor === undefined || state.since === undefined) {
    // First poll of this hook: what GLPI holds already is history, not news. The newest
    // date_mod becomes the cursor and the "since" line: items created before it are never sent.
    const newest = await ctx.glpi.search('Ticket', { criteria: [], forcedisplay: [OPT.dateMod], sort: [OPT.dateMod, OPT.id], order: 'DESC', range: [0, 0] });
    const first = newest.rows.map(toRow).find((r) => r !== undefined);
    if (first === undefined) return { changedTickets: 0, ourTickets: 0, cursor: undefined };
    // Tickets created by a bridge version that kept no reverse map are followed too (from now on).
    const indexed = await ctx.store.indexExistingTickets();
    await ctx.records.writeCursor({ cursor: first.dateMod, atCursor: [], since: first.dateMod });
    ctx.logger.info({ cursor: first.dateMod, indexed }, 'GLPI -> Chatwoot: first poll, changes from now on are sent');
    return pollChanges(ctx);
  }
  const { cursor, atCursor, since } = state;
  // GLPI's "now" as its own wall-clock string would read, estimated from our clock and its offset:
  // used only to decide whether a second is over, never as a cursor.
  const glpiNowMs = ctx.now() + ctx.tzOffsetMin * 60_000;

  const rows: Row[] = [];
  const pageSize = DEFAULTS.glpiToChatwoot.pollPageSize;
  for (let page = 0; page < DEFAULTS.glpiToChatwoot.pollMaxPages; page += 1) {
    const options: SearchOptions = {
      criteria: [{ field: OPT.dateMod, searchtype: 'morethan', value: `=${cursor}` }],
      forcedisplay: [OPT.status, OPT.dateMod],
      sort: [OPT.dateMod, OPT.id],
      order: 'ASC',
      range: [page * pageSize, page * pageSize + pageSize - 1],
    };
    const result = await ctx.glpi.search('Ticket', options);
    rows.push(...result.rows.map(toRow).filter((r): r is Row => r !== undefined));
    if (result.rows.length < pageSize || (page + 1) * pageSize >= result.totalcount) break;
  }

  const fresh = rows.filter((r) => !atCursor.has(pairKey(r)));
  const conversations = await ctx.store.conversationsOf([...new Set(fresh.map((r) => r.ticketId))]);
  let ours = 0;
  const done = new Set<number>();
  const documents = followupDocumentIndex(ctx.glpi, ctx);
  for (const row of fresh) {
    const conversationId = conversations.get(row.ticketId);
    if (conversationId === undefined || done.has(row.ticketId)) continue;
    done.add(row.ticketId);
    ours += 1;
    await handleTicket(ctx, { ...row, conversationId, since }, documents);
  }

  // Only after every ticket was handled: a failure above leaves the cursor where it was, and the
  // next poll sees the same rows again (the per-item records keep that from posting twice).
  const newest = rows.reduce((max, r) => (r.dateMod > max ? r.dateMod : max), cursor);
  // A pair is remembered (and skipped from then on) only once its second is surely over: the same
  // ticket changed again later in that second keeps the same (id, date_mod) pair, and would be
  // skipped for good. Until then the ticket is looked at again, which the item records make cheap.
  const settled = (r: Row) => glpiNowMs - (parseGlpiDate(r.dateMod) ?? Infinity) >= DEFAULTS.glpiToChatwoot.settledAfterMs;
  const keep = new Set(rows.filter((r) => r.dateMod === newest && settled(r)).map(pairKey));
  if (newest === cursor) for (const k of atCursor) keep.add(k);
  if (newest !== cursor || keep.size !== atCursor.size) await ctx.records.writeCursor({ cursor: newest, atCursor: keep, since });
  return { changedTickets: fresh.length, ourTickets: ours, cursor: newest };
}

function pairKey(row: Row): string {
  return `${row.ticketId}@${row.dateMod}`;
}

function toRow(raw: Record<string, unknown>): Row | undefined {
  const ticketId = rowId(raw);
  const dateMod = raw[String(OPT.dateMod)];
  if (ticketId === undefined || typeof dateMod !== 'string' || !GLPI_DATE.test(dateMod)) return undefined;
  return { ticketId, status: Number(raw[String(OPT.status)] ?? 0), dateMod };
}

/**
 * Everything new on one ticket, oldest first: followups and solutions as messages, then the status.
 * A permanent refusal (the conversation was deleted in Chatwoot, a token that may not see it) is
 * logged with its code and advice and the ticket passed over, so one dead conversation does not
 * hold every other ticket of the hook back; anything transient fails the poll, which runs again
 * from the same cursor.
 */
async function handleTicket(ctx: G2cContext, t: Row & { conversationId: number; since: string }, documents: FollowupDocuments): Promise<void> {
  const log = ctx.logger.child({ ticketId: t.ticketId, conversationId: t.conversationId });
  try {
    const [followups, solutions, records] = await Promise.all([
      ctx.glpi.getSubItems('Ticket', t.ticketId, 'ITILFollowup'),
      ctx.glpi.getSubItems('Ticket', t.ticketId, 'ITILSolution'),
      ctx.records.readItems(t.ticketId),
    ]);
    const items = [
      ...followups.map((item) => ({ kind: 'followup' as const, key: `f${item.id}`, item })),
      ...solutions.map((item) => ({ kind: 'solution' as const, key: `s${item.id}`, item })),
    ].sort((a, b) => created(a.item).localeCompare(created(b.item)) || a.item.id - b.item.id);

    const todo = items.filter((i) => {
      const state = records.get(i.key)?.state ?? 'none';
      return state === 'none' || state === 'intent';
    });
    const history = todo.filter((i) => created(i.item) !== '' && created(i.item) < t.since && records.get(i.key) === undefined);
    if (history.length > 0) {
      await ctx.records.markSkipped(t.ticketId, Object.fromEntries(history.map((i) => [i.key, 'history'])));
      for (const i of history) ctx.observer.change(i.kind, 'skipped', 'history');
    }
    const pending = todo.filter((i) => !history.includes(i));
    const oldestFollowup = Math.min(...pending.filter((i) => i.kind === 'followup').map((i) => i.item.id));

    let bridgeFollowupIds: Set<number> | undefined;
    let requesters: Set<number> | undefined;
    const isRequester = async (userId: number) => {
      requesters ??= new Set(
        (await ctx.glpi.getSubItems('Ticket', t.ticketId, 'Ticket_User')).filter((tu) => Number(tu.type) === 1).map((tu) => Number(tu.users_id)),
      );
      return requesters.has(userId);
    };
    for (const i of pending) {
      const record: ItemRecord = records.get(i.key) ?? { state: 'none' };
      const result =
        i.kind === 'followup'
          ? await postGlpiFollowup(ctx, {
              ticketId: t.ticketId,
              conversationId: t.conversationId,
              followup: i.item,
              record,
              bridgeFollowupIds: (bridgeFollowupIds ??= await ctx.store.followupIdsOf(t.conversationId)),
              isRequester,
              documents: () => documents.of(i.item.id, oldestFollowup),
            })
          : await postGlpiSolution(ctx, { ticketId: t.ticketId, conversationId: t.conversationId, solution: i.item, record });
      ctx.observer.change(i.kind, result.action, result.reason);
      if (result.action === 'posted' || result.action === 'noted') ctx.observer.posted(i.kind, lagMs(ctx, created(i.item)));
      log.info({ item: i.key, action: result.action, reason: result.reason, messageId: result.outcome?.messageId }, 'GLPI change handled');
    }

    const agreed = (await ctx.store.getConversation(t.conversationId)).status;
    const applied: StatusApplied = await applyGlpiStatus(ctx, { ticketId: t.ticketId, conversationId: t.conversationId, glpiStatus: t.status, agreed });
    if (applied !== 'unchanged') {
      ctx.observer.change('status', 'applied', applied);
      log.info({ glpiStatus: t.status, applied }, 'GLPI status applied to the conversation');
    }
  } catch (err) {
    if (isTransient(err)) throw err;
    // Items not recorded are tried again the next time the ticket changes.
    ctx.observer.change('ticket', 'skipped', 'error');
    log.error(
      { code: errorCode(err), advice: errorAdvice(err), err: { message: (err as Error).message } },
      'GLPI changes of this ticket could not be sent to Chatwoot; other tickets go on',
    );
  }
}

function created(item: GlpiItem): string {
  const value = item.date_creation ?? item.date;
  return typeof value === 'string' ? value : '';
}

function lagMs(ctx: G2cContext, glpiDate: string): number | undefined {
  const local = parseGlpiDate(glpiDate);
  if (local === undefined) return undefined;
  return Math.max(0, ctx.now() - (local - ctx.tzOffsetMin * 60_000));
}
