import { createHmac, timingSafeEqual } from 'node:crypto';
import type { VerifyInput, VerifyResult } from '../util/signature.js';

/**
 * GLPI 11's webhook signature (observed on 11.0.8, shared/reference/glpi-changes-observed.md §3):
 * `X-GLPI-signature` = lowercase hex HMAC-SHA256(secret, raw body bytes followed by the
 * `X-GLPI-timestamp` decimal string), no separator. Always over the raw bytes: GLPI pretty-prints
 * with `\/` escapes, which re-serialised JSON would not reproduce.
 *
 * GLPI computes the signature when the event is queued and re-sends it unchanged on every retry
 * (minutes later), so the tolerance is wide and replays are handled by deduplication instead.
 */

export function signGlpiWebhook(secret: string, rawBody: Buffer | string, timestamp: string | number): string {
  return createHmac('sha256', secret).update(rawBody).update(String(timestamp)).digest('hex');
}

/** Same inputs and answers as Chatwoot's check (chatwoot/signature.ts); only the signed bytes differ. */
export function verifyGlpiWebhook(input: VerifyInput): VerifyResult {
  const { signature, timestamp } = input;
  if (signature === undefined || signature === '' || timestamp === undefined || timestamp === '') return { ok: false, reason: 'missing-headers' };
  if (!/^\d{1,12}$/.test(timestamp) || !/^[0-9a-f]{64}$/i.test(signature)) return { ok: false, reason: 'malformed' };
  const ageS = input.nowMs / 1000 - Number(timestamp);
  if (ageS > input.toleranceS) return { ok: false, reason: 'stale' };
  if (ageS < -input.toleranceS) return { ok: false, reason: 'future' };
  const given = Buffer.from(signature.toLowerCase(), 'hex');
  // Every secret is compared, without stopping early: timing does not tell which one matched.
  let matched = false;
  for (const secret of input.secrets) {
    const expected = Buffer.from(signGlpiWebhook(secret, input.rawBody, timestamp), 'hex');
    if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/**
 * Answer to GLPI's CRA challenge (`GET <url>?crc_token=<T>`): hex HMAC-SHA256(secret, T). Only a
 * token of GLPI's own shape (64 hex characters, itself an HMAC) is answered: otherwise the route
 * would sign any text for anyone, e.g. a forged body followed by a timestamp.
 */
export function answerCraChallenge(secret: string, token: string): string | undefined {
  if (!/^[0-9a-f]{64}$/i.test(token)) return undefined;
  return createHmac('sha256', secret).update(token).digest('hex');
}
