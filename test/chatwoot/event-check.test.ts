import { describe, expect, it } from 'vitest';
import { compileEventCheck, isSyncedEvent, parseChatwootEvent } from '../../src/chatwoot/events.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';

const checkChatwootEvent = compileEventCheck();

/**
 * checkChatwootEvent is the receiver's fast verdict (the schema compiled to JSON Schema); it must
 * be zod's verdict on every payload, or the api would answer 202 to what the worker then refuses.
 */
const synced = fixtureNames().filter((name) => isSyncedEvent(String(loadFixture(name).event)));

type Json = Record<string, unknown>;

/** Every path to a value in a JSON tree (objects and arrays), depth first. */
function paths(node: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (node === null || typeof node !== 'object') return [at];
  const entries = Array.isArray(node) ? node.map((v, i) => [i, v] as const) : Object.entries(node);
  return [at, ...entries.flatMap(([k, v]) => paths(v, [...at, k]))];
}

function withValue(payload: Json, path: (string | number)[], value: unknown): Json {
  const copy = structuredClone(payload);
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (last === undefined) return copy;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

// What a hostile sender puts in a field: wrong types, edges of numbers and dates, nothing at all.
const HOSTILE: unknown[] = [
  undefined, null, '', 'x', '<script>', -1, 0, 1.5, 1e20, -1e20, 2_147_483_647, true, [], {}, [1], { id: 1 },
  '2100-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '1971-01-01T00:00:00+14:00', '2037-12-31T23:59:59-12:00', '2024-02-30T00:00:00Z', 'not a date',
];

describe('checkChatwootEvent', () => {
  it.each(synced)('accepts fixture %s, as zod does', (name) => {
    const payload = loadFixture(name);
    expect(checkChatwootEvent(payload).ok).toBe(true);
    expect(parseChatwootEvent(payload).ok).toBe(true);
  });

  it.each(synced)('gives zod\'s verdict for every hostile value in every field of %s', (name) => {
    const payload = loadFixture(name);
    const disagreements: string[] = [];
    let refused = 0;
    for (const path of paths(payload)) {
      for (const value of HOSTILE) {
        const mutated = withValue(payload, path, value);
        const fast = checkChatwootEvent(mutated);
        const zod = parseChatwootEvent(mutated);
        if (fast.ok !== zod.ok) disagreements.push(`${path.join('.') || '(body)'} = ${JSON.stringify(value)}: check ${fast.ok}, zod ${zod.ok}`);
        if (!fast.ok) {
          refused += 1;
          // A refusal words zod's error, so the 400 says what is wrong.
          expect(fast.error).toBe(zod.ok ? '' : zod.error);
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(refused).toBeGreaterThan(0);
  });

  it('passes a field zod catches (an odd hmac_verified) instead of refusing the webhook for it', () => {
    const payload = withValue(loadFixture('message_created.incoming'), ['conversation', 'contact_inbox', 'hmac_verified'], 'yes');
    expect(parseChatwootEvent(payload).ok).toBe(true);
    expect(checkChatwootEvent(payload).ok).toBe(true);
  });

  it('refuses a message date outside 1971-2037 with "date out of range"', () => {
    for (const date of ['2100-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '2038-01-01T00:00:00Z']) {
      const verdict = checkChatwootEvent(withValue(loadFixture('message_created.incoming'), ['created_at'], date));
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) expect(verdict.error).toContain('date out of range');
    }
    expect(checkChatwootEvent(withValue(loadFixture('message_created.incoming'), ['created_at'], '2037-12-31T23:59:59-12:00')).ok).toBe(true);
  });
});
