import { describe, expect, it } from 'vitest';
import { BridgeError, errorAdvice, errorCode, isTransient } from '../src/errors.js';

describe('the retry decision', () => {
  it.each([
    ['URIError', () => decodeURIComponent('%E0%A4%A')],
    ['RangeError', () => new Date(1e20).toISOString()],
    ['TypeError', () => (JSON.parse('null') as { a: { b: number } }).a.b],
  ])('a %s from a payload is permanent, coded PROGRAMMING_ERROR, with advice', (_name, bug) => {
    let err: unknown;
    try {
      bug();
    } catch (e) {
      err = e;
    }
    expect(isTransient(err)).toBe(false);
    expect(errorCode(err)).toBe('PROGRAMMING_ERROR');
    expect(errorAdvice(err)).toMatch(/replay/);
  });

  it('keeps a network failure wrapped in a TypeError (undici "fetch failed") transient', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(isTransient(err)).toBe(true);
  });

  it('leaves bridge errors and unknown errors as they were', () => {
    expect(isTransient(new BridgeError('X', 'x', { transient: false }))).toBe(false);
    expect(isTransient(new Error('something odd'))).toBe(true);
  });
});

describe('GLPI dates', () => {
  it('never formats an invalid date as NaN-NaN-NaN: it is a programming error', async () => {
    const { toGlpiDate } = await import('../src/sync/glpi-time.js');
    expect(() => toGlpiDate(1e20 * 1000, 0)).toThrow(RangeError);
    expect(() => toGlpiDate('not a date', 60)).toThrow(RangeError);
    expect(toGlpiDate(0, 60)).toBe('1970-01-01 01:00:00');
  });
});
