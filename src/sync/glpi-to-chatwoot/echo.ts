import type { ChatwootEvent } from '../../chatwoot/events.js';
import { G2C_ATTRIBUTE, G2C_SOURCE_PREFIX } from './chatwoot-post.js';
import type { G2cRecords } from './records.js';

const MARKER = /^(.+):ticket:\d{1,18}:[fs]\d{1,18}$/;

/**
 * The `message_created` webhook of a message the bridge posted from GLPI: never synced back to
 * GLPI. Recognised by this hook's exact marker (content_attributes, or source_id until a channel
 * replaces it) on an outgoing message (customers cannot write outgoing messages), else by the
 * message id recorded when it was posted.
 */
export async function isGlpiToChatwootEcho(event: ChatwootEvent, hookId: string, records: Pick<G2cRecords, 'isOwnMessage'>): Promise<boolean> {
  if (event.event !== 'message_created' || event.message_type !== 'outgoing') return false;
  const attribute = event.content_attributes[G2C_ATTRIBUTE];
  if (typeof attribute === 'string' && MARKER.exec(attribute)?.[1] === hookId) return true;
  const source = event.source_id;
  if (source !== null && source !== undefined && source.startsWith(G2C_SOURCE_PREFIX) && MARKER.exec(source.slice(G2C_SOURCE_PREFIX.length))?.[1] === hookId) return true;
  return records.isOwnMessage(event.id);
}
