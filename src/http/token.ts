import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// Both sides are HMAC'd with a per-process random key before comparing, so the comparison has a
// fixed length and leaks neither the token's length nor a common prefix.
const key = randomBytes(32);
const digest = (value: string) => createHmac('sha256', key).update(value).digest();

/** Constant-time comparison of a presented token (URL `?token=`, admin Bearer) with the configured one. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}
