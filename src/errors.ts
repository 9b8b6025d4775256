/**
 * One error type for the whole bridge. `code` is stable (logs, metrics, /ready, the failed list),
 * `transient` decides the retry policy, `advice` is what a person should do about it.
 * Everything that decides "retry or give up" goes through `isTransient()` below, nowhere else.
 */
export interface BridgeErrorOptions {
  transient: boolean;
  advice?: string;
  /** HTTP status of the remote answer, when there was one. */
  status?: number;
  cause?: unknown;
}

export class BridgeError extends Error {
  readonly code: string;
  readonly transient: boolean;
  readonly advice: string | undefined;
  readonly status: number | undefined;

  constructor(code: string, message: string, options: BridgeErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.transient = options.transient;
    this.advice = options.advice;
    this.status = options.status;
  }
}

/** The per-hook mutex is held by another job: retry later, never fail. */
export class LockBusyError extends BridgeError {
  constructor(resource: string, cause?: unknown) {
    super('LOCK_BUSY', `lock ${resource} is held by another job`, { transient: true, cause });
    this.name = 'LockBusyError';
  }
}

/** Configuration that cannot work; the process stops (at start) or the job fails (at run time). */
export class ConfigError extends BridgeError {
  constructor(message: string, advice?: string) {
    super('CONFIG_INVALID', message, { transient: false, advice });
    this.name = 'ConfigError';
  }
}

const TRANSIENT_NODE_CODES = new Set([
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

/**
 * The single retry decision. Bridge errors say what they are; network-level errors are transient;
 * anything unknown is treated as transient too, because the job's attempt limit bounds the cost
 * of retrying a bug while giving up early would lose an event for good.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof BridgeError) return err.transient;
  const code = errorCode(err);
  if (code !== undefined && TRANSIENT_NODE_CODES.has(code)) return true;
  if (err instanceof Error && err.name === 'ZodError') return false;
  return true;
}

/** Stable code of any error, for logs and metrics. */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof BridgeError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

export function errorAdvice(err: unknown): string | undefined {
  return err instanceof BridgeError ? err.advice : undefined;
}
