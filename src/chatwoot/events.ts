import { Ajv } from 'ajv';
import { z } from 'zod';

/**
 * Chatwoot account-webhook payloads, parsed loosely: only the fields the sync uses are declared,
 * unknown keys are dropped, and every field that real payloads leave out or null is optional.
 * Facts behind each choice: shared/reference/chatwoot-webhooks.md sections 2 and 7.
 */

/** Events the bridge syncs; everything else is answered 200 "ignored" by the receiver. */
const SYNCED_EVENTS = [
  'contact_created',
  'contact_updated',
  'conversation_created',
  'conversation_updated',
  'conversation_status_changed',
  'message_created',
] as const;
type SyncedEventName = (typeof SYNCED_EVENTS)[number];

export function isSyncedEvent(event: string): event is SyncedEventName {
  return (SYNCED_EVENTS as readonly string[]).includes(event);
}

const id = z.number().int().nonnegative();

/**
 * Dates the sync writes to GLPI, which keeps them in MySQL TIMESTAMP columns (1970 to 2038): a day
 * of margin either side for GLPI's zone offset. Anything outside is not a Chatwoot date but hostile
 * input, refused at the edge with a 400 instead of reaching `toISOString()` (RangeError) or GLPI
 * (`NaN-NaN-NaN`).
 */
const MIN_EPOCH_S = 86_400;
const MAX_EPOCH_S = 2_147_483_647 - 86_400;
const epochSeconds = z.number().min(MIN_EPOCH_S, 'date out of range').max(MAX_EPOCH_S, 'date out of range');
/**
 * ISO dates: years 1971 to 2037, inside that range whatever zone offset GLPI applies. A pattern, not
 * a refine, so that the receiver's compiled check (checkChatwootEvent) enforces it as zod does.
 */
const isoDate = z.iso.datetime({ offset: true }).regex(/^(?:197[1-9]|19[89]\d|20[0-2]\d|203[0-7])-/, 'date out of range');
const nullableString = z.string().nullish().transform((v) => v ?? null);
const record = z.record(z.string(), z.unknown());
const recordOrEmpty = record.nullish().transform((v) => v ?? {});

/** `[{attr: {previous_value, current_value}}, ...]`, or null (conversation_status_changed, SLA updates). */
const changedAttributes = z
  .array(z.record(z.string(), z.object({ previous_value: z.unknown(), current_value: z.unknown() })))
  .nullish()
  .transform((list) => {
    const out: Record<string, { previous: unknown; current: unknown }> = {};
    for (const entry of list ?? []) {
      for (const [key, change] of Object.entries(entry)) out[key] = { previous: change.previous_value, current: change.current_value };
    }
    return out;
  });

/** `Contact#webhook_data` (no `type` key) and its push variant (`type: "contact"`). */
const contactSchema = z.object({
  id,
  name: nullableString,
  email: nullableString,
  phone_number: nullableString,
  identifier: nullableString,
  custom_attributes: recordOrEmpty,
  additional_attributes: recordOrEmpty,
  blocked: z.boolean().optional(),
});
export type ChatwootContact = z.output<typeof contactSchema>;

/** A message author: contact (no `type`), `user` (agent), `agent_bot`, `captain_assistant`. */
const senderSchema = z.looseObject({ id: id.optional(), name: nullableString, email: nullableString, type: z.string().optional() });

const attachmentSchema = z.object({
  id,
  file_type: z.string(),
  extension: nullableString,
  content_type: nullableString,
  data_url: nullableString,
  thumb_url: nullableString,
  file_size: z.number().nullish(),
  fallback_title: nullableString,
  coordinates_lat: z.number().nullish(),
  coordinates_long: z.number().nullish(),
});
export type ChatwootAttachment = z.output<typeof attachmentSchema>;

/** Chatwoot's message_type names, indexed by the integer the API and push payloads use. */
export const MESSAGE_TYPES = ['incoming', 'outgoing', 'activity', 'template'] as const;
type MessageType = (typeof MESSAGE_TYPES)[number];

/** Element of `conversation.messages[]`: integer message_type and epoch-seconds created_at (trap 2). */
const pushMessageSchema = z.object({
  id,
  content: nullableString,
  message_type: z.number().int().min(0).max(3).transform((n) => MESSAGE_TYPES[n] as MessageType),
  created_at: epochSeconds.transform((s) => new Date(s * 1000).toISOString()),
  private: z.boolean().default(false),
  content_type: nullableString,
  sender_type: nullableString,
  sender_id: id.nullish(),
  sender: senderSchema.nullish(),
  attachments: z.array(attachmentSchema).optional().transform((v) => v ?? []),
});
export type ChatwootPushMessage = z.output<typeof pushMessageSchema>;

