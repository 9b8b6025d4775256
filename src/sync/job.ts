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
