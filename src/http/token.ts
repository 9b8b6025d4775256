import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// Both sides are HMAC'd with a per-process random key before comparing, so the comparison has a
// fixed length and leaks neither the token's length nor a common prefix.
const key = randomBytes(32);
const digest = (value: string) => createHmac('sha256', key).update(value).digest();
/** The configured tokens' digests, made once: `expected` is always a configured value, never a request's. */
const expectedDigests = new Map<string, Buffer>();

/** Constant-time comparison of a presented token (URL `?token=`, admin Bearer) with the configured one. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  let wanted = expectedDigests.get(expected);
  if (wanted === undefined) {
    wanted = digest(expected);
    expectedDigests.set(expected, wanted);
  }
  return timingSafeEqual(digest(given), wanted);
}
