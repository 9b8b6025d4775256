import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Chatwoot webhook fixtures (copied from the project's shared fixtures; see test/fixtures/chatwoot/README.md). */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/chatwoot/', import.meta.url));

export function fixtureNames(): string[] {
  return readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json') && f !== 'signature_test_vector.json');
}

/** A fixture as an object (deep copy each call, so tests may mutate it). */
export function loadFixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}${name.endsWith('.json') ? name : `${name}.json`}`, 'utf8')) as T;
}

export interface SignatureVector {
  secret: string;
  headers: Record<string, string>;
  body: string;
  body_base64: string;
  signature_over_body_only_WRONG: string;
}

export function signatureVector(): SignatureVector {
  return loadFixture<SignatureVector>('signature_test_vector.json');
}
