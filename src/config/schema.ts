import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const intFrom = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const boolish = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

/** `host` or `host:port`, nothing else (no scheme, path or credentials). */
function isHostEntry(entry: string): boolean {
  try {
    const url = new URL(`http://${entry}`);
    return url.username === '' && url.password === '' && url.pathname === '/' && entry.toLowerCase() === `${url.hostname}${url.port === '' ? '' : `:${url.port}`}`;
  } catch {
    return false;
  }
}

/** A list given as an array or as a comma-separated string (rotation: "new,old"). */
const stringList = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));

/**
 * Webhook secrets, URL tokens and the admin token: anything shorter than DEFAULTS.minSecretLength
 * can be guessed. The message never repeats the value.
 */
const TOO_SHORT = `must be at least ${DEFAULTS.minSecretLength} characters long (Chatwoot's own webhook secrets have 24); generate one with: openssl rand -hex 16`;
const isLongEnough = (v: string | undefined) => v === undefined || v.length >= DEFAULTS.minSecretLength;
const secretString = optionalString.refine(isLongEnough, TOO_SHORT);
const secretList = stringList.refine((list) => list.every(isLongEnough), TOO_SHORT);

/**
 * Which existing GLPI users a Chatwoot contact may be bound to (its tickets then name that user
 * as requester): `self-service` accounts whose every profile has the simplified (helpdesk)
 * interface, `created-only` accounts the bridge created itself, `any` every account (unsafe).
 */
const CUSTOMER_BINDING_POLICIES = ['self-service', 'created-only', 'any'] as const;
type CustomerBindingPolicy = (typeof CUSTOMER_BINDING_POLICIES)[number];

/** Service-level settings (environment only). Keys are the environment variable names. */
export const serviceEnvSchema = z.object({
  PORT: intFrom(0, 65_535).default(DEFAULTS.port),
  HOST: z.string().min(1).default(DEFAULTS.host),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default(DEFAULTS.redisUrl),
  REDIS_SENTINELS: optionalString,
  REDIS_SENTINEL_NAME: z.string().trim().min(1).default(DEFAULTS.redisSentinelName),
  REDIS_SENTINEL_PASSWORD: optionalString,
  REDIS_CLUSTER_NODES: optionalString,
  REDIS_WAIT_REPLICAS: intFrom(0, 16).default(DEFAULTS.redisWaitReplicas),
  REDIS_WAIT_TIMEOUT_MS: intFrom(10, 2_000).default(DEFAULTS.redisWaitReplicasTimeoutMs),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only')
    .default(DEFAULTS.redisKeyPrefix),
  ROLE: z.enum(['all', 'api', 'worker']).default(DEFAULTS.role),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel),
  WORKER_CONCURRENCY: intFrom(1, 1_000).default(DEFAULTS.workerConcurrency),
  BODY_LIMIT_BYTES: intFrom(1_024).default(DEFAULTS.bodyLimitBytes),
  REQUEST_TIMEOUT_MS: intFrom(1_000).default(DEFAULTS.requestTimeoutMs),
  HEADERS_TIMEOUT_MS: intFrom(1_000).default(DEFAULTS.headersTimeoutMs),
  ADMIN_TOKEN: secretString,
  HOOKS_FILE: optionalString,
  SPOOL_DIR: z.string().min(1).default(DEFAULTS.spoolDir),
  GLPI_TIMEOUT_MS: intFrom(100).default(DEFAULTS.glpiTimeoutMs),
});
export type ServiceEnv = z.output<typeof serviceEnvSchema>;

/**
 * One hook, flat: the same keys in HOOKS_FILE (camelCase) and, through HOOK_ENV_NAMES, in the
 * environment for the single-hook setup. One schema serves both so they cannot drift apart.
 */
