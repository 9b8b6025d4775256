import { describe, expect, it } from 'vitest';
import { CATALOGUE_TABLES } from '../../src/errors/catalogue.js';
import { BridgeError, ERROR_CATALOGUE, GLPI_ERROR_CODES, failureOf, failureReason, readFailure, type ErrorCode } from '../../src/errors/index.js';

const AT_MS = Date.parse('2026-12-01T10:00:00.000Z');
const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

describe('the error catalogue', () => {
  it('lists each code once, with a disposition, a category and advice', () => {
    expect(CODES.length).toBeGreaterThan(Object.keys(GLPI_ERROR_CODES).length);
    expect(new Set(CODES).size).toBe(CODES.length);
    // The catalogue spreads its tables into one object: a code in two tables would silently keep
    // only the last entry, so the tables' sizes must add up to the catalogue's.
    const tableSizes = Object.values(CATALOGUE_TABLES).map((table) => Object.keys(table).length);
    expect(tableSizes.reduce((sum, n) => sum + n, 0)).toBe(CODES.length);
    for (const code of CODES) {
      const entry = ERROR_CATALOGUE[code];
      expect(['retry', 'fail', 'hand-back'], code).toContain(entry.disposition);
      expect(entry.category, code).toBeTruthy();
      expect(entry.advice.length, code).toBeGreaterThan(10);
    }
  });
});

describe('failures stored typed and read typed', () => {
  it.each(CODES)('%s round-trips through the stored failure and through the reason alone', (code) => {
    const failure = failureOf(new BridgeError(code, `something about ${code.toLowerCase()} happened`), AT_MS);
    const entry = ERROR_CATALOGUE[code];
    expect(failure).toEqual({
      code,
      disposition: entry.disposition === 'fail' ? 'fail' : 'retry',
      advice: entry.advice,
      message: `something about ${code.toLowerCase()} happened`,
      at: '2026-12-01T10:00:00.000Z',
    });
    const reason = failureReason(failure);
    // What `failed` shows: from the stored failure, from the worker's "CODE: message" reason, and
    // from a reason that names the code inside the message (how GLPI errors read).
    expect(readFailure(JSON.parse(JSON.stringify(failure)), reason)).toEqual({ code, advice: entry.advice });
    expect(readFailure(undefined, reason)).toEqual({ code, advice: entry.advice });
    expect(readFailure(undefined, `GLPI POST /Ticket answered 400 ${code}: refused`)).toEqual({ code, advice: entry.advice });
  });

  it('stores an error it does not recognise as UNKNOWN, and a foreign code as it is', () => {
    const unknown = failureOf(new Error('boom'), AT_MS);
    expect(unknown).toMatchObject({ code: 'UNKNOWN', disposition: 'retry', advice: ERROR_CATALOGUE.UNKNOWN.advice });
    expect(failureReason(unknown)).toBe('UNKNOWN: boom');
    const refused = failureOf(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }), AT_MS);
    expect(failureReason(refused)).toBe('connect ECONNREFUSED 10.0.0.1:443');
    expect(readFailure(undefined, 'ECONNREFUSED: connect refused')).toEqual({ code: 'ECONNREFUSED', advice: null });
  });

  it('reads what the previous release stored (transient instead of disposition)', () => {
    const stored = { code: 'ERROR_RIGHT_MISSING', advice: 'grant it', message: 'x', at: '2026-11-01T00:00:00.000Z', transient: false };
    expect(readFailure(stored, 'whatever')).toEqual({ code: 'ERROR_RIGHT_MISSING', advice: 'grant it' });
    // Stored without advice: the catalogue's.
    expect(readFailure({ code: 'GLPI_TIMEOUT' }, 'x').advice).toBe(ERROR_CATALOGUE.GLPI_TIMEOUT.advice);
  });

  it('finds codes of GLPI, Chatwoot and the bridge in a reason, and nothing in a reason without one', () => {
    expect(readFailure(undefined, 'Chatwoot POST ... answered 401: Invalid Access Token CHATWOOT_UNAUTHORIZED').advice).toMatch(/CHATWOOT_API_TOKEN/);
    // Codes the previous prefix list (ERROR|GLPI|CHATWOOT|LOCK|CONFIG) missed.
    for (const code of ['HOOK_DISABLED', 'EVENT_INVALID', 'JOB_ABORTED', 'REDIS_NOT_REPLICATED', 'PROGRAMMING_ERROR'] as const) {
      expect(readFailure(undefined, `job failed: ${code} (see advice)`).code).toBe(code);
    }
    expect(readFailure(undefined, 'something odd')).toEqual({ code: null, advice: null });
    expect(readFailure({ code: 42 }, 'NOT A CODE here')).toEqual({ code: null, advice: null });
  });
});
