import { createHmac, timingSafeEqual } from 'node:crypto';
import type { VerifyInput, VerifyResult } from '../util/signature.js';

/**
 * Chatwoot's webhook signature (lib/webhooks/trigger.rb): `X-Chatwoot-Signature: sha256=<hex>` where
 * hex = HMAC-SHA256(secret, `${X-Chatwoot-Timestamp}.${raw body}`). Always over the raw bytes:
 * re-serialised JSON differs (Ruby escapes &, <, > as \u0026...).
 */

export function sign(secret: string, timestamp: string | number, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  return `sha256=${mac}`;
}

export function verifySignature(input: VerifyInput): VerifyResult {
  const { signature, timestamp } = input;
  if (signature === undefined || signature === '' || timestamp === undefined || timestamp === '') {
    return { ok: false, reason: 'missing-headers' };
  }
  if (!/^\d{1,12}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/i.test(signature)) {
    return { ok: false, reason: 'malformed' };
  }
  const ageS = input.nowMs / 1000 - Number(timestamp);
  if (ageS > input.toleranceS) return { ok: false, reason: 'stale' };
  if (ageS < -input.toleranceS) return { ok: false, reason: 'future' };
  const given = Buffer.from(signature.slice('sha256='.length).toLowerCase(), 'hex');
  // Compare against every secret without stopping early, so timing does not reveal which one matched.
  let matched = false;
  for (const secret of input.secrets) {
    const expected = Buffer.from(sign(secret, timestamp, input.rawBody).slice('sha256='.length), 'hex');
    if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: 'mismatch' };
}