export const hookInputSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _ only (max 64)').default(DEFAULTS.hookId),
  enabled: boolish.default(true),
  allowUnauthenticated: boolish.default(false),
  glpiApiUrl: z.string({ error: 'is required' }).trim().min(1, 'is required'),
  glpiAppToken: optionalString,
  glpiUserToken: z.string({ error: 'is required' }).trim().min(1, 'is required'),
  glpiEntityId: intFrom(0).default(DEFAULTS.glpiEntityId),
  glpiSyncType: z.enum(['user', 'contact']).default(DEFAULTS.glpiSyncType),
  glpiTicketType: z.coerce
    .number()
    .refine((v) => v === 1 || v === 2, 'must be 1 (Incident) or 2 (Request)')
    .default(DEFAULTS.glpiTicketType),
  glpiCategoryId: z.preprocess((v) => (v === '' ? undefined : v), intFrom(1).optional()),
  glpiDefaultUserId: z.preprocess((v) => (v === '' ? undefined : v), intFrom(1).optional()),
  phoneDefaultRegion: z.preprocess(
    (v) => (typeof v === 'string' ? (v.trim() === '' ? undefined : v.trim().toUpperCase()) : v),
    z
      .string()
      .refine((v) => isSupportedCountry(v), 'must be an ISO 3166 country code such as FR or BR')
      .optional(),
  ),
  customerBinding: z.enum(CUSTOMER_BINDING_POLICIES).default(DEFAULTS.customerBinding),
  customerBindingTrustVerified: boolish.default(DEFAULTS.customerBindingTrustVerified),
  chatwootWebhookSecret: secretList.default([]),
  chatwootWebhookToken: secretString,
  chatwootBaseUrl: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://app.chatwoot.com' }).optional(),
  ),
  chatwootApiToken: optionalString,
  chatwootAccountId: z.preprocess((v) => (v === '' ? undefined : v), intFrom(1).optional()),
  attachmentAllowedHosts: stringList
    .pipe(z.array(z.string().refine(isHostEntry, 'each entry must be a host name or host:port, such as minio.internal:9000')))
    .transform((v) => v.map((h) => h.toLowerCase()))
    .default([]),
  attachmentMaxCount: intFrom(0, 10_000).default(DEFAULTS.attachments.maxCount),
  attachmentMaxBytes: intFrom(0).default(DEFAULTS.attachments.maxBytes),
  attachmentMaxMessageBytes: intFrom(0).default(DEFAULTS.attachments.maxMessageBytes),
  attachmentTimeoutMs: intFrom(100).default(DEFAULTS.attachments.timeoutMs),
  attachmentJobBudgetMs: intFrom(100).default(DEFAULTS.attachments.jobBudgetMs),
  glpiToChatwoot: boolish.default(DEFAULTS.glpiToChatwoot.enabled),
  glpiPollIntervalMs: intFrom(1_000).default(DEFAULTS.glpiToChatwoot.pollIntervalMs),
  glpiAuthorFormat: z
    .string()
    .max(200)
    .refine((v) => v.includes('{name}'), 'must contain {name}, e.g. "{name} (IT)"')
    .default(DEFAULTS.glpiToChatwoot.authorFormat),
  glpiPrivateAsNotes: boolish.default(DEFAULTS.glpiToChatwoot.privateAsNotes),
  glpiWebhookSecret: secretList.default([]),
});

/** Environment variable for each hook key (single-hook setup). */
export const HOOK_ENV_NAMES = {
  id: 'HOOK_ID',
  enabled: 'HOOK_ENABLED',
  allowUnauthenticated: 'ALLOW_UNAUTHENTICATED',
  glpiApiUrl: 'GLPI_API_URL',
  glpiAppToken: 'GLPI_APP_TOKEN',
  glpiUserToken: 'GLPI_USER_TOKEN',
  glpiEntityId: 'GLPI_ENTITY_ID',
  glpiSyncType: 'GLPI_SYNC_TYPE',
  glpiTicketType: 'GLPI_TICKET_TYPE',
  glpiCategoryId: 'GLPI_CATEGORY_ID',
  glpiDefaultUserId: 'GLPI_DEFAULT_USER_ID',
  phoneDefaultRegion: 'PHONE_DEFAULT_REGION',
  customerBinding: 'CUSTOMER_BINDING',
  customerBindingTrustVerified: 'CUSTOMER_BINDING_TRUST_VERIFIED',
  chatwootWebhookSecret: 'CHATWOOT_WEBHOOK_SECRET',
  chatwootWebhookToken: 'CHATWOOT_WEBHOOK_TOKEN',
  chatwootBaseUrl: 'CHATWOOT_BASE_URL',
  chatwootApiToken: 'CHATWOOT_API_TOKEN',
  chatwootAccountId: 'CHATWOOT_ACCOUNT_ID',
  attachmentAllowedHosts: 'ATTACHMENT_ALLOWED_HOSTS',
  attachmentMaxCount: 'ATTACHMENT_MAX_COUNT',
  attachmentMaxBytes: 'ATTACHMENT_MAX_BYTES',
  attachmentMaxMessageBytes: 'ATTACHMENT_MAX_MESSAGE_BYTES',
  attachmentTimeoutMs: 'ATTACHMENT_TIMEOUT_MS',
  attachmentJobBudgetMs: 'ATTACHMENT_JOB_BUDGET_MS',
  glpiToChatwoot: 'GLPI_TO_CHATWOOT',
  glpiPollIntervalMs: 'GLPI_POLL_INTERVAL_MS',
  glpiAuthorFormat: 'GLPI_AUTHOR_FORMAT',
  glpiPrivateAsNotes: 'GLPI_PRIVATE_AS_NOTES',
  glpiWebhookSecret: 'GLPI_WEBHOOK_SECRET',
} as const satisfies Record<keyof z.input<typeof hookInputSchema>, string>;

