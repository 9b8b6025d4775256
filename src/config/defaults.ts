/** Every default of the service in one place (SPEC section 3 plus the tuning knobs). */
export const DEFAULTS = {
  port: 3000,
  host: '0.0.0.0',
  redisUrl: 'redis://127.0.0.1:6379',
  role: 'all',
  logLevel: 'info',
  workerConcurrency: 8,
  bodyLimitBytes: 1024 * 1024,
  redisKeyPrefix: 'cgb',
  spoolDir: './spool',
  hookId: 'default',
  glpiEntityId: 0,
  glpiSyncType: 'user',
  glpiTicketType: 1,
  /** Which existing GLPI users a Chatwoot contact may be bound to (README, Security). */
  customerBinding: 'self-service',
  /**
   * Chatwoot's hmac_verified proves only the contact's `identifier`: the e-mail and phone sent
   * with it are not signed, and the widget changes them later without any hash. Off by default.
   */
  customerBindingTrustVerified: false,
  /** GLPI profile interfaces (helpdesk/central) are read once per hook and kept this long. */
  profileCacheTtlMs: 10 * 60_000,
  glpiTimeoutMs: 15_000,
  glpiConnectTimeoutMs: 5_000,
  chatwootTimeoutMs: 10_000,
  /** Chatwoot signs `{timestamp}.{body}`; older or newer than this is refused (replay window). */
  signatureToleranceS: 300,
  /** How long a delivery id is remembered for dedupe. Chatwoot never redelivers, so a day is ample. */
  dedupeTtlS: 24 * 60 * 60,
  job: {
    attempts: 12,
    backoffBaseMs: 2_000,
    backoffMaxMs: 10 * 60_000,
    /** Completed jobs are kept briefly for inspection; failed ones until replayed or trimmed. */
    keepCompletedCount: 1_000,
    keepFailedAgeS: 30 * 24 * 60 * 60,
  },
  lock: {
    ttlMs: 30_000,
    /** Extend when less than this remains; must stay well above one GLPI round trip. */
    extendThresholdMs: 10_000,
    /** How long a job waits for the hook's mutex before handing itself back to the queue. */
    acquireWaitMs: 5_000,
  },
} as const;
