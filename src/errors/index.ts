/**
 * The error catalogue and the one retry decision (issue #12). Every code the bridge gives an
 * error is in catalogue.ts (GLPI's and Chatwoot's tables in their own files); every error class is
 * a BridgeError whose disposition, category and advice come from there; dispositionOf() is what
 * the worker and anyone else deciding "retry, fail or hand back" asks.
 */
export type { CatalogueEntry } from './types.js';
export { ERROR_CATALOGUE, type ErrorCode } from './catalogue.js';
export { GLPI_ERROR_CODES, RIGHTS_ADVICE, isGlpiOwnCode } from './glpi-codes.js';
export {
  AddressRefusedError,
  BridgeError,
  ConfigError,
  HookDisabledError,
  InvalidEventError,
  JobAbortedError,
  LockBusyError,
  LockLostError,
  ReplicationLagError,
} from './bridge-error.js';
export { GlpiError, isGlpiError, isGlpiNotFound, type GlpiErrorOptions } from './glpi-error.js';
export { ChatwootError } from './chatwoot-error.js';
export { classifyError, dispositionOf, errorAdvice, errorCode, hasCode, isTransient, networkFailure } from './disposition.js';
export { failureOf, failureReason, readFailure, type JobFailure } from './failure.js';