export interface GlpiHookConfig {
  /** Ends with `/` (e.g. `https://glpi.example.com/apirest.php/`); resolve relative paths against it. */
  baseUrl: string;
  appToken: string | undefined;
  userToken: string;
  entityId: number;
  syncType: 'user' | 'contact';
  ticketType: 1 | 2;
  categoryId: number | undefined;
  defaultUserId: number | undefined;
  timeoutMs: number;
}

interface ChatwootHookConfig {
  /** Accepted signing secrets, newest first; empty when the hook does not verify signatures. */
  webhookSecrets: string[];
  webhookToken: string | undefined;
  /** Present only when write-back is enabled (both base URL and API token set). */
  /**
   * `accountId`: the Chatwoot account the write-back writes to; undefined = the API token's only
   * account. Never taken from a payload (see write-back.ts).
   */
  api: { baseUrl: string; apiToken: string; accountId: number | undefined } | undefined;
}

/** What attachment downloads may reach and how much they may cost (see chatwoot/attachments.ts). */
export interface AttachmentPolicy {
  /** Chatwoot's origin (from its base URL): fetched even at a private address. */
  chatwootOrigin: string | undefined;
  /** `host` or `host:port`, lower case: also fetched at a private address (object storage). */
  allowedHosts: string[];
  maxCount: number;
  maxBytes: number;
  maxMessageBytes: number;
  timeoutMs: number;
  jobBudgetMs: number;
}

/** GLPI -> Chatwoot direction of a hook (off unless glpiToChatwoot). */
interface GlpiToChatwootConfig {
  enabled: boolean;
  pollIntervalMs: number;
  /** Name shown before a technician's text, `{name}` replaced. */
  authorFormat: string;
  privateAsNotes: boolean;
  /** GLPI 11 webhook secrets (rotation: new first); empty = the GLPI webhook route refuses this hook. */
  webhookSecrets: string[];
}

export interface HookConfig {
  id: string;
  enabled: boolean;
  allowUnauthenticated: boolean;
  glpi: GlpiHookConfig;
  phoneDefaultRegion: CountryCode | undefined;
  /** Which existing GLPI users a customer may be bound to; `trustVerified`: hmac_verified contacts to any. */
  customerBinding: { policy: CustomerBindingPolicy; trustVerified: boolean };
  chatwoot: ChatwootHookConfig;
  attachments: AttachmentPolicy;
  glpiToChatwoot: GlpiToChatwootConfig;
  /** Non-fatal findings at load time (logged at start, shown by doctor). */
  warnings: string[];
}

/** `host:port` of a Sentinel or of a cluster seed node. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Which Redis the bridge talks to. In Sentinel and Cluster modes the hosts come from the node
 * list; `url` (REDIS_URL) still gives the data nodes' user, password, database and `rediss://`.
 */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; url: string; sentinels: RedisNode[]; masterName: string; sentinelPassword: string | undefined }
  | { kind: 'cluster'; url: string; nodes: RedisNode[] };

export interface ServiceConfig {
  port: number;
  host: string;
  /** REDIS_URL as given (the single Redis, or credentials for Sentinel/Cluster nodes). */
  redisUrl: string;
  redis: RedisTopology;
  /** Replicas that must confirm a webhook's job (Redis WAIT) before it is answered 2xx. */
  redisWaitReplicas: number;
  redisWaitTimeoutMs: number;
  redisKeyPrefix: string;
  role: 'all' | 'api' | 'worker';
  logLevel: ServiceEnv['LOG_LEVEL'];
  workerConcurrency: number;
  bodyLimitBytes: number;
  /** Whole request (headers and body) must arrive within this; see DEFAULTS.requestTimeoutMs. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  adminToken: string | undefined;
  hooksFile: string | undefined;
  spoolDir: string;
  glpiTimeoutMs: number;
  hooks: ReadonlyMap<string, HookConfig>;
}
