import { describe, expect, it } from 'vitest';
import { toGlpiDate } from '../../src/sync/glpi-time.js';

describe('GLPI dates', () => {
  it('never formats an invalid date as NaN-NaN-NaN: it is a programming error', () => {
    expect(() => toGlpiDate(1e20 * 1000, 0)).toThrow(RangeError);
    expect(() => toGlpiDate('not a date', 60)).toThrow(RangeError);
    expect(toGlpiDate(0, 60)).toBe('1970-01-01 01:00:00');
  });
});
