import { CHATWOOT_ERROR_CODES } from './chatwoot-codes.js';
import { BRIDGE_GLPI_CODES, GLPI_ERROR_CODES } from './glpi-codes.js';
import type { CatalogueEntry } from './types.js';

/** The bridge's own codes: what it decides about a job, its configuration and its input. */
const BRIDGE_CODES = {
  LOCK_BUSY: {
    disposition: 'hand-back',
    category: 'contention',
    advice: 'another job of this hook holds its lock; this one waits its turn in the queue (nothing to do unless it never runs: then look for a stuck worker)',
  },
  LOCK_LOST: {
    disposition: 'hand-back',
    category: 'contention',
    advice: 'the job could not extend its hook lock in time (Redis slow or unreachable, or the worker stalled); it stopped before its next GLPI write and runs again',
  },
  JOB_ABORTED: {
    disposition: 'hand-back',
    category: 'shutdown',
    advice: 'the worker was stopping; the job went back to the queue and runs again on the next worker',
  },
  HOOK_DISABLED: {
    disposition: 'fail',
    category: 'config',
    advice: 'set the hook enabled again, restart the workers, then replay its failed events (chatwoot-glpi-bridge replay --hook <hook>)',
  },
  EVENT_INVALID: {
    disposition: 'fail',
    category: 'input',
    advice: 'the stored webhook does not fit the schema of its event; report it with the payload (a Chatwoot change the bridge does not know yet)',
  },
  ATTACHMENT_ADDRESS_REFUSED: {
    disposition: 'fail',
    category: 'input',
    advice: 'the link points to a private or reserved network address, so the file stays a link; list its host in ATTACHMENT_ALLOWED_HOSTS if it is trusted',
  },
  CONFIG_INVALID: {
    disposition: 'fail',
    category: 'config',
    advice: 'fix the variable named above (see README, Configuration)',
  },
  REDIS_NOT_REPLICATED: {
    disposition: 'retry',
    category: 'redis',
    advice: 'check the replicas (INFO replication on the master); until they catch up, webhooks also go to the disk spool',
  },
  PROGRAMMING_ERROR: {
    disposition: 'fail',
    category: 'bug',
    advice:
      'a bug in the bridge met this payload (the same payload fails the same way every time): report the failed job ' +
      '(chatwoot-glpi-bridge failed shows it), then replay it once the bridge is fixed',
  },
  UNKNOWN: {
    // The job's attempt limit bounds the cost of retrying; giving up early would lose an event for good.
    disposition: 'retry',
    category: 'unknown',
    advice: 'the bridge does not recognise this error and retried the job until its attempts ran out: read the message and the worker log, fix the cause, then replay',
  },
} as const satisfies Record<string, CatalogueEntry>;

/**
 * Every code the bridge gives an error, with what to do about the job (disposition), what kind of
 * problem it is, and what a person should do. GLPI's own codes keep GLPI's names, so doctor, logs,
 * /ready and the failed list show the string an admin finds in GLPI's documentation.
 */
export const ERROR_CATALOGUE = { ...GLPI_ERROR_CODES, ...BRIDGE_GLPI_CODES, ...CHATWOOT_ERROR_CODES, ...BRIDGE_CODES } as const;

/** The tables merged above, so a test can tell that no code of one silently replaced another's. */
export const CATALOGUE_TABLES = { GLPI_ERROR_CODES, BRIDGE_GLPI_CODES, CHATWOOT_ERROR_CODES, BRIDGE_CODES } as const;

/** A code of the catalogue; code literals are typed with it so that a typo fails typecheck. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

export function catalogueEntry(code: string): CatalogueEntry | undefined {
  return isErrorCode(code) ? ERROR_CATALOGUE[code] : undefined;
}
