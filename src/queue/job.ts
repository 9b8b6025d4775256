import { createHash } from 'node:crypto';

/** Name of the one BullMQ queue; jobs of every hook go through it, `hookId` is in the data. */
export const SYNC_QUEUE_NAME = 'sync';

/**
 * BullMQ job id for a delivery: the same delivery can never become two jobs. BullMQ refuses ids
 * with `:` and integer-looking ids, so the delivery id is hashed.
 */
export function jobIdFor(hookId: string, deliveryId: string): string {
  const digest = createHash('sha256').update(deliveryId).digest('hex').slice(0, 32);
  return `${hookId}.${digest}`;
}
