import { createHash } from 'node:crypto';
import { isSyncedEvent, stripPubsubTokens, type ChatwootEventInput, type EventCheck } from '../chatwoot/events.js';
import { DEFAULTS } from '../config/defaults.js';
import { nestedDeeperThan } from './json-depth.js';
import type { Refusal } from './request.js';

/**
 * What the receiver makes of a Chatwoot body, from plain data (the raw bytes and whether the hook
 * is enabled) to a verdict the route answers with. `event` is the metric label: the synced event's
 * name, `other`, or `unknown` before a name was read.
 */
type EventVerdict =
  | { kind: 'refused'; event: string; refusal: Refusal; eventName?: string }
  | { kind: 'ignored'; event: string; reason: string }
  | { kind: 'accepted'; event: string; eventName: string; parsed: ChatwootEventInput; payload: Record<string, unknown> };

const refused = (event: string, error: string, message: string, eventName?: string): EventVerdict => ({ kind: 'refused', event, refusal: { status: 400, error, message }, eventName });

export function readChatwootEvent(rawBody: Buffer, hookEnabled: boolean, checkEvent: EventCheck): EventVerdict {
  const text = rawBody.toString('utf8');
  if (nestedDeeperThan(rawBody, text, DEFAULTS.maxJsonDepth)) return refused('unknown', 'invalid_payload', `body is nested more than ${DEFAULTS.maxJsonDepth} levels deep`);
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    return refused('unknown', 'invalid_json', `body is not JSON: ${(err as Error).message}`);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return refused('unknown', 'invalid_payload', 'body must be a JSON object');
  const eventName = (payload as { event?: unknown }).event;
  if (typeof eventName !== 'string' || eventName === '') return refused('unknown', 'invalid_payload', 'event: missing, the body has no "event" name');
  if (!isSyncedEvent(eventName)) {
    return { kind: 'ignored', event: 'other', reason: hookEnabled ? `event "${eventName.slice(0, 64)}" is not synced to GLPI` : 'hook is disabled' };
  }
  if (!hookEnabled) return { kind: 'ignored', event: eventName, reason: 'hook is disabled' };
  const parsed = checkEvent(payload);
  if (!parsed.ok) return refused(eventName, 'invalid_payload', `${eventName}: ${parsed.error}`, eventName);
  return { kind: 'accepted', event: eventName, eventName, parsed: parsed.event, payload: stripPubsubTokens(payload as Record<string, unknown>) };
}

/** Chatwoot's delivery id when it is a sane one, else a digest of the body (the same bytes, the same id). */
export function deliveryIdOf(deliveryHeader: string | undefined, rawBody: Buffer): string {
  return deliveryHeader !== undefined && /^[A-Za-z0-9._-]{1,128}$/.test(deliveryHeader) ? deliveryHeader : `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
}

/**
 * The ids a delivery is deduplicated by: its delivery id, its signature (the same signed bytes
 * replayed inside the tolerance window under a new or no delivery id are the same delivery;
 * Chatwoot's own retries re-sign with a fresh timestamp and keep their delivery id, so they are
 * still recognised by that), and its content keys.
 */
export function dedupeIdsOf(deliveryId: string, signature: string | undefined, event: ChatwootEventInput): string[] {
  return [deliveryId, ...(signature !== undefined ? [`signature:${signature}`] : []), ...contentDedupeIds(event)];
}

/**
 * Keys that identify the same Chatwoot event when it is sent again under a new delivery id
 * (EventDispatcherJob retries re-run the listener with a fresh X-Chatwoot-Delivery).
 */
function contentDedupeIds(event: ChatwootEventInput): string[] {
  switch (event.event) {
    case 'message_created':
      return [`message:${event.id}`];
    case 'conversation_created':
      return [`conversation-created:${event.id}`];
    case 'contact_created':
      return [`contact-created:${event.id}`];
    default:
      return [];
  }
}
