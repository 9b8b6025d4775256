import { createHash } from 'node:crypto';

/** Name of the one BullMQ queue; jobs of every hook go through it, `hookId` is in the data. */
export const SYNC_QUEUE_NAME = 'sync';

/**
 * What the receiver stores and the worker consumes. The payload is the webhook body as received
 * (already validated by the receiver); the worker parses it again with the same schema, so a job
 * replayed after an upgrade is read with the fields the new code needs.
 */
export interface SyncJobData {
  hookId: string;
  event: string;
  /** X-Chatwoot-Delivery, or `sha256:<hex>` of the body for unsigned deliveries. */
  deliveryId: string;
  /** ISO time the receiver accepted it. */
  receivedAt: string;
  /** Chatwoot conversation id when the event has one (logs, failed list). */
  conversationId: number | undefined;
  payload: unknown;
}

/** Redis keys of the bridge. Everything lives under one prefix so several bridges can share a Redis. */
export function redisKeys(prefix: string) {
  return {
    /** BullMQ `prefix` option (BullMQ refuses an ioredis keyPrefix). */
    bullPrefix: `${prefix}:bull`,
    dedupe: (hookId: string, deliveryId: string) => `${prefix}:dedupe:${hookId}:${deliveryId}`,
    lock: (hookId: string) => `${prefix}:lock:${hookId}`,
    /** Hash: lastGlpiSuccessAt, glpiVersion, lastErrorAt, lastErrorCode, lastErrorAdvice (written by the worker, read by /ready). */
    hookState: (hookId: string) => `${prefix}:state:${hookId}`,
    /** Root of the sync engine's mapping keys for a hook. */
    mapping: (hookId: string) => `${prefix}:map:${hookId}`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * BullMQ job id for a delivery: the same delivery can never become two jobs. BullMQ refuses ids
 * with `:` and integer-looking ids, so the delivery id is hashed.
 */
export function jobIdFor(hookId: string, deliveryId: string): string {
  const digest = createHash('sha256').update(deliveryId).digest('hex').slice(0, 32);
  return `${hookId}.${digest}`;
}
