import { z } from 'zod';
import { catalogueEntry, isErrorCode } from './catalogue.js';
import { classifyError } from './disposition.js';

/**
 * Why a job ended in the failed list, stored typed in its data (`lastError`) by the worker and read
 * by `failed` (src/ops/queue-ops.ts).
 */
export interface JobFailure {
  /** The catalogue code, a foreign one (ECONNREFUSED), or UNKNOWN. */
  code: string;
  /** `fail`: failed at once (retrying cannot help); `retry`: its attempts ran out on a retryable error. */
  disposition: 'retry' | 'fail';
  advice: string | undefined;
  message: string;
  /** ISO 8601. */
  at: string;
}

export function failureOf(err: unknown, atMs: number): JobFailure {
  const info = classifyError(err);
  return {
    code: info.code,
    // A hand-back is never stored (the job goes back to the queue); were it, it was retried.
    disposition: info.disposition === 'fail' ? 'fail' : 'retry',
    advice: info.advice ?? catalogueEntry(info.code)?.advice,
    message: err instanceof Error ? err.message : String(err),
    at: new Date(atMs).toISOString(),
  };
}

/** "CODE: message", BullMQ's failedReason: the failed list finds the code even without the stored data. */
export function failureReason(failure: Pick<JobFailure, 'code' | 'message'>): string {
  return failure.message.includes(failure.code) ? failure.message : `${failure.code}: ${failure.message}`;
}

/**
 * What `failed` shows for a job: the stored failure (older releases stored `transient` instead of
 * `disposition`; only code and advice are read); without one, the code found in the reason.
 */
const StoredFailure = z.object({ code: z.string().min(1), advice: z.string().nullish() });

export function readFailure(stored: unknown, reason: string): { code: string | null; advice: string | null } {
  const parsed = StoredFailure.safeParse(stored);
  const code = parsed.success ? parsed.data.code : codeInReason(reason);
  if (code === undefined) return { code: null, advice: null };
  const advice = (parsed.success ? parsed.data.advice : undefined) ?? catalogueEntry(code)?.advice ?? null;
  return { code, advice };
}

const LEADING_CODE = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*): /;
const WORDS = /[A-Z][A-Z0-9_]*/g;

/**
 * The reason's leading `CODE: ` (what the worker writes, catalogue code or not), else the first
 * catalogue code in it (GLPI errors name their code inside the message:
 * "GLPI POST /User answered 400 ERROR_GLPI_ADD: ...").
 */
function codeInReason(reason: string): string | undefined {
  const leading = LEADING_CODE.exec(reason)?.[1];
  if (leading !== undefined) return leading;
  return reason.match(WORDS)?.find((word) => isErrorCode(word));
}
