import { describe, expect, it } from 'vitest';
import { sign, verifySignature } from '../../src/chatwoot/signature.js';
import { tokenMatches } from '../../src/http/token.js';
import { signatureVector } from '../support/fixtures.js';

const vector = signatureVector();
const ts = vector.headers['X-Chatwoot-Timestamp'] as string;
const sig = vector.headers['X-Chatwoot-Signature'] as string;
const rawBody = Buffer.from(vector.body_base64, 'base64');
const atVectorTime = Number(ts) * 1000;

const base = { rawBody, signature: sig, timestamp: ts, secrets: [vector.secret], toleranceS: 300, nowMs: atVectorTime };

describe('Chatwoot webhook signature', () => {
  it('verifies the shared test vector over the raw bytes', () => {
    expect(rawBody.toString('utf8')).toBe(vector.body);
    expect(verifySignature(base)).toEqual({ ok: true });
    expect(sign(vector.secret, ts, rawBody)).toBe(sig);
  });

  it('refuses a signature made with another secret', () => {
    expect(verifySignature({ ...base, secrets: ['not-the-secret'] })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses the body-only HMAC (the classic mistake)', () => {
    expect(verifySignature({ ...base, signature: vector.signature_over_body_only_WRONG })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a tampered body', () => {
    const tampered = Buffer.from(vector.body.replace('HP-LYON-02', 'HP-LYON-03'));
    expect(verifySignature({ ...base, rawBody: tampered })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses the same JSON re-serialised with different spacing or escaping', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(vector.body), null, 1));
    const compactNode = Buffer.from(JSON.stringify(JSON.parse(vector.body)));
    expect(verifySignature({ ...base, rawBody: reserialised }).ok).toBe(false);
    // JSON.stringify does not escape "&" as \u0026 like Ruby does, so even compact output differs.
    expect(verifySignature({ ...base, rawBody: compactNode }).ok).toBe(false);
  });

  it('refuses a stale timestamp and a timestamp from the future beyond 300 s, accepts the edge', () => {
    expect(verifySignature({ ...base, nowMs: atVectorTime + 301_000 })).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature({ ...base, nowMs: atVectorTime - 301_000 })).toEqual({ ok: false, reason: 'future' });
    expect(verifySignature({ ...base, nowMs: atVectorTime + 300_000 })).toEqual({ ok: true });
  });

  it('accepts any of several secrets during rotation, in any order', () => {
    expect(verifySignature({ ...base, secrets: ['new-secret', vector.secret] })).toEqual({ ok: true });
    expect(verifySignature({ ...base, secrets: [vector.secret, 'new-secret'] })).toEqual({ ok: true });
  });

  it('reports missing and malformed headers', () => {
    expect(verifySignature({ ...base, signature: undefined })).toEqual({ ok: false, reason: 'missing-headers' });
    expect(verifySignature({ ...base, timestamp: undefined })).toEqual({ ok: false, reason: 'missing-headers' });
    expect(verifySignature({ ...base, signature: sig.slice(7) })).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature({ ...base, timestamp: 'yesterday' })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('compares URL tokens exactly', () => {
    expect(tokenMatches('s3cret-token', 's3cret-token')).toBe(true);
    expect(tokenMatches('s3cret-tokeN', 's3cret-token')).toBe(false);
    expect(tokenMatches(undefined, 's3cret-token')).toBe(false);
  });
});
