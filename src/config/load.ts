import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { checkGlpiApiUrl } from './glpi-url.js';
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
export function interpolateEnv(value: unknown, env: Env, where: string): unknown {
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

function buildHook(raw: unknown, glpiTimeoutMs: number, name: (path: PropertyKey[]) => string): HookConfig {
  const parsed = hookInputSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, name));
  const h = parsed.data;
  let url;
  try {
    url = checkGlpiApiUrl(h.glpiApiUrl);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${name(['glpiApiUrl'])}: ${err.message}`, err.advice);
    throw err;
  }
  const hasAuth = h.chatwootWebhookSecret.length > 0 || h.chatwootWebhookToken !== undefined;
  if (!hasAuth && !h.allowUnauthenticated) {
    throw new ConfigError(
      `hook "${h.id}": neither ${name(['chatwootWebhookSecret'])} nor ${name(['chatwootWebhookToken'])} is set`,
      'copy the secret Chatwoot shows for the webhook (Chatwoot >= 4.12 signs), or set a URL token for older ' +
        `Chatwoot; ${name(['allowUnauthenticated'])}=true is for local development only`,
    );
  }
  if (h.glpiToChatwoot && (h.chatwootBaseUrl === undefined || h.chatwootApiToken === undefined)) {
    throw new ConfigError(
      `hook "${h.id}": ${name(['glpiToChatwoot'])} needs ${name(['chatwootBaseUrl'])} and ${name(['chatwootApiToken'])}`,
      'the bridge posts the technicians\' answers through the Chatwoot API: give it the Chatwoot root URL and the access token of a dedicated administrator',
    );
  }
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
          ? { baseUrl: h.chatwootBaseUrl.replace(/\/+$/, ''), apiToken: h.chatwootApiToken }
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

function hooksFromFile(file: string, env: Env, glpiTimeoutMs: number): HookConfig[] {
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
    const withEnv = interpolateEnv(entry, env, where);
    return buildHook(withEnv, glpiTimeoutMs, (path) => `${where}.${path.map(String).join('.')}`);
  });
}

function hookFromEnv(env: Env, glpiTimeoutMs: number): HookConfig {
  const raw: Record<string, string | undefined> = {};
  for (const [key, envName] of Object.entries(HOOK_ENV_NAMES)) {
    if (env[envName] !== undefined) raw[key] = env[envName];
  }
  return buildHook(raw, glpiTimeoutMs, (path) => {
    const key = path[0] as keyof typeof HOOK_ENV_NAMES;
    return HOOK_ENV_NAMES[key] ?? path.map(String).join('.');
  });
}

/** Validates the whole configuration once; throws a ConfigError naming the variable at fault. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const parsed = serviceEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, (p) => p.map(String).join('.')));
  const s = parsed.data;
  if (s.HEADERS_TIMEOUT_MS > s.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${s.HEADERS_TIMEOUT_MS}) must not be larger than REQUEST_TIMEOUT_MS (${s.REQUEST_TIMEOUT_MS})`);
  }
  const list = s.HOOKS_FILE !== undefined ? hooksFromFile(s.HOOKS_FILE, env, s.GLPI_TIMEOUT_MS) : [hookFromEnv(env, s.GLPI_TIMEOUT_MS)];
  const hooks = new Map<string, HookConfig>();
  for (const hook of list) {
    if (hooks.has(hook.id)) throw new ConfigError(`hook id "${hook.id}" is defined twice`);
    hooks.set(hook.id, hook);
  }
  return {
    port: s.PORT,
    host: s.HOST,
    redisUrl: s.REDIS_URL,
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
