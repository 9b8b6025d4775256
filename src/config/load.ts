import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { DEFAULTS } from './defaults.js';
import { checkGlpiApiUrl } from './glpi-url.js';
import { redisTopologyFrom } from './redis-topology.js';
import {
  HOOK_ENV_NAMES,
  hookInputSchema,
  serviceEnvSchema,
  type HookConfig,
  type ServiceConfig,
} from './schema.js';

type Env = Record<string, string | undefined>;

function describeIssues(error: z.ZodError, name: (path: PropertyKey[]) => string): string {
  return error.issues.map((issue) => `${name(issue.path)}: ${issue.message}`).join('; ');
}

/** `${VAR}` and `${VAR:-default}` in HOOKS_FILE values; an unset variable is an error, never "". */
function interpolateEnv(value: unknown, env: Env, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const resolved = env[name] ?? fallback;
      if (resolved === undefined) {
        throw new ConfigError(`${where} references \${${name}}, which is not set`, `export ${name} or remove the reference`);
      }
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${where}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, `${where}.${k}`)]),
    );
  }
  return value;
}

/**
 * Every problem of a configuration, so that one start names all of them instead of one per
 * attempt. `raise()` throws a single ConfigError listing them (messages `; `-joined, advice too).
 */
class Problems {
  private readonly messages: string[] = [];
  private readonly advice: string[] = [];

  add(message: string, advice?: string): void {
    this.messages.push(message);
    if (advice !== undefined && !this.advice.includes(advice)) this.advice.push(advice);
  }

  addIssues(error: z.ZodError, name: (path: PropertyKey[]) => string): void {
    this.add(describeIssues(error, name));
  }

  /** Runs a check that throws ConfigError; its message (prefixed) becomes one more problem. */
  check<T>(prefix: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.add(`${prefix}${err.message}`, err.advice);
      return undefined;
    }
  }

  raise(): void {
    if (this.messages.length > 0) throw new ConfigError(this.messages.join('; '), this.advice.length > 0 ? this.advice.join('; ') : undefined);
  }
}

const AUTH_ADVICE = (name: (path: PropertyKey[]) => string) =>
  'copy the secret Chatwoot shows for the webhook (Chatwoot >= 4.12 signs), or set a URL token for older ' +
  `Chatwoot; ${name(['allowUnauthenticated'])}=true is for local development only`;

/** The fields a failed schema parse still lets us judge: a present, non-empty string. */
const givenString = (raw: unknown, key: string): string | undefined => {
  const v = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' && v.trim() !== '' ? v : Array.isArray(v) && v.length > 0 ? String(v[0]) : undefined;
};

function buildHook(raw: unknown, glpiTimeoutMs: number, name: (path: PropertyKey[]) => string, problems: Problems): HookConfig | undefined {
  const parsed = hookInputSchema.safeParse(raw);
  if (!parsed.success) {
    problems.addIssues(parsed.error, name);
    // Judge what the schema did not already refuse, so one start reports every mistake.
    const refused = new Set(parsed.error.issues.map((i) => i.path[0]));
    const rawUrl = givenString(raw, 'glpiApiUrl');
    if (rawUrl !== undefined && !refused.has('glpiApiUrl')) problems.check(`${name(['glpiApiUrl'])}: `, () => checkGlpiApiUrl(rawUrl));
    const rawAuth = givenString(raw, 'chatwootWebhookSecret') ?? givenString(raw, 'chatwootWebhookToken') ?? givenString(raw, 'allowUnauthenticated');
    if (rawAuth === undefined) {
      problems.add(`neither ${name(['chatwootWebhookSecret'])} nor ${name(['chatwootWebhookToken'])} is set`, AUTH_ADVICE(name));
    }
    return undefined;
  }
  const h = parsed.data;
  const url = problems.check(`${name(['glpiApiUrl'])}: `, () => checkGlpiApiUrl(h.glpiApiUrl));
  const hasAuth = h.chatwootWebhookSecret.length > 0 || h.chatwootWebhookToken !== undefined;
  if (!hasAuth && !h.allowUnauthenticated) {
    problems.add(`hook "${h.id}": neither ${name(['chatwootWebhookSecret'])} nor ${name(['chatwootWebhookToken'])} is set`, AUTH_ADVICE(name));
  }
  if (h.glpiToChatwoot && (h.chatwootBaseUrl === undefined || h.chatwootApiToken === undefined)) {
    problems.add(
      `hook "${h.id}": ${name(['glpiToChatwoot'])} needs ${name(['chatwootBaseUrl'])} and ${name(['chatwootApiToken'])}`,
      'the bridge posts the technicians\' answers through the Chatwoot API: give it the Chatwoot root URL and the access token of a dedicated administrator',
    );
  }
  if (url === undefined) return undefined;
  const warnings = [...url.warnings];
  if ((h.chatwootBaseUrl === undefined) !== (h.chatwootApiToken === undefined)) {
    warnings.push(
      `write-back to Chatwoot needs both ${name(['chatwootBaseUrl'])} and ${name(['chatwootApiToken'])}; it is off`,
    );
  }
  if (!hasAuth) warnings.push('webhooks are accepted without authentication (allowUnauthenticated)');
  return {
    id: h.id,
    enabled: h.enabled,
    allowUnauthenticated: h.allowUnauthenticated,
    glpi: {
      baseUrl: url.baseUrl,
      appToken: h.glpiAppToken,
      userToken: h.glpiUserToken,
      entityId: h.glpiEntityId,
      syncType: h.glpiSyncType,
      ticketType: h.glpiTicketType,
      categoryId: h.glpiCategoryId,
      defaultUserId: h.glpiDefaultUserId,
      timeoutMs: glpiTimeoutMs,
    },
    phoneDefaultRegion: h.phoneDefaultRegion,
    customerBinding: { policy: h.customerBinding, trustVerified: h.customerBindingTrustVerified },
    chatwoot: {
      webhookSecrets: h.chatwootWebhookSecret,
      webhookToken: h.chatwootWebhookToken,
      api:
        h.chatwootBaseUrl !== undefined && h.chatwootApiToken !== undefined
          ? { baseUrl: h.chatwootBaseUrl.replace(/\/+$/, ''), apiToken: h.chatwootApiToken, accountId: h.chatwootAccountId }
          : undefined,
    },
    attachments: {
      chatwootOrigin: h.chatwootBaseUrl === undefined ? undefined : new URL(h.chatwootBaseUrl).origin,
      allowedHosts: h.attachmentAllowedHosts,
      maxCount: h.attachmentMaxCount,
      maxBytes: h.attachmentMaxBytes,
      maxMessageBytes: h.attachmentMaxMessageBytes,
      timeoutMs: h.attachmentTimeoutMs,
      jobBudgetMs: h.attachmentJobBudgetMs,
    },
    glpiToChatwoot: {
      enabled: h.glpiToChatwoot,
      pollIntervalMs: h.glpiPollIntervalMs,
      authorFormat: h.glpiAuthorFormat,
      privateAsNotes: h.glpiPrivateAsNotes,
      webhookSecrets: h.glpiWebhookSecret,
    },
    warnings,
  };
}