const CONVERSATION_STATUSES = ['open', 'resolved', 'pending', 'snoozed'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

/** `Conversations::EventDataPresenter#webhook_data`. `id` is the per-account display id (trap 3). */
const conversationSchema = z.object({
  id,
  inbox_id: id.nullish(),
  channel: nullableString,
  status: z.enum(CONVERSATION_STATUSES),
  messages: z.array(pushMessageSchema).nullish().transform((v) => v ?? []),
  meta: z
    .object({
      sender: contactSchema.nullish(),
      assignee: z.looseObject({ id: id.optional(), name: nullableString, type: z.string().optional() }).nullish(),
      hmac_verified: z.boolean().nullish().catch(undefined),
    })
    .nullish(),
  contact_inbox: z.object({ contact_id: id.nullish(), hmac_verified: z.boolean().nullish().catch(undefined) }).nullish(),
  additional_attributes: recordOrEmpty,
  custom_attributes: recordOrEmpty,
  labels: z.array(z.string()).nullish(),
  snoozed_until: nullableString,
  priority: nullableString,
  created_at: epochSeconds.nullish(),
  /** Only compared (which snapshot is newer), never written to GLPI: any finite time up to 2038. */
  updated_at: z.number().min(0, 'date out of range').max(MAX_EPOCH_S, 'date out of range').nullish(),
});
export type ChatwootConversation = z.output<typeof conversationSchema>;

/** `Message#webhook_data`: string message_type, ISO created_at, nested conversation. */
const messageSchema = z.object({
  id,
  account: z.object({ id }).nullish(),
  inbox: z.object({ id, name: nullableString }).nullish(),
  content: nullableString,
  content_type: nullableString,
  content_attributes: recordOrEmpty,
  message_type: z.enum(MESSAGE_TYPES),
  private: z.boolean().default(false),
  created_at: isoDate,
  source_id: nullableString,
  /** Contact (no type), user/agent_bot/captain (typed), or null for automated messages. */
  sender: senderSchema.nullish(),
  conversation: conversationSchema,
  attachments: z.array(attachmentSchema).optional().transform((v) => v ?? []),
});
export type ChatwootMessage = z.output<typeof messageSchema>;

const accountRef = z.object({ id }).nullish();

const contactCreatedSchema = contactSchema.extend({ event: z.literal('contact_created'), account: accountRef });
const contactUpdatedSchema = contactSchema.extend({
  event: z.literal('contact_updated'),
  account: accountRef,
  changed_attributes: changedAttributes,
});
const conversationCreatedSchema = conversationSchema.extend({ event: z.literal('conversation_created') });
const conversationUpdatedSchema = conversationSchema.extend({
  event: z.literal('conversation_updated'),
  changed_attributes: changedAttributes,
});
const conversationStatusChangedSchema = conversationSchema.extend({
  event: z.literal('conversation_status_changed'),
  changed_attributes: changedAttributes,
});
const messageCreatedSchema = messageSchema.extend({ event: z.literal('message_created') });

const chatwootEventSchema = z.discriminatedUnion('event', [
  contactCreatedSchema,
  contactUpdatedSchema,
  conversationCreatedSchema,
  conversationUpdatedSchema,
  conversationStatusChangedSchema,
  messageCreatedSchema,
]);

export type ChatwootEvent = z.output<typeof chatwootEventSchema>;
/** A payload as Chatwoot sent it, known to fit the schema (checkChatwootEvent); the worker parses it. */
export type ChatwootEventInput = z.input<typeof chatwootEventSchema>;
export type ContactEvent = z.output<typeof contactCreatedSchema> | z.output<typeof contactUpdatedSchema>;
export type ConversationEvent =
  | z.output<typeof conversationCreatedSchema>
  | z.output<typeof conversationUpdatedSchema>
  | z.output<typeof conversationStatusChangedSchema>;
export type MessageEvent = z.output<typeof messageCreatedSchema>;

type ParseResult = { ok: true; event: ChatwootEvent } | { ok: false; error: string };

/** Human-readable zod issues: "conversation.status: Invalid option: expected one of ...". */
function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}

