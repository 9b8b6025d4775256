import { BridgeError } from './bridge-error.js';
import { ERROR_CATALOGUE, type ErrorCode } from './catalogue.js';
import type { Disposition, ErrorCategory } from './types.js';

/** What the bridge knows about any thrown value: its own errors, Node's and a JavaScript engine's. */
interface ErrorInfo {
  /** The error's stable code: its own, the network code found in its cause chain, or UNKNOWN. */
  code: string;
  disposition: Disposition;
  category: ErrorCategory;
  advice: string | undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
]);

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL/;

/**
 * Errors a JavaScript engine throws on a bug meeting a payload it did not expect (`decodeURI` on
 * a malformed URL, `new Date(1e20).toISOString()`, a property of undefined), and zod's when data
 * the code trusted does not fit. Retrying the same payload through the same code fails the same
 * way, so they are permanent: the job fails at once and is replayed once the code is fixed.
 */
const PROGRAMMING_ERRORS = [TypeError, RangeError, URIError, SyntaxError, ReferenceError, EvalError];

/**
 * The one decision about any error: its code, what to do with the job, and the advice. Bridge
 * errors carry their catalogue entry; network failures are retried; bugs meeting a payload fail;
 * anything else is UNKNOWN and retried (see the catalogue's UNKNOWN).
 */
export function classifyError(err: unknown): ErrorInfo {
  if (err instanceof BridgeError) return { code: err.code, disposition: err.disposition, category: err.category, advice: err.advice };
  const code = ownCode(err);
  const network = codesInChain(err).find((c) => NETWORK_CODES.has(c));
  if (network !== undefined) return { code: network, disposition: 'retry', category: 'network', advice: undefined };
  if (isProgrammingError(err)) {
    const bug = ERROR_CATALOGUE.PROGRAMMING_ERROR;
    return { code: code ?? 'PROGRAMMING_ERROR', disposition: bug.disposition, category: bug.category, advice: bug.advice };
  }
  const unknown = ERROR_CATALOGUE.UNKNOWN;
  return { code: code ?? 'UNKNOWN', disposition: unknown.disposition, category: unknown.category, advice: code === undefined ? unknown.advice : undefined };
}

/**
 * How a request failed before any answer, for the GLPI and Chatwoot clients: a timeout (the
 * request's own deadline or undici's), TLS, or any other network failure. `code` is the first code
 * in the error's cause chain (undici wraps them), for the message.
 */
export function networkFailure(err: unknown): { kind: 'timeout' | 'tls' | 'network'; code: string | undefined } {
  const code = codesInChain(err)[0];
  if ((err instanceof Error && err.name === 'TimeoutError') || (code !== undefined && TIMEOUT_CODES.has(code))) return { kind: 'timeout', code };
  if (code !== undefined && TLS_CODE.test(code)) return { kind: 'tls', code };
  return { kind: 'network', code };
}

/** retry, fail or hand the job back: what the worker (and anyone else deciding) asks. */
export function dispositionOf(err: unknown): Disposition {
  return classifyError(err).disposition;
}

/**
 * Worth another try (`retry` or `hand-back`): for the in-place retry loops (Chatwoot write-back,
 * the GLPI poll), which have no queue to hand a job back to.
 */
export function isTransient(err: unknown): boolean {
  return dispositionOf(err) !== 'fail';
}

/** Stable code of any error, for logs and metrics (UNKNOWN for an error the bridge does not recognise). */
export function errorCode(err: unknown): string {
  return classifyError(err).code;
}

export function errorAdvice(err: unknown): string | undefined {
  return classifyError(err).advice;
}

/** The error carries this catalogue code (typed: a misspelt code fails typecheck). */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return errorCode(err) === code;
}

function ownCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** The codes of the error and its causes, outermost first (undici wraps them: `TypeError: fetch failed`). */
function codesInChain(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = ownCode(e);
    if (code !== undefined) codes.push(code);
  }
  return codes;
}

function isProgrammingError(err: unknown): boolean {
  return PROGRAMMING_ERRORS.some((type) => err instanceof type) || (err instanceof Error && err.name === 'ZodError');
}
