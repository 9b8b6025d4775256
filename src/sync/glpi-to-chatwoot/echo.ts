import type { ChatwootEvent } from '../../chatwoot/events.js';
import type { HookConfig } from '../../config/schema.js';
import type { RedisConnection } from '../../redis/connection.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { WriteBack } from '../chatwoot-to-glpi/write-back.js';
import { isItemMarkerOf, isItemSourceIdOf, ITEM_MARKER_ATTR } from '../markers.js';
import { G2cRecords } from './records.js';

/**
 * This hook's exact marker (content_attributes, or source_id until a channel replaces it) on an
 * outgoing message (customers cannot write outgoing messages). Pure.
 */
function hasOwnMarker(event: ChatwootEvent, hookId: string): boolean {
  if (event.event !== 'message_created' || event.message_type !== 'outgoing') return false;
  return isItemMarkerOf(event.content_attributes[ITEM_MARKER_ATTR], hookId) || isItemSourceIdOf(event.source_id, hookId);
}

/**
 * The one echo check the runtime wires (SyncHooks.isOwnEcho): the bridge's writes of both
 * directions coming back as webhooks. Every pure check first (markers, glpi_*-only updates, notes
 * this process posted); then, for an outgoing message, the write-back's stored note id and this
 * direction's recorded message id are looked up together, so the two commands go out on the one
 * connection without waiting for each other: one round trip, where one check after the other
 * cost two for every private note.
 */
export function createEchoCheck(writeBack: WriteBack, redis: RedisConnection, keys: RedisKeys): (event: ChatwootEvent, hook: HookConfig) => Promise<boolean> {
  const records = new Map<string, G2cRecords>();
  const recordsOf = (hookId: string): G2cRecords => {
    let found = records.get(hookId);
    if (found === undefined) records.set(hookId, (found = new G2cRecords(redis, keys, hookId)));
    return found;
  };
  return async (event, hook) => {
    if (writeBack.isOwnEcho(event, hook) || hasOwnMarker(event, hook.id)) return true;
    if (event.event !== 'message_created' || event.message_type !== 'outgoing') return false;
    const found = await Promise.all([writeBack.isStoredNote(event, hook.id), recordsOf(hook.id).isOwnMessage(event.id)]);
    return found.includes(true);
  };
}
