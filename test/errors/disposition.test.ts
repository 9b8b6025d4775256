import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  BridgeError,
  ConfigError,
  ERROR_CATALOGUE,
  GlpiError,
  HookDisabledError,
  InvalidEventError,
  JobAbortedError,
  LockBusyError,
  LockLostError,
  ReplicationLagError,
  classifyError,
  dispositionOf,
  errorAdvice,
  errorCode,
  failureOf,
  isTransient,
  networkFailure,
  type ErrorCode,
} from '../../src/errors/index.js';

function thrown(bug: () => unknown): unknown {
  try {
    bug();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('the retry decision', () => {
  it.each([
    ['URIError', () => decodeURIComponent('%E0%A4%A')],
    ['RangeError', () => new Date(1e20).toISOString()],
    ['TypeError', () => (JSON.parse('null') as { a: { b: number } }).a.b],
    ['ZodError', () => z.object({ id: z.number() }).parse({ id: 'x' })],
  ])('a %s from a payload is permanent, coded PROGRAMMING_ERROR, with advice', (_name, bug) => {
    const err = thrown(bug);
    expect(dispositionOf(err)).toBe('fail');
    expect(isTransient(err)).toBe(false);
    expect(errorCode(err)).toBe('PROGRAMMING_ERROR');
    expect(errorAdvice(err)).toMatch(/replay/);
    expect(classifyError(err).category).toBe('bug');
  });

  it('keeps a network failure wrapped in a TypeError (undici "fetch failed") retryable', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(dispositionOf(err)).toBe('retry');
    expect(classifyError(err).category).toBe('network');
    // The code found in the chain, not UNKNOWN: the failed list says what happened.
    expect(errorCode(err)).toBe('ECONNREFUSED');
    expect(failureOf(err, 0)).toMatchObject({ code: 'ECONNREFUSED', disposition: 'retry', advice: undefined });
    const deeper = new Error('request failed', { cause: new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }) });
    expect(classifyError(deeper)).toMatchObject({ code: 'ECONNRESET', category: 'network', disposition: 'retry' });
  });

  it('retries an error it does not recognise as UNKNOWN with the catalogue advice, keeping its own code', () => {
    expect(dispositionOf(new Error('something odd'))).toBe('retry');
    expect(classifyError(new Error('something odd'))).toEqual({
      code: 'UNKNOWN',
      disposition: ERROR_CATALOGUE.UNKNOWN.disposition,
      category: 'unknown',
      advice: ERROR_CATALOGUE.UNKNOWN.advice,
    });
    expect(errorCode('a string')).toBe('UNKNOWN');
    expect(errorCode(Object.assign(new Error('busy'), { code: 'EBUSY' }))).toBe('EBUSY');
    expect(dispositionOf('a string')).toBe('retry');
  });

  it('hands back, never fails, a job that met contention, a lost lease or a shutdown', () => {
    for (const err of [new LockBusyError('hook:acme'), new LockLostError('hook:acme'), new JobAbortedError('shutdown')]) {
      expect(dispositionOf(err), err.code).toBe('hand-back');
      expect(isTransient(err), err.code).toBe(true);
    }
  });

  it('gives every error class its catalogue entry, with the instance advice first', () => {
    const cases: [BridgeError, ErrorCode][] = [
      [new ConfigError('GLPI_API_URL is not a URL'), 'CONFIG_INVALID'],
      [new InvalidEventError('message_created: id: expected number'), 'EVENT_INVALID'],
      [new HookDisabledError('acme'), 'HOOK_DISABLED'],
      [new ReplicationLagError(1, 0), 'REDIS_NOT_REPLICATED'],
    ];
    for (const [err, code] of cases) {
      expect(err.code).toBe(code);
      expect(dispositionOf(err)).toBe(ERROR_CATALOGUE[code].disposition);
      expect(err.category).toBe(ERROR_CATALOGUE[code].category);
    }
    expect(new ConfigError('x').advice).toBe(ERROR_CATALOGUE.CONFIG_INVALID.advice);
    expect(new ConfigError('x', 'set GLPI_API_URL').advice).toBe('set GLPI_API_URL');
    expect(new HookDisabledError('acme').advice).toContain('replay --hook acme');
  });

  it('takes the caller\'s entry for a code the catalogue does not list', () => {
    const err = new BridgeError('ERROR_FROM_A_NEWER_GLPI', 'x', { entry: { disposition: 'fail', category: 'invalid-request', advice: 'see GLPI' } });
    expect(dispositionOf(err)).toBe('fail');
    expect(errorAdvice(err)).toBe('see GLPI');
  });
});

describe('how a request failed before any answer', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });
  it.each([
    ['the request deadline', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'timeout', undefined],
    ['undici headers timeout', coded('UND_ERR_HEADERS_TIMEOUT'), 'timeout', 'UND_ERR_HEADERS_TIMEOUT'],
    ['a TCP timeout wrapped by fetch', new TypeError('fetch failed', { cause: coded('ETIMEDOUT') }), 'timeout', 'ETIMEDOUT'],
    ['a bad certificate', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a self-signed certificate wrapped by fetch', new TypeError('fetch failed', { cause: coded('DEPTH_ZERO_SELF_SIGNED_CERT') }), 'tls', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
    ['a refused connection wrapped by fetch', new TypeError('fetch failed', { cause: coded('ECONNREFUSED') }), 'network', 'ECONNREFUSED'],
    ['an error without any code', new Error('socket hang up'), 'network', undefined],
    ['a thrown string', 'boom', 'network', undefined],
  ])('%s is %s', (_name, err, kind, code) => {
    expect(networkFailure(err)).toEqual({ kind, code });
  });
});

describe('GlpiError', () => {
  it('takes its entry from the catalogue, from the caller for an unlisted code, and UNKNOWN from BridgeError otherwise', () => {
    expect(new GlpiError('GLPI_TIMEOUT', 'slow')).toMatchObject({ disposition: ERROR_CATALOGUE.GLPI_TIMEOUT.disposition, advice: ERROR_CATALOGUE.GLPI_TIMEOUT.advice });
    const entry = { disposition: 'fail', category: 'input', advice: 'a newer GLPI refused it' } as const;
    expect(new GlpiError('ERROR_FROM_GLPI_12', 'no', { entry, endpoint: 'POST /Ticket' })).toMatchObject({ ...entry, code: 'ERROR_FROM_GLPI_12', endpoint: 'POST /Ticket' });
    // An untyped caller (JavaScript, a cast) without an entry: BridgeError's fallback.
    const untyped = new GlpiError('ERROR_NOBODY_KNOWS' as 'GLPI_TIMEOUT', 'odd');
    expect(untyped).toMatchObject({ code: 'ERROR_NOBODY_KNOWS', disposition: ERROR_CATALOGUE.UNKNOWN.disposition, advice: ERROR_CATALOGUE.UNKNOWN.advice });
  });
});