/** Parses a payload of a synced event. Callers check `isSyncedEvent` first for a clearer "ignored". */
export function parseChatwootEvent(payload: unknown): ParseResult {
  let parsed;
  try {
    parsed = chatwootEventSchema.safeParse(payload);
  } catch (err) {
    // A transform that throws on a value its schema let through is still the payload's fault.
    return { ok: false, error: `(body): ${err instanceof Error ? err.message : String(err)}` };
  }
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false, error: describeZodError(parsed.error) };
}

/** The receiver's verdict on a synced event's payload (see compileEventCheck). */
export type EventCheck = (payload: unknown) => { ok: true; event: ChatwootEventInput } | { ok: false; error: string };

/**
 * Builds the receiver's check once, when the webhook plugin registers (tens of ms): a verdict on a
 * synced event's payload without the parsed copy zod builds (the worker parses the job's payload
 * again anyway). The same schema, turned into JSON Schema and compiled by ajv: in the api under
 * load it cost about a third of zod's time per webhook (docs/performance.md). Every check of the
 * schema is expressible in JSON Schema (no refine: the date range is a pattern), so what the
 * compiled check passes, zod accepts. Where it refuses, zod decides and words the error (its
 * `.catch()` fields accept what the JSON Schema calls a wrong type), so the verdict is always zod's;
 * test/chatwoot/event-check.test.ts and test/reliability/fuzz.test.ts hold it to that.
 */
export function compileEventCheck(): EventCheck {
  // unrepresentable: 'throw' (the default): a check JSON Schema cannot carry fails here, not silently.
  const validate = new Ajv({ strict: false, validateFormats: false }).compile(z.toJSONSchema(chatwootEventSchema, { io: 'input', target: 'draft-7' }));
  return (payload) => {
    // The cast is what the check just established.
    if (validate(payload)) return { ok: true, event: payload as ChatwootEventInput };
    const parsed = parseChatwootEvent(payload);
    return parsed.ok ? { ok: true, event: payload as ChatwootEventInput } : parsed;
  };
}

/** The conversation display id an event concerns, for logs, job data and the failed list. */
export function conversationIdOf(event: ChatwootEvent | ChatwootEventInput): number | undefined {
  switch (event.event) {
    case 'message_created':
      return event.conversation.id;
    case 'conversation_created':
    case 'conversation_updated':
    case 'conversation_status_changed':
      return event.id;
    default:
      return undefined;
  }
}

/** The Chatwoot contact behind an event (the customer), when the payload carries one. */
export function contactOf(event: ChatwootEvent): ChatwootContact | undefined {
  switch (event.event) {
    case 'contact_created':
    case 'contact_updated':
      return event;
    case 'message_created':
      return event.conversation.meta?.sender ?? (event.message_type === 'incoming' ? contactFromSender(event.sender) : undefined);
    default:
      return event.meta?.sender ?? undefined;
  }
}

/**
 * Chatwoot verified the customer's identity (widget identity validation, `hmac_verified`). Only
 * conversation payloads say so; contact events never do. The HMAC covers the contact's
 * `identifier` only, not its e-mail or phone (see README, Security).
 */
export function identityVerified(event: ChatwootEvent): boolean {
  const conversation =
    event.event === 'message_created' ? event.conversation : event.event === 'contact_created' || event.event === 'contact_updated' ? undefined : event;
  if (conversation === undefined) return false;
  return conversation.contact_inbox?.hmac_verified === true || conversation.meta?.hmac_verified === true;
}

function contactFromSender(sender: ChatwootMessage['sender']): ChatwootContact | undefined {
  if (!sender || sender.id === undefined) return undefined;
  const parsed = contactSchema.safeParse(sender);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Removes the contact's ActionCable `pubsub_token` (a credential Chatwoot puts in every
 * conversation payload) from a webhook body before it is stored in Redis or the spool. Runs after
 * the signature check, which needs the untouched bytes; the sync never reads the token.
 */
export function stripPubsubTokens(payload: Record<string, unknown>): Record<string, unknown> {
  const scrub = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const inbox = (node as { contact_inbox?: unknown }).contact_inbox;
    if (inbox !== null && typeof inbox === 'object' && 'pubsub_token' in inbox) delete (inbox as Record<string, unknown>).pubsub_token;
    scrub((node as { conversation?: unknown }).conversation);
    scrub((node as { current_conversation?: unknown }).current_conversation);
  };
  scrub(payload);
  return payload;
}
