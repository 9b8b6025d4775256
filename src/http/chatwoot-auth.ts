import { verifySignature } from '../chatwoot/signature.js';
import type { HookConfig } from '../config/schema.js';
import type { Refusal } from './request.js';
import { tokenMatches } from './token.js';

/** What a Chatwoot delivery presents as credentials: headers and the URL `?token=`, as plain data. */
export interface Credentials {
  signature: string | undefined;
  timestamp: string | undefined;
  /** An array when the query string repeats it (`?token=a&token=b`): refused with a 400. */
  token: string | string[] | undefined;
}

type AuthResult = { ok: true; signature: string | undefined } | { ok: false; reason: string };

/**
 * What can be refused before a byte of the body is read: a repeated `?token=`, and a request that
 * carries none of the hook's credentials at all. The full check needs the body.
 */
export function refuseEarly(hook: HookConfig, given: Credentials): Refusal | undefined {
  if (Array.isArray(given.token)) return { status: 400, error: 'invalid_query', message: 'token is given more than once' };
  const { webhookSecrets, webhookToken } = hook.chatwoot;
  if (webhookSecrets.length === 0 && webhookToken === undefined) return undefined; // allowUnauthenticated
  const signed = given.signature !== undefined || given.timestamp !== undefined;
  if (webhookSecrets.length > 0 && signed) return undefined;
  if (webhookToken !== undefined && given.token !== undefined) return undefined;
  const message = webhookSecrets.length > 0 ? 'missing X-Chatwoot-Signature or X-Chatwoot-Timestamp' : 'missing ?token=';
  return { status: 401, error: 'unauthorized', message };
}

/**
 * Signature first (Chatwoot >= 4.12); the URL token is the fallback for Chatwoot that does not
 * sign (and for its unsigned automation webhooks). A signature that is present and fails is final:
 * a correct token next to it does not rescue it.
 */
export function authenticate(hook: HookConfig, given: Credentials, rawBody: Buffer, nowMs: number, toleranceS: number): AuthResult {
  const { webhookSecrets, webhookToken } = hook.chatwoot;
  const token = typeof given.token === 'string' ? given.token : undefined;
  let failure = 'authentication required';
  if (webhookSecrets.length > 0) {
    const result = verifySignature({ rawBody, signature: given.signature, timestamp: given.timestamp, secrets: webhookSecrets, toleranceS, nowMs });
    if (result.ok) return { ok: true, signature: given.signature?.toLowerCase() };
    failure = {
      'missing-headers': 'missing X-Chatwoot-Signature or X-Chatwoot-Timestamp',
      malformed: 'malformed X-Chatwoot-Signature or X-Chatwoot-Timestamp',
      stale: `X-Chatwoot-Timestamp is more than ${toleranceS} s old`,
      future: `X-Chatwoot-Timestamp is more than ${toleranceS} s in the future`,
      mismatch: 'signature does not match the configured secret',
    }[result.reason];
    if (given.signature !== undefined || given.timestamp !== undefined) return { ok: false, reason: failure };
  }
  if (webhookToken !== undefined) {
    if (tokenMatches(token, webhookToken)) return { ok: true, signature: undefined };
    if (webhookSecrets.length === 0) failure = token === undefined ? 'missing ?token=' : 'wrong ?token=';
  }
  if (webhookSecrets.length === 0 && webhookToken === undefined && hook.allowUnauthenticated) return { ok: true, signature: undefined };
  return { ok: false, reason: failure };
}
