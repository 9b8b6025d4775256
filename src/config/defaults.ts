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
  /** Idle keep-alive to the bridge: Chatwoot opens a connection per delivery, so a long one only delays shutdown (Fastify's default: 72 s). */
  httpKeepAliveTimeoutMs: 10_000,
  /**
   * Chatwoot payloads nest about 6 levels deep. A body nested thousands of levels deep parses, but
   * JSON.stringify (BullMQ, the disk spool) then overflows the stack: such a body is refused up front.
   */
  maxJsonDepth: 64,
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
  /** The GLPI REST client (src/glpi/client.ts, transport.ts). */
  glpiClient: {
    /** Items per request when listing sub-items. */
    pageSize: 100,
    /** Bounds any listing, so a GLPI that keeps answering 206 cannot keep us paging forever. */
    maxPages: 1_000,
    /** Keep-alive connections of the default Pool per GLPI origin. */
    poolConnections: 16,
    /** Below Apache's default KeepAliveTimeout (5 s), so we drop idle sockets before the server does. */
    keepAliveTimeoutMs: 4_000,
    /** Rows of a search that names no range (range 0-49). */
    searchPageSize: 50,
    /** Rows per page when looking up a requester by e-mail or phone. */
    finderPageSize: 50,
    /** Candidates looked at per lookup; an exact e-mail has one or two, a phone pattern a handful. */
    finderMaxCandidates: 200,
  },
  chatwootTimeoutMs: 10_000,
  /** Bounds any Chatwoot listing, so a misbehaving server cannot keep us paging forever. */
  chatwootMaxPages: 1_000,
  /** Idle sockets to Chatwoot are dropped before a server or proxy with a short keep-alive (Apache: 5 s) drops them. */
  chatwootKeepAliveTimeoutMs: 4_000,
  /** `resync --since` reads at most this many pages of 25 conversations. */
  resyncMaxPages: 10_000,
  /** Redis connections by role (src/redis/connection.ts): a webhook answer must not wait long for Redis. */
  redisConnection: {
    producerConnectTimeoutMs: 2_000,
    producerCommandTimeoutMs: 2_000,
    commandConnectTimeoutMs: 5_000,
    /** Reconnect delay: this much per attempt so far, capped at reconnectMaxMs. */
    reconnectStepMs: 200,
    reconnectMaxMs: 2_000,
    /** Cluster: wait before retrying a command during a failover or while the cluster is down. */
    clusterRetryDelayMs: 200,
    /** Cluster: MOVED/ASK redirections followed for one command (after a resharding or failover). */
    clusterMaxRedirections: 16,
  },
  /** How long the CLI (doctor, status, replay...) waits for Redis before saying it is down. */
  cliRedisTimeoutMs: 3_000,
  /** How long a webhook's answer waits for Redis to store its job before spooling it to disk. */
  ingestRedisTimeoutMs: 1_500,
  /** Page size when the queue commands list job ids. */
  queueOpsPageSize: 200,
  /** Failed jobs listed by `failed` and GET /admin/failed when no limit is given. */
  failedListLimit: 100,
  /** /ready: how long Redis may take to answer PING. */
  readyRedisTimeoutMs: 1_000,
  /** /ready: how long reading the hooks' state and the queue's counts may take. */
  readyQueueTimeoutMs: 2_000,
  /** /ready counts jobs per hook only up to this backlog (ids are listed to count them). */
  readyPerHookDepthMaxJobs: 2_000,
  /**
   * A hook's last GLPI success is for /ready, not an audit trail: written at most this often per
   * hook instead of one more Redis round trip per job (always right after an error, though, so the
   * hook shows healthy again as soon as GLPI answers).
   */
  hookStateSuccessWriteEveryMs: 5_000,
  /** doctor reports a GLPI slower than this to open a session (initSession) as a warning. */
  doctorSlowGlpiMs: 2_000,
  /** Chatwoot signs `{timestamp}.{body}`; older or newer than this is refused (replay window). */
  signatureToleranceS: 300,
  /** How long a delivery id is remembered for dedupe. Chatwoot never redelivers, so a day is ample. */
  dedupeTtlS: 24 * 60 * 60,
  /** Most webhooks stored in one group commit (one pipelined write of claims, one of jobs). */
  ingestBatchMaxJobs: 128,
  /**
   * A group waits for the one being stored (so groups grow under load), but never longer than
   * this: a stalled Redis call must not hold the next group for its whole timeout.
   */
  ingestGroupMaxWaitMs: 50,
  /** Spool drain retries: the first a second after a spooled answer, then doubling up to the cap. */
  spoolDrainFirstDelayMs: 1_000,
  spoolDrainMaxDelayMs: 10_000,
  /** How long the api waits for Redis at start before it says it will spool until Redis answers. */
  startRedisWaitMs: 5_000,
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
    /** A job that could not take its hook's lock is handed back to the queue this much later (jittered). */
    lockRetryDelayMs: 250,
  },
  /** Ticket links written back to Chatwoot's conversation (custom attribute and private note). */
  writeBack: {
    /** Transient Chatwoot failures are retried this many times in place, then parked as pending. */
    attempts: 3,
    /** First in-place retry delay; doubles each time. */
    retryDelayMs: 500,
    /** How long note ids are remembered for echo recognition (the echo arrives within seconds). */
    echoTtlS: 7 * 24 * 60 * 60,
    /** Note ids one process remembers in memory (echoes whose source_id did not survive). */
    recentNotesMax: 10_000,
    /** How often each worker retries the parked write-backs. */
    retryPendingEveryMs: 60_000,
    /** doctor: a write-back queued this long ago is not being made by its job any more (two timer periods). */
    queuedStaleAfterMs: 120_000,
    /** doctor: a queued write-back's time this far ahead of doctor's clock is not believed (skew, or a forged entry). */
    queuedClockSkewMaxMs: 60_000,
  },
  /** Look-ups cached in Redis by the sync. */
  mappings: {
    /** A Chatwoot agent's GLPI user id. */
    agentTtlS: 6 * 60 * 60,
    /** An agent with no GLPI user, asked again after this. */
    agentMissTtlS: 15 * 60,
    /** GLPI's UTC offset: short enough to follow a daylight-saving change within the hour. */
    tzTtlS: 60 * 60,
    /** The Chatwoot account of a hook without CHATWOOT_ACCOUNT_ID, as read from its token's profile. */
    chatwootAccountTtlS: 60 * 60,
    /**
     * How long a successful check that a stored GLPI user still exists is trusted. The check guards
     * against a user purged in GLPI (a ticket naming a missing requester is created without one); a
     * customer opening several conversations would otherwise cost a GET per conversation. Within this
     * window a purge goes unnoticed, at worst one ticket without requester per conversation opened.
     */
    requesterCheckTtlMs: 60 * 60_000,
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
    /** GLPI 11 webhooks: GLPI re-sends the original timestamp on each retry for minutes; dedupe, not a tight window. */
    webhookToleranceS: 24 * 60 * 60,
    /** How long a GLPI webhook (event, item, date_mod) is remembered for dedupe. */
    webhookDedupeTtlS: 2 * 24 * 60 * 60,
    /** Search pages one poll reads at most; the cursor moves on and the next poll continues. */
    pollMaxPages: 20,
    /** date_mod has 1 s resolution; 1 s more covers clock skew between the bridge and GLPI. */
    settledAfterMs: 2_000,
    /** Session facts (the bridge's own GLPI user, GLPI's UTC offset) re-read this often. */
    sessionFactsTtlMs: 60 * 60_000,
    /** GLPI user names cached per hook. */
    userNamesMax: 1_000,
    /** The bridge's own Chatwoot messages are remembered this long (their webhook arrives within seconds). */
    echoTtlS: 7 * 24 * 60 * 60,
    /** Rows per page of the followup-document links (Document_Item) a poll reads. */
    documentLinkPageSize: 100,
    /** Pages of those links one poll reads at most; past them (a burst of files elsewhere in GLPI) followups are asked one by one. */
    documentLinkMaxPages: 5,
    /** The Redis part of a GLPI webhook's answer (dedupe, enqueue) each: well inside GLPI's 5 s. */
    webhookRedisTimeoutMs: 1_500,
    /** Failed poll jobs kept for inspection (one attempt each; the next poll is an interval away). */
    pollKeepFailedCount: 100,
  },
  lock: {
    ttlMs: 30_000,
    /** Extend when less than this remains; must stay well above one GLPI round trip. */
    extendThresholdMs: 10_000,
    /** How long a job waits for the hook's mutex before handing itself back to the queue. */
    acquireWaitMs: 5_000,
    /** Pause between two tries to take a hook's lock while waiting for it. */
    retryDelayMs: 50,
    /**
     * A held lock is handed on to the next job of the hook waiting in this process (no release and
     * re-acquire, two Redis round trips saved per job) at most this many times in a row ...
     */
    handOverMaxJobs: 32,
    /** ... or for this long; then, when a worker in another process waits for the hook, it gets it. */
    handOverMaxMs: 2_000,
  },
} as const;