function hooksFromFile(file: string, env: Env, glpiTimeoutMs: number, problems: Problems): (HookConfig | undefined)[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`HOOKS_FILE ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`HOOKS_FILE ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { hooks?: unknown } | null)?.hooks;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(`HOOKS_FILE ${file} must contain a non-empty "hooks" list`);
  }
  return list.map((entry, i) => {
    const where = `HOOKS_FILE hooks[${i}]`;
    const withEnv = problems.check('', () => interpolateEnv(entry, env, where));
    if (withEnv === undefined) return undefined;
    return buildHook(withEnv, glpiTimeoutMs, (path) => `${where}.${path.map(String).join('.')}`, problems);
  });
}

function hookFromEnv(env: Env, glpiTimeoutMs: number, problems: Problems): HookConfig | undefined {
  const raw: Record<string, string | undefined> = {};
  for (const [key, envName] of Object.entries(HOOK_ENV_NAMES)) {
    if (env[envName] !== undefined) raw[key] = env[envName];
  }
  return buildHook(raw, glpiTimeoutMs, (path) => {
    const key = path[0] as keyof typeof HOOK_ENV_NAMES;
    return HOOK_ENV_NAMES[key] ?? path.map(String).join('.');
  }, problems);
}

/** Validates the whole configuration once; throws a ConfigError naming the variable at fault. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const problems = new Problems();
  const parsed = serviceEnvSchema.safeParse(env);
  if (!parsed.success) problems.addIssues(parsed.error, (p) => p.map(String).join('.'));
  const s = parsed.data;
  if (s !== undefined && s.HEADERS_TIMEOUT_MS > s.REQUEST_TIMEOUT_MS) {
    problems.add(`HEADERS_TIMEOUT_MS (${s.HEADERS_TIMEOUT_MS}) must not be larger than REQUEST_TIMEOUT_MS (${s.REQUEST_TIMEOUT_MS})`);
  }
  // Hooks are judged even when a service setting is wrong: one start names every mistake.
  const glpiTimeoutMs = s?.GLPI_TIMEOUT_MS ?? DEFAULTS.glpiTimeoutMs;
  const hooksFile = s?.HOOKS_FILE ?? (env.HOOKS_FILE !== undefined && env.HOOKS_FILE !== '' ? env.HOOKS_FILE : undefined);
  const list =
    hooksFile !== undefined
      ? (problems.check('', () => hooksFromFile(hooksFile, env, glpiTimeoutMs, problems)) ?? [])
      : [hookFromEnv(env, glpiTimeoutMs, problems)];
  const hooks = new Map<string, HookConfig>();
  for (const hook of list) {
    if (hook === undefined) continue;
    if (hooks.has(hook.id)) problems.add(`hook id "${hook.id}" is defined twice`);
    hooks.set(hook.id, hook);
  }
  problems.raise();
  if (s === undefined) throw new Error('unreachable: a failed service schema is a problem raised above');
  return {
    port: s.PORT,
    host: s.HOST,
    redisUrl: s.REDIS_URL,
    redis: redisTopologyFrom(s),
    redisWaitReplicas: s.REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: s.REDIS_WAIT_TIMEOUT_MS,
    redisKeyPrefix: s.REDIS_KEY_PREFIX,
    role: s.ROLE,
    logLevel: s.LOG_LEVEL,
    workerConcurrency: s.WORKER_CONCURRENCY,
    bodyLimitBytes: s.BODY_LIMIT_BYTES,
    requestTimeoutMs: s.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: s.HEADERS_TIMEOUT_MS,
    adminToken: s.ADMIN_TOKEN,
    hooksFile: s.HOOKS_FILE,
    spoolDir: s.SPOOL_DIR,
    glpiTimeoutMs: s.GLPI_TIMEOUT_MS,
    hooks,
  };
}

/** Reads `.env` when present (Node's own loader); real environment variables win. */
export function loadDotEnv(path = '.env'): void {
  try {
    process.loadEnvFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
