import { randomUUID } from 'node:crypto';
import { sign } from '../../src/chatwoot/signature.js';
import { signGlpiWebhook } from '../../src/glpi/webhook-signature.js';

/** Chatwoot's signed headers for a body, with a distinct delivery id unless one is given. */
export function signedHeaders(secret: string, body: string | Buffer, delivery: string = randomUUID(), nowMs = Date.now()): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'x-chatwoot-delivery': delivery,
    'x-chatwoot-timestamp': String(ts),
    'x-chatwoot-signature': sign(secret, ts, body),
  };
}

/** GLPI 11's signed headers for a raw body (no Content-Type: GLPI sends none). */
export function glpiSignedHeaders(secret: string, body: string | Buffer, nowMs = Date.now()): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return { 'x-glpi-signature': signGlpiWebhook(secret, body, ts), 'x-glpi-timestamp': String(ts) };
}
