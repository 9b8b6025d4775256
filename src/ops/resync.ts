import type { Queue } from 'bullmq';
import { singleAccountId, type ApiConversation, type ApiMessage, type ChatwootApiClient } from '../chatwoot/api-client.js';
import { MESSAGE_TYPES, parseChatwootEvent } from '../chatwoot/events.js';
import { DEFAULTS } from '../config/defaults.js';
import { SOURCE_ID_PREFIX } from '../sync/markers.js';
import { jobIdFor } from '../queue/job.js';
import { type SyncJobData } from '../sync/job.js';

/**
 * Backfill. Chatwoot never redelivers a webhook, so a conversation whose events were lost is
 * read back through the API and turned into the webhook events the worker already knows
 * (conversation_created, message_created, conversation_status_changed). Delivery ids are
 * derived from Chatwoot ids, so resyncing twice adds no job while the first one is still kept,
 * and the sync engine's idempotency makes GLPI receive only what it misses.
 */

interface ResyncDeps {
  hookId: string;
  client: ChatwootApiClient;
  queue: Queue<SyncJobData>;
  /** Account of the hook; read from the token's profile when there is exactly one. */
  accountId?: number;
  now?: () => Date;
}

interface ResyncConversationResult {
  conversationId: number;
  queued: number;
  /** Jobs that already exist (a previous resync or the same events still in the queue). */
  existing: number;
  /** Messages left out: activity messages and the bridge's own notes. */
  skipped: number;
  invalid: string[];
}

export interface ResyncResult {
  accountId: number;
  conversations: ResyncConversationResult[];
}

async function resolveAccountId(client: ChatwootApiClient, given: number | undefined): Promise<number> {
  return given ?? (await singleAccountId(client, 'no --account given'));
}

export async function resyncConversations(deps: ResyncDeps, conversationIds: number[]): Promise<ResyncResult> {
  const accountId = await resolveAccountId(deps.client, deps.accountId);
  const conversations: ResyncConversationResult[] = [];
  for (const id of conversationIds) conversations.push(await resyncOne(deps, accountId, id));
  return { accountId, conversations };
}

/** Every conversation whose last activity is at or after `since`. */
export async function resyncSince(deps: ResyncDeps, since: Date): Promise<ResyncResult> {
  const accountId = await resolveAccountId(deps.client, deps.accountId);
  const sinceS = since.getTime() / 1000;
  const ids: number[] = [];
  for (let page = 1; page <= DEFAULTS.resyncMaxPages; page += 1) {
    const list = await deps.client.listConversations(accountId, page);
    if (list.length === 0) break;
    const recent = list.filter((c) => (c.last_activity_at ?? Number.POSITIVE_INFINITY) >= sinceS);
    ids.push(...recent.map((c) => c.id));
    // Sorted by last activity, newest first: once a page holds older ones, the rest are older too.
    if (recent.length < list.length) break;
  }
  const conversations: ResyncConversationResult[] = [];
  for (const id of [...new Set(ids)]) conversations.push(await resyncOne(deps, accountId, id));
  return { accountId, conversations };
}

async function resyncOne(deps: ResyncDeps, accountId: number, conversationId: number): Promise<ResyncConversationResult> {
  const conversation = await deps.client.getConversation(accountId, conversationId);
  const messages = await deps.client.listMessages(accountId, conversationId);
  const result: ResyncConversationResult = { conversationId, queued: 0, existing: 0, skipped: 0, invalid: [] };
  const events = buildEvents(accountId, conversation, messages);
  result.skipped = events.skipped;
  const receivedAt = (deps.now?.() ?? new Date()).toISOString();
  for (const { deliveryId, payload } of events.list) {
    const parsed = parseChatwootEvent(payload);
    if (!parsed.ok) {
      result.invalid.push(`${deliveryId}: ${parsed.error}`);
      continue;
    }
    const jobId = jobIdFor(deps.hookId, deliveryId);
    if (await deps.queue.getJob(jobId)) {
      result.existing += 1;
      continue;
    }
    const data: SyncJobData = { hookId: deps.hookId, event: parsed.event.event, deliveryId, receivedAt, conversationId, payload };
    await deps.queue.add(data.event, data, { jobId });
    result.queued += 1;
  }
  return result;
}

interface BuiltEvent {
  deliveryId: string;
  payload: Record<string, unknown>;
}

/** API conversation + messages -> webhook-shaped events, oldest first. */
export function buildEvents(accountId: number, conversation: ApiConversation, messages: ApiMessage[]): { list: BuiltEvent[]; skipped: number } {
  const list: BuiltEvent[] = [];
  // Only the bridge's own notes (outgoing, private, our marker) are left out; a customer's message
  // whose source_id merely starts with the marker is synced (the worker checks the exact hook).
  const synced = messages.filter((m) => m.message_type !== 2 && !(m.message_type === 1 && m.private && (m.source_id ?? '').startsWith(SOURCE_ID_PREFIX)));
  const skipped = messages.length - synced.length;
  const publicMessages = synced.filter((m) => !m.private);
  // Webhook conversation objects carry their messages in the push format (integer type, epoch
  // seconds); conversation_created has the first message(s), later payloads the last one.
  const webhookConversation = (included: ApiMessage[]) => ({
    ...conversation,
    messages: included.map((m) => pushMessage(accountId, m)),
  });
  const first = publicMessages[0];
  list.push({
    deliveryId: `resync:${accountId}:conversation:${conversation.id}:created`,
    payload: { ...webhookConversation(first ? [first] : []), event: 'conversation_created' },
  });
  for (const m of synced) {
    list.push({
      deliveryId: `resync:${accountId}:message:${m.id}`,
      payload: {
        event: 'message_created',
        id: m.id,
        account: { id: accountId },
        inbox: typeof m.inbox_id === 'number' ? { id: m.inbox_id, name: null } : null,
        content: m.content,
        content_type: m.content_type ?? 'text',
        content_attributes: m.content_attributes ?? {},
        message_type: MESSAGE_TYPES[m.message_type] ?? 'incoming',
        private: m.private === true,
        created_at: new Date(m.created_at * 1000).toISOString(),
        source_id: m.source_id,
        sender: webhookSender(m.sender),
        conversation: webhookConversation(m.private ? [] : [m]),
        ...(Array.isArray(m.attachments) ? { attachments: m.attachments } : {}),
      },
    });
  }
  // Always, open included: a missed reopen is repaired too, and the sync's stale check makes a
  // status GLPI already has (or a newer one there) a no-op.
  const at = conversation.last_activity_at ?? 0;
  list.push({
    deliveryId: `resync:${accountId}:conversation:${conversation.id}:status:${conversation.status}:${at}`,
    payload: { ...webhookConversation([]), event: 'conversation_status_changed', changed_attributes: null },
  });
  return { list, skipped };
}

function pushMessage(accountId: number, m: ApiMessage): Record<string, unknown> {
  return { ...m, account_id: accountId, sender: m.sender ?? null };
}

/** Contacts have no `type` in webhook payloads (only the push variant has "contact"). */
function webhookSender(sender: unknown): unknown {
  if (typeof sender !== 'object' || sender === null) return null;
  const s = sender as Record<string, unknown>;
  if (s.type === 'contact') {
    const { type: _type, ...contact } = s;
    return contact;
  }
  return s;
}
