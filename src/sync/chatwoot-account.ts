import type { ChatwootApiClient } from '../chatwoot/api-client.js';
import { singleAccountId } from '../chatwoot/api-client.js';
import { DEFAULTS } from '../config/defaults.js';
import type { HookConfig } from '../config/schema.js';
import type { RedisConnection } from '../redis/connection.js';
import { hookSegment, type RedisKeyOptions } from '../redis/keys.js';

/** The write-back's Redis keys (and the hook's Chatwoot account, which both directions use). */
export function writeBackKeys(prefix: string, options: RedisKeyOptions = {}) {
  const h = (hookId: string) => hookSegment(hookId, options);
  return {
    /** Hash: attribute=<ticketId>, note=<ticketId>, noteId=<message id>. */
    done: (hookId: string, accountId: number, conversationId: number) => `${prefix}:writeback:${h(hookId)}:${accountId}:${conversationId}`,
    note: (hookId: string, messageId: number) => `${prefix}:echo:${h(hookId)}:note:${messageId}`,
    account: (hookId: string) => `${prefix}:writeback:${h(hookId)}:account`,
    /** Hash: "<accountId|?>:<conversationId>" -> JSON PendingWriteBack. */
    pending: (hookId: string) => `${prefix}:writeback:${h(hookId)}:pending`,
    /** The lock (HookLock) of the worker retrying that parked write-back right now. */
    claim: (hookId: string, field: string) => `${prefix}:writeback:${h(hookId)}:claim:${field}`,
  };
}

/**
 * The Chatwoot account a hook writes to (write-back and the GLPI -> Chatwoot direction):
 * CHATWOOT_ACCOUNT_ID, else the API token's only account (cached an hour). Never a payload's
 * `account.id`: conversation ids are per account, so an event naming another account would have
 * the bridge write into an unrelated conversation of its own account.
 */
export async function hookAccountId(
  redis: RedisConnection,
  keys: ReturnType<typeof writeBackKeys>,
  hook: HookConfig,
  client: ChatwootApiClient,
): Promise<number> {
  const configured = hook.chatwoot.api?.accountId;
  if (configured !== undefined) return configured;
  const cached = await redis.get(keys.account(hook.id));
  if (cached !== null) return Number(cached);
  const accountId = await singleAccountId(client, `hook "${hook.id}" has no CHATWOOT_ACCOUNT_ID (chatwootAccountId)`);
  await redis.set(keys.account(hook.id), String(accountId), 'EX', DEFAULTS.mappings.chatwootAccountTtlS);
  return accountId;
}

