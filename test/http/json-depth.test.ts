import { describe, expect, it } from 'vitest';
import { jsonDepth, nestedDeeperThan } from '../../src/http/json-depth.js';

const check = (text: string, max: number) => nestedDeeperThan(Buffer.from(text), text, max);

describe('nestedDeeperThan', () => {
  it('passes a shallow body with many brackets (the exact scan decides, not the count)', () => {
    const wide = JSON.stringify({ list: Array.from({ length: 200 }, (_, i) => ({ i, tags: [i] })) });
    expect(jsonDepth(wide)).toBe(4);
    expect(check(wide, 3)).toBe(true);
    expect(check(wide, 4)).toBe(false);
  });

  it('counts brackets inside strings only toward the quick bound, never toward the depth', () => {
    const text = JSON.stringify({ a: '{'.repeat(100), b: '[[[[' });
    expect(check(text, 1)).toBe(false);
    expect(check(`{"a":${'['.repeat(5)}${']'.repeat(5)}}`, 5)).toBe(true);
    expect(check(`{"a":${'['.repeat(4)}${']'.repeat(4)}}`, 5)).toBe(false);
  });
});
