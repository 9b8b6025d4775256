/** Every default of the service in one place (SPEC section 3 plus the tuning knobs). */
export const DEFAULTS = {
  port: 3000,
  host: '0.0.0.0',
  redisUrl: 'redis://127.0.0.1:6379',
  /** Master name Sentinel monitors (REDIS_SENTINEL_NAME); `mymaster` is Redis' own example name. */
  redisSentinelName: 'mymaster',
  redisSentinelPort: 26_379,
  redisClusterPort: 6_379,
  /** REDIS_WAIT_REPLICAS: 0 = a webhook is answered once the master holds it (see docs/scaling.md). */
  redisWaitReplicas: 0,
  /** REDIS_WAIT_TIMEOUT_MS: how long an answer waits for the replicas before the event is spooled too. */
  redisWaitReplicasTimeoutMs: 500,
  role: 'all',
  logLevel: 'info',
  workerConcurrency: 8,
  bodyLimitBytes: 1024 * 1024,
  /**
   * Whole request, headers and body (Node's requestTimeout): a client trickling its body is cut
   * off instead of holding memory. Chatwoot itself gives up after 5 s.
   */
  requestTimeoutMs: 30_000,
  /** Until the request's headers are complete (Node's headersTimeout); at most requestTimeoutMs. */
  headersTimeoutMs: 10_000,
  /** How often Node checks those two timeouts on open connections (its default is 30 s). */
  connectionsCheckIntervalMs: 1_000,
  /**
   * Shortest webhook secret, URL token and admin token accepted. Chatwoot's own secrets are 24
   * characters (has_secure_token, base58); a guessable one-character token is refused at start.
   */
  minSecretLength: 16,
  /** Raw header values in refusal logs are cut to this many characters. */
  maxLoggedHeaderChars: 128,
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
  /** Most webhooks stored in one group commit (one pipelined write of claims, one of jobs). */
  ingestBatchMaxJobs: 128,
  job: {
    /**
     * With backoffBaseMs and BullMQ's uncapped exponential backoff, 11 attempts retry for 17 to
     * 34 minutes in all (docs/guarantees.md), as 12 did under the previous 10-minute cap.
     */
    attempts: 11,
    backoffBaseMs: 2_000,
    /**
     * Share of each backoff step that is random: 0.5 keeps at least half the step ("equal
     * jitter"), so no retry comes sooner than half its step, as full jitter would allow.
     */
    backoffJitter: 0.5,
    /** Caps only the backoff of jobs enqueued with the previous release's 'jitter' type (see the worker). */
    backoffMaxMs: 10 * 60_000,
    /** Completed jobs are kept briefly for inspection; failed ones until replayed or trimmed. */
    keepCompletedCount: 1_000,
    keepFailedAgeS: 30 * 24 * 60 * 60,
  },
  /** Attachment downloads (hostile input: a customer chooses files, sizes and sometimes links). */
  attachments: {
    /** Attachments fetched per message (a new ticket's first messages count together). */
    maxCount: 10,
    /** Larger files stay links (GLPI's own upload limit is usually 2-20 MB). */
    maxBytes: 25 * 1024 * 1024,
    /** All files of one message together. */
    maxMessageBytes: 50 * 1024 * 1024,
    /** Whole download of one file, redirects included: a byte every few seconds does not extend it. */
    timeoutMs: 20_000,
    /** All downloads of one job together: the hook's other conversations wait behind it. */
    jobBudgetMs: 60_000,
    maxRedirects: 5,
    connectTimeoutMs: 5_000,
    /** Lines listed in a followup; a message with thousands of attachments gets a count for the rest. */
    listMax: 100,
  },
  /** GLPI -> Chatwoot (technicians' answers back to the customer; README, "GLPI back to Chatwoot"). */
  glpiToChatwoot: {
    enabled: false,
    /** How often each hook asks GLPI for changed tickets (one search call when nothing changed). */
    pollIntervalMs: 10_000,
    /** `{name}` is the GLPI author's name. */
    authorFormat: '{name} (IT)',
    /** Private followups become private notes in Chatwoot (never sent to the customer). */
    privateAsNotes: false,
    /** Rows per search page; a poll pages until a short page. */
    pollPageSize: 100,
    /** Longest text posted to Chatwoot (its own limit is 150 000 characters); longer text is cut. */
    maxMessageChars: 20_000,
    /** How long an item record (followup/solution handled) is kept. */
    itemRecordTtlS: 90 * 24 * 60 * 60,
    /** GLPI 11 webhooks: GLPI re-sends the original timestamp on each retry for minutes; dedupe, not a tight window. */
    webhookToleranceS: 24 * 60 * 60,
    /** How long a GLPI webhook (event, item, date_mod) is remembered for dedupe. */
    webhookDedupeTtlS: 2 * 24 * 60 * 60,
  },
  lock: {
    ttlMs: 30_000,
    /** Extend when less than this remains; must stay well above one GLPI round trip. */
    extendThresholdMs: 10_000,
    /** How long a job waits for the hook's mutex before handing itself back to the queue. */
    acquireWaitMs: 5_000,
  },
} as const;
