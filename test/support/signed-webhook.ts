import { randomUUID } from 'node:crypto';
import { sign } from '../../src/chatwoot/signature.js';

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
