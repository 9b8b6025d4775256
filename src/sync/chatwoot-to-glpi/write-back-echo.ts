import type { ChatwootEvent } from '../../chatwoot/events.js';
import { isNoteSourceIdOf } from '../markers.js';

/**
 * How the bridge knows its own Chatwoot writes when their webhooks come back: its notes by the
 * `source_id` marker, its attribute writes by touching nothing but `glpi_*` keys. Pure checks;
 * the write-back adds the note ids it remembered (write-back.ts). The marker's format is in
 * markers.ts.
 */

/** Custom/additional attribute keys the bridge owns on conversations and contacts. */
const OWNED_KEY = /^glpi_/;
/** Changes Chatwoot reports with every update; they never make an update "someone else's". */
const NOISE_KEYS = new Set(['updated_at', 'last_activity_at']);

/**
 * The bridge's own note coming back: an outgoing private note carrying this hook's exact marker.
 * A customer controls the source_id of incoming messages on some channels (API inboxes), so a
 * prefix alone would let them have their messages dropped as echoes.
 */
export function isOwnNoteMarker(event: Extract<ChatwootEvent, { event: 'message_created' }>, hookId: string): boolean {
  return event.message_type === 'outgoing' && event.private && isNoteSourceIdOf(event.source_id, hookId);
}

type Changes = Record<string, { previous: unknown; current: unknown }>;

/**
 * True when an update changed nothing but attribute hashes in `hashKeys`, and inside them only
 * keys the bridge owns (glpi_*): the echo of our own write. Anything else changed alongside
 * (status, assignee, a label, another attribute) makes it a real update.
 */
export function onlyOwnedAttributeChanges(changes: Changes, hashKeys: string[]): boolean {
  const keys = Object.keys(changes).filter((k) => !NOISE_KEYS.has(k));
  if (keys.length === 0 || !keys.every((k) => hashKeys.includes(k))) return false;
  return keys.every((k) => {
    const change = changes[k]!;
    const before = asRecord(change.previous);
    const after = asRecord(change.current);
    const touched = new Set([...Object.keys(before), ...Object.keys(after)].filter((key) => !sameValue(before[key], after[key])));
    return touched.size > 0 && [...touched].every((key) => OWNED_KEY.test(key));
  });
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

