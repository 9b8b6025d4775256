import { resolve } from 'node:path';
import type { Queue } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { HookConfig, ServiceConfig } from '../config/schema.js';
import { differingFingerprints, restartAdvice } from '../config/fingerprint.js';
import { createChatwootApiClient, type ChatwootApiClient } from '../chatwoot/api-client.js';
import { writeBackKeys } from '../sync/chatwoot-account.js';
import type { PendingWriteBack } from '../sync/chatwoot-to-glpi/write-back.js';
import { errorAdvice, errorCode } from '../errors.js';
import { createGlpiClient, glpiMajor, type GlpiClientHandle } from '../glpi/client.js';
import { glpiWebhookCheck } from './doctor-glpi-webhooks.js';
import { isGlpiError, type GlpiError } from '../glpi/errors.js';
import type { ItemType } from '../glpi/types.js';
import { keyOptionsFor, redisKeys } from '../redis/keys.js';
import { type SyncJobData } from '../sync/job.js';
import { SPOOL_DIR_ADVICE, spoolDirProblem } from '../queue/spool.js';
import { connectionDb, describeRedis, type RedisConnection, type RedisTarget } from '../redis/connection.js';
import { canReadProfiles, missingRights, requiredRights, superAdminRights } from './glpi-rights.js';

/**
 * The troubleshooting checklist, live. Every check says what it looked at and, when it fails, a
 * one-line fix. `fail` makes the exit status non-zero; `warn` is worth reading but the bridge
 * works; `skip` means an earlier failure made the check meaningless.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  /** Stable id, e.g. "glpi.app-token" (tests and --json consumers key on it). */
  id: string;
  /** Undefined for service-wide checks. */
  hookId: string | undefined;
  title: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  /** Error code behind a failure (GLPI_API_DISABLED, ERROR_WRONG_APP_TOKEN_PARAMETER...). */
  code?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorDeps {
  /** Loads and validates the configuration (throws ConfigError). */
  loadConfig: () => ServiceConfig;
  /** Only this hook (--hook). */
  hookId?: string;
  /** Redis connection for the given URL; doctor waits for it at most `redisTimeoutMs`. */
  connectRedis: (target: RedisTarget) => Promise<{ redis: RedisConnection; ready: boolean }>;
  /** The sync queue on that connection. */
  openQueue: (redis: RedisConnection, config: ServiceConfig) => Queue<SyncJobData>;
  /** Tests: a dispatcher for GLPI / Chatwoot calls. Default: the clients' own. */
  glpiDispatcher?: Dispatcher;
  chatwootDispatcher?: Dispatcher;
  /** GLPI answers slower than this (initSession) are reported as a warning. */
  slowGlpiMs?: number;
  now?: () => number;
}

const SLOW_GLPI_MS = 2_000;

export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => checks.push(check);

  let config: ServiceConfig;
  try {
    config = deps.loadConfig();
    add({ id: 'config', hookId: undefined, title: 'configuration valid', status: 'pass', detail: `${config.hooks.size} hook(s): ${[...config.hooks.keys()].join(', ')}` });
  } catch (err) {
    add({
      id: 'config',
      hookId: undefined,
      title: 'configuration valid',
      status: 'fail',
      detail: err instanceof Error ? err.message : String(err),
      fix: errorAdvice(err) ?? 'fix the variable named above (see README, Configuration)',
      code: errorCode(err) ?? 'CONFIG_INVALID',
    });
    return finish(checks);
  }

  let hooks = [...config.hooks.values()];
  if (deps.hookId !== undefined) {
    const hook = config.hooks.get(deps.hookId);
    if (hook === undefined) {
      add({
        id: 'hook',
        hookId: deps.hookId,
        title: `hook "${deps.hookId}" configured`,
        status: 'fail',
        detail: `no hook "${deps.hookId}"`,
        fix: `use one of: ${[...config.hooks.keys()].join(', ')}`,
      });
      return finish(checks);
    }
    hooks = [hook];
  }

  await spoolCheck(config, add);
  const connection = await redisChecks(config, deps, add);
  const queue = connection?.queue;
  try {
    for (const hook of hooks) {
      hookConfigChecks(hook, add);
      if (connection) await queueChecks(hook, connection.queue, add);
      if (connection && hook.chatwoot.api) await writeBackCheck(hook, connection.redis, config, add);
      await glpiChecks(hook, deps, add);
      await chatwootChecks(hook, deps, add);
    }
  } finally {
    await queue?.close().catch(() => undefined);
    connection?.redis.disconnect();
  }
  return finish(checks);
}

function finish(checks: DoctorCheck[]): DoctorReport {
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

type Add = (check: DoctorCheck) => void;

// ---- The disk spool --------------------------------------------------------------------------

async function spoolCheck(config: ServiceConfig, add: Add): Promise<void> {
  const title = 'spool directory writable';
  const dir = resolve(config.spoolDir);
  const problem = await spoolDirProblem(config.spoolDir);
  if (problem === undefined) {
    add({ id: 'spool', hookId: undefined, title, status: 'pass', detail: `${dir} (where webhooks wait while Redis is down)` });
    return;
  }
  add({
    id: 'spool',
    hookId: undefined,
    title,
    status: 'fail',
    detail: `SPOOL_DIR ${dir}: ${problem}`,
    fix: `${SPOOL_DIR_ADVICE}; the api refuses to start without it`,
    code: 'SPOOL_UNWRITABLE',
  });
}

// ---- Redis and the queue ---------------------------------------------------------------------

async function redisChecks(config: ServiceConfig, deps: DoctorDeps, add: Add): Promise<{ redis: RedisConnection; queue: Queue<SyncJobData> } | undefined> {
  const title = 'Redis reachable';
  let connection: { redis: RedisConnection; ready: boolean } | undefined;
  try {
    connection = await deps.connectRedis(config.redis);
    if (!connection.ready) throw new Error('no answer');
    await connection.redis.ping();
  } catch (err) {
    connection?.redis.disconnect();
    add({
      id: 'redis',
      hookId: undefined,
      title,
      status: 'fail',
      detail: `${describeRedis(config.redis)} did not answer (${err instanceof Error ? err.message : String(err)})`,
      fix: 'start Redis (redis-cli ping must answer PONG) or fix REDIS_URL; without it no webhook is queued and the per-hook lock cannot prevent duplicates',
      code: 'REDIS_UNAVAILABLE',
    });
    return undefined;
  }
  add({ id: 'redis', hookId: undefined, title, status: 'pass', detail: `${describeRedis(config.redis)} answers PING` });
  const redis = connection.redis;
  const queue = deps.openQueue(redis, config);
  queue.on('error', () => undefined);
  let workers = -1;
  try {
    // CLIENT LIST spans every database of the server; BullMQ matches workers by name (prefix and
    // queue) only, so a bridge on another database with the same prefix would count as ours.
    const db = String(connectionDb(redis));
    workers = (await queue.getWorkers()).filter((client) => client.db === db).length;
  } catch {
    // CLIENT LIST can be disabled on managed Redis; then we cannot tell.
  }
  if (workers === 0) {
    add({
      id: 'queue.worker',
      hookId: undefined,
      title: 'a worker consumes the queue',
      status: 'warn',
      detail: 'no worker is connected to the sync queue: accepted webhooks wait in Redis',
      fix: 'start the bridge with ROLE=worker (or ROLE=all)',
    });
  } else if (workers > 0) {
    add({ id: 'queue.worker', hookId: undefined, title: 'a worker consumes the queue', status: 'pass', detail: `${workers} worker connection(s)` });
  }
  await runningConfigCheck(config, redis, add);
  return { redis, queue };
}

async function runningConfigCheck(config: ServiceConfig, redis: RedisConnection, add: Add): Promise<void> {
  const title = 'the running service uses this configuration';
  const { mine, published, differing } = await differingFingerprints(redis, redisKeys(config.redisKeyPrefix, keyOptionsFor(config.redis)).configFingerprint, config);
  if (published.length === 0) {
    add({ id: 'config.running', hookId: undefined, title, status: 'warn', detail: `no running service has published its configuration on this Redis and prefix (this one: ${mine})`, fix: 'start the service (npm start, docker compose up) with this configuration' });
  } else if (differing.length > 0) {
    add({ id: 'config.running', hookId: undefined, title, status: 'fail', detail: `this configuration is ${mine}; running: ${published.map((p) => `ROLE=${p.role} ${p.fingerprint}`).join(', ')}`, fix: restartAdvice(differing), code: 'CONFIG_NOT_APPLIED' });
  } else {
    add({ id: 'config.running', hookId: undefined, title, status: 'pass', detail: `${mine} (${published.map((p) => `ROLE=${p.role}`).join(', ')})` });
  }
}

async function queueChecks(hook: HookConfig, queue: Queue<SyncJobData>, add: Add): Promise<void> {
  try {
    const ids = await queue.getRanges(['failed'], 0, -1);
    const failed = ids.filter((id) => id.startsWith(`${hook.id}.`)).length;
    add({
      id: 'queue.failed',
      hookId: hook.id,
      title: 'no failed events',
      status: failed === 0 ? 'pass' : 'warn',
      detail: failed === 0 ? 'no failed events' : `${failed} event(s) failed for good`,
      ...(failed === 0 ? {} : { fix: `see why with \`chatwoot-glpi-bridge failed --hook ${hook.id}\`, fix the cause, then \`replay --hook ${hook.id}\`` }),
    });
  } catch (err) {
    add({ id: 'queue.failed', hookId: hook.id, title: 'no failed events', status: 'warn', detail: `could not list failed jobs: ${(err as Error).message}` });
  }
}

async function writeBackCheck(hook: HookConfig, redis: RedisConnection, config: ServiceConfig, add: Add): Promise<void> {
  const title = 'write-backs to Chatwoot delivered';
  try {
    const parked = Object.values(await redis.hgetall(writeBackKeys(config.redisKeyPrefix, keyOptionsFor(config.redis)).pending(hook.id))).map((v) => JSON.parse(v) as PendingWriteBack);
    if (parked.length === 0) {
      add({ id: 'chatwoot.write-back', hookId: hook.id, title, status: 'pass', detail: 'none pending' });
      return;
    }
    const last = parked[parked.length - 1]!;
    add({
      id: 'chatwoot.write-back',
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `${parked.length} ticket link(s) not written to Chatwoot yet; last: conversation ${last.conversationId} ticket ${last.ticketId} (${last.code})`,
      fix: last.advice ?? 'see the worker logs; parked write-backs are retried',
    });
  } catch (err) {
    add({ id: 'chatwoot.write-back', hookId: hook.id, title, status: 'warn', detail: `could not read: ${(err as Error).message}` });
  }
}

// ---- configuration of the hook ---------------------------------------------------------------

function hookConfigChecks(hook: HookConfig, add: Add): void {
  add(
    hook.enabled
      ? { id: 'hook.enabled', hookId: hook.id, title: 'hook enabled', status: 'pass', detail: 'events are synced' }
      : {
          id: 'hook.enabled',
          hookId: hook.id,
          title: 'hook enabled',
          status: 'warn',
          detail: 'the hook is disabled: its webhooks are answered "ignored" and nothing reaches GLPI',
          fix: 'set enabled: true (HOOK_ENABLED=true) when you want it to sync',
        },
  );

  const urlWarnings = hook.warnings.filter((w) => w.startsWith('GLPI_API_URL') || /glpiApiUrl/.test(w));
  const insecure = urlWarnings.filter((w) => /http:\/\//.test(w));
  const cosmetic = urlWarnings.filter((w) => !insecure.includes(w));
  if (insecure.length > 0) {
    add({
      id: 'glpi.url',
      hookId: hook.id,
      title: 'GLPI_API_URL shape',
      status: 'fail',
      detail: insecure.join('; '),
      fix: `use https:// (${hook.glpi.baseUrl.replace(/^http:/, 'https:').replace(/\/$/, '')})`,
      code: 'GLPI_URL_INSECURE',
    });
  } else if (cosmetic.length > 0) {
    add({
      id: 'glpi.url',
      hookId: hook.id,
      title: 'GLPI_API_URL shape',
      status: 'warn',
      detail: cosmetic.join('; '),
      fix: `set it to ${hook.glpi.baseUrl.replace(/\/$/, '')}`,
    });
  } else {
    add({ id: 'glpi.url', hookId: hook.id, title: 'GLPI_API_URL shape', status: 'pass', detail: hook.glpi.baseUrl.replace(/\/$/, '') });
  }

  const { webhookSecrets, webhookToken } = hook.chatwoot;
  if (webhookSecrets.length > 0 || webhookToken !== undefined) {
    const how = [webhookSecrets.length > 0 ? `${webhookSecrets.length} signing secret(s)` : '', webhookToken !== undefined ? 'a URL token' : '']
      .filter((s) => s !== '')
      .join(' and ');
    add({ id: 'webhook.auth', hookId: hook.id, title: 'webhook secret or URL token configured', status: 'pass', detail: how });
  } else {
    add({
      id: 'webhook.auth',
      hookId: hook.id,
      title: 'webhook secret or URL token configured',
      status: 'fail',
      detail: 'webhooks are accepted without authentication (allowUnauthenticated): anyone who can reach the bridge can create GLPI tickets',
      fix: 'set CHATWOOT_WEBHOOK_SECRET to the secret Chatwoot shows for the webhook (Chatwoot >= 4.12), or CHATWOOT_WEBHOOK_TOKEN and add ?token=... to the webhook URL',
      code: 'WEBHOOK_UNAUTHENTICATED',
    });
  }
}

// ---- GLPI ------------------------------------------------------------------------------------

const SESSION_STEPS = [
  { id: 'glpi.reachable', title: 'GLPI reachable (network, TLS, answers as GLPI)' },
  { id: 'glpi.api-enabled', title: 'GLPI REST API enabled' },
  { id: 'glpi.api-client', title: "a GLPI API client allows the bridge's address" },
  { id: 'glpi.app-token', title: 'GLPI app token valid' },
  { id: 'glpi.user-token', title: 'GLPI user token valid' },
] as const;

/** Which session step an initSession failure belongs to. */
function failedStep(err: unknown): (typeof SESSION_STEPS)[number]['id'] {
  const code = errorCode(err);
  if (code === 'GLPI_API_DISABLED') return 'glpi.api-enabled';
  if (code === 'ERROR_NOT_ALLOWED_IP') return 'glpi.api-client';
  if (code === 'ERROR_APP_TOKEN_PARAMETERS_MISSING' || code === 'ERROR_WRONG_APP_TOKEN_PARAMETER') return 'glpi.app-token';
  if (isGlpiError(err) && err.category === 'auth') return 'glpi.user-token';
  return 'glpi.reachable';
}

async function glpiChecks(hook: HookConfig, deps: DoctorDeps, add: Add): Promise<void> {
  const now = deps.now ?? Date.now;
  const client: GlpiClientHandle = createGlpiClient({ ...hook.glpi, hookId: hook.id }, { dispatcher: deps.glpiDispatcher });
  try {
    const started = now();
    let sessionError: unknown;
    try {
      await client.ensureSession();
    } catch (err) {
      sessionError = err;
    }
    const elapsedMs = now() - started;
    const failedAt = sessionError === undefined ? undefined : SESSION_STEPS.findIndex((s) => s.id === failedStep(sessionError));
    SESSION_STEPS.forEach((step, index) => {
      if (failedAt === undefined || index < failedAt) {
        const slow = step.id === 'glpi.reachable' && elapsedMs > (deps.slowGlpiMs ?? SLOW_GLPI_MS);
        add({
          id: step.id,
          hookId: hook.id,
          title: step.title,
          status: slow ? 'warn' : 'pass',
          detail: step.id === 'glpi.reachable' ? `initSession answered in ${Math.round(elapsedMs)} ms` : 'accepted',
          ...(slow ? { fix: "GLPI is slow to open a session: check its server's load and database (cgb_glpi_call_duration_seconds shows it over time)" } : {}),
        });
      } else if (index === failedAt) {
        add(failure(step.id, hook.id, step.title, sessionError));
      } else {
        add({ id: step.id, hookId: hook.id, title: step.title, status: 'skip', detail: 'not checked: GLPI refused an earlier step' });
      }
    });
    if (sessionError !== undefined) {
      for (const req of requiredRights(hook.glpi.syncType)) {
        add({ id: `glpi.rights.${req.label.toLowerCase()}`, hookId: hook.id, title: `profile rights on ${req.label}`, status: 'skip', detail: 'not checked: no GLPI session' });
      }
      for (const id of ['glpi.version', 'glpi.privileges', 'glpi.entity', 'glpi.category', 'glpi.default-user']) {
        add({ id, hookId: hook.id, title: titleOf(id, hook), status: 'skip', detail: 'not checked: no GLPI session' });
      }
      return;
    }
    versionCheck(hook, client, add);
    await rightsChecks(hook, client, add);
    await privilegeCheck(hook, client, add);
    await entityCheck(hook, client, add);
    await itemCheck(hook, client, add, 'glpi.category', 'ITILCategory', hook.glpi.categoryId, 'GLPI_CATEGORY_ID');
    await itemCheck(hook, client, add, 'glpi.default-user', 'User', hook.glpi.defaultUserId, 'GLPI_DEFAULT_USER_ID');
    const webhook = await glpiWebhookCheck(hook, client);
    if (webhook !== undefined) add(webhook);
  } finally {
    // Doctor opens a session of its own: end it so GLPI's session list stays clean.
    await client.close().catch(() => undefined);
  }
}

/** GLPI releases the bridge was verified with (README, "Supported GLPI versions"). */
const VERIFIED_GLPI = /^(10|11)\.0\.\d+$/;

/**
 * The version GLPI reported when the session opened, and what differs for the bridge on it.
 * The client already adapts (see client.ts); this tells the operator which behaviour applies.
 */
function versionCheck(hook: HookConfig, client: GlpiClientHandle, add: Add): void {
  const id = 'glpi.version';
  const title = titleOf(id, hook);
  const version = client.glpiVersion;
  if (version === undefined) {
    add({
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: 'GLPI did not tell its version (getGlpiConfig refused or unreadable): search answers are decoded as GLPI 10 does',
      fix: "check that the bridge's GLPI user may call getGlpiConfig (any profile can by default) and that nothing between the bridge and GLPI rewrites API answers",
    });
    return;
  }
  const text =
    glpiMajor(version) >= 11
      ? 'stores text as written (search answers read as they come); session token sent only in the Session-Token header; apirest.php and api.php/v1 both work'
      : 'stores text HTML-encoded (items read back with X-GLPI-Sanitized-Content: false, search answers decoded once); let the X-GLPI-Sanitized-Content, Session-Token and App-Token headers through any proxy';
  add(
    VERIFIED_GLPI.test(version)
      ? { id, hookId: hook.id, title, status: 'pass', detail: `GLPI ${version}: ${text}` }
      : {
          id,
          hookId: hook.id,
          title,
          status: 'warn',
          detail: `GLPI ${version} is not a version the bridge was verified with (10.0.x, 11.0.x); handled like GLPI ${glpiMajor(version) >= 11 ? '11' : '10'}: ${text}`,
          fix: 'send a test conversation with <b>, & and quotes and check the ticket shows them as written; report the version if it does not',
        },
  );
}

function titleOf(id: string, hook: HookConfig): string {
  switch (id) {
    case 'glpi.version':
      return 'GLPI version supported';
    case 'glpi.privileges':
      return 'GLPI token is not a super-admin';
    case 'glpi.entity':
      return `entity ${hook.glpi.entityId} visible`;
    case 'glpi.category':
      return hook.glpi.categoryId === undefined ? 'ITIL category' : `ITIL category ${hook.glpi.categoryId} exists`;
    default:
      return hook.glpi.defaultUserId === undefined ? 'default user' : `default user ${hook.glpi.defaultUserId} exists`;
  }
}

function failure(id: string, hookId: string, title: string, err: unknown, fallbackFix?: string): DoctorCheck {
  return {
    id,
    hookId,
    title,
    status: 'fail',
    detail: err instanceof Error ? err.message : String(err),
    fix: errorAdvice(err) ?? fallbackFix ?? 'see the message above',
    code: errorCode(err) ?? 'UNKNOWN',
  };
}

async function rightsChecks(hook: HookConfig, client: GlpiClientHandle, add: Add): Promise<void> {
  let profile: Record<string, unknown> | undefined;
  let profileError: unknown;
  try {
    profile = await client.getActiveProfile();
  } catch (err) {
    profileError = err;
  }
  const profileName = typeof profile?.name === 'string' ? `profile "${profile.name}"` : 'the active profile';
  for (const req of requiredRights(hook.glpi.syncType)) {
    const id = `glpi.rights.${req.label.toLowerCase()}`;
    const title = `profile rights on ${req.label}`;
    const missing = profile ? missingRights(profile, req) : undefined;
    if (missing !== undefined) {
      add(
        missing.length === 0
          ? { id, hookId: hook.id, title, status: 'pass', detail: `${profileName} has ${req.needs.map((n) => n.name).join(', ')}` }
          : {
              id,
              hookId: hook.id,
              title,
              status: 'fail',
              detail: `${profileName} lacks ${req.label}: ${missing.join(', ')}`,
              fix: `in GLPI, ${req.where}: grant ${missing.join(', ')} to ${profileName} of the bridge's user, in entity ${hook.glpi.entityId} (recursive)`,
              code: 'GLPI_RIGHT_MISSING',
            },
      );
      continue;
    }
    // The profile does not show this right (or could not be read): a read probe proves at least
    // the read right without writing anything; create rights then cannot be verified.
    const itemtype: ItemType = req.profileKey === 'user' ? 'User' : req.profileKey === 'contact_enterprise' ? 'Contact' : req.profileKey === 'ticket' ? 'Ticket' : 'ITILFollowup';
    try {
      await client.search(itemtype, { criteria: [{ field: 2, searchtype: 'equals', value: 0 }], range: [0, 0] });
      add({
        id,
        hookId: hook.id,
        title,
        status: 'warn',
        detail: `${req.label} can be read; GLPI did not show the profile's rights${profileError ? ` (${errorCode(profileError) ?? 'error'})` : ''}, so create/update were not verified`,
        fix: `check in GLPI, ${req.where}, that the bridge's profile may ${req.needs.map((n) => n.name).join(', ')}`,
      });
    } catch (err) {
      add(failure(id, hook.id, title, err));
    }
  }
}

/**
 * The bridge acts on customer-controlled input: its token should not be a super-admin's (a leak
 * or a bug would then reach all of GLPI). Also warns when CUSTOMER_BINDING=self-service cannot
 * read profiles, since every existing GLPI user would then be refused binding.
 */
async function privilegeCheck(hook: HookConfig, client: GlpiClientHandle, add: Add): Promise<void> {
  const id = 'glpi.privileges';
  const title = titleOf(id, hook);
  let profile: Record<string, unknown>;
  try {
    profile = await client.getActiveProfile();
  } catch (err) {
    add({ id, hookId: hook.id, title, status: 'warn', detail: `could not read the active profile (${errorCode(err) ?? 'error'})` });
    return;
  }
  const name = typeof profile.name === 'string' ? `profile "${profile.name}"` : 'the active profile';
  const excess = superAdminRights(profile);
  if (excess.length > 0) {
    add({
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `the token's ${name} is a super-admin's: it may ${excess.join(' and ')}`,
      fix:
        "give the bridge its own GLPI user with a profile limited to what doctor's rights checks list, plus read on Profiles " +
        '(Administration > Profiles > (profile) > Administration), and use that user\'s API token',
      code: 'GLPI_TOKEN_SUPER_ADMIN',
    });
    return;
  }
  if (hook.glpi.syncType === 'user' && hook.customerBinding.policy === 'self-service' && !canReadProfiles(profile)) {
    add({
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `${name} may not read Profiles, so no customer can be bound to an existing GLPI user (CUSTOMER_BINDING=self-service)`,
      fix: 'grant read on Profiles to this profile (Administration > Profiles > (profile) > Administration), or set CUSTOMER_BINDING=created-only',
      code: 'GLPI_PROFILES_UNREADABLE',
    });
    return;
  }
  add({ id, hookId: hook.id, title, status: 'pass', detail: `${name} is not a super-admin's` });
}

async function entityCheck(hook: HookConfig, client: GlpiClientHandle, add: Add): Promise<void> {
  const title = titleOf('glpi.entity', hook);
  try {
    const entities = await client.getMyEntities();
    const found = entities.find((e) => e.id === hook.glpi.entityId);
    add(
      found
        ? { id: 'glpi.entity', hookId: hook.id, title, status: 'pass', detail: `"${found.name}" is among the ${entities.length} entities the user sees` }
        : {
            id: 'glpi.entity',
            hookId: hook.id,
            title,
            status: 'fail',
            detail: `the bridge's GLPI user does not see entity ${hook.glpi.entityId}; it sees ${entities.map((e) => `${e.id} "${e.name}"`).join(', ') || 'none'}`,
            fix: `set GLPI_ENTITY_ID to one of those, or give the user's profile entity ${hook.glpi.entityId} (recursive) in Administration > Users > (user) > Authorizations`,
            code: 'GLPI_ENTITY_NOT_VISIBLE',
          },
    );
  } catch (err) {
    add(failure('glpi.entity', hook.id, title, err));
  }
}

async function itemCheck(
  hook: HookConfig,
  client: GlpiClientHandle,
  add: Add,
  id: string,
  itemtype: ItemType,
  itemId: number | undefined,
  variable: string,
): Promise<void> {
  const title = titleOf(id, hook);
  if (itemId === undefined) {
    add({ id, hookId: hook.id, title, status: 'pass', detail: `${variable} not set (${itemtype === 'User' ? "the token's user is the author" : 'tickets get no category'})` });
    return;
  }
  try {
    const item = await client.getItem(itemtype, itemId);
    const name = typeof item.completename === 'string' ? item.completename : typeof item.name === 'string' ? item.name : String(itemId);
    const inactive = itemtype === 'User' && (item.is_active === 0 || item.is_deleted === 1);
    add(
      inactive
        ? { id, hookId: hook.id, title, status: 'fail', detail: `user "${name}" is inactive or deleted`, fix: `reactivate it in GLPI or change ${variable}`, code: 'GLPI_USER_INACTIVE' }
        : { id, hookId: hook.id, title, status: 'pass', detail: `"${name}"` },
    );
  } catch (err) {
    const gone = isGlpiError(err) && (err as GlpiError).category === 'not-found';
    add({
      ...failure(id, hook.id, title, err),
      ...(gone ? { detail: `GLPI has no ${itemtype} ${itemId} visible to the bridge's user`, fix: `set ${variable} to an existing ${itemtype} id (GLPI shows ids in lists), or unset it` } : {}),
    });
  }
}

// ---- Chatwoot --------------------------------------------------------------------------------

async function chatwootChecks(hook: HookConfig, deps: DoctorDeps, add: Add): Promise<void> {
  const title = 'Chatwoot API token valid';
  const api = hook.chatwoot.api;
  if (api === undefined) {
    const half = hook.warnings.find((w) => /write-back/.test(w));
    add({
      id: 'chatwoot.api',
      hookId: hook.id,
      title,
      status: half ? 'warn' : 'pass',
      detail: half ?? 'CHATWOOT_BASE_URL/CHATWOOT_API_TOKEN not set: no write-back, no resync',
      ...(half ? { fix: 'set both CHATWOOT_BASE_URL and CHATWOOT_API_TOKEN, or neither' } : {}),
    });
    return;
  }
  const client: ChatwootApiClient = createChatwootApiClient(api, { dispatcher: deps.chatwootDispatcher });
  try {
    const profile = await client.getProfile();
    const accounts = profile.accounts.map((a) => `${a.id}${a.role ? ` (${a.role})` : ''}`).join(', ');
    const notAdmin = profile.accounts.length > 0 && profile.accounts.every((a) => a.role !== undefined && a.role !== 'administrator');
    add(
      notAdmin
        ? {
            id: 'chatwoot.api',
            hookId: hook.id,
            title,
            status: 'warn',
            detail: `token of user ${profile.id}, accounts ${accounts}: not an administrator, so conversations outside its inboxes cannot be written back or resynced`,
            fix: 'use the access token of a dedicated Chatwoot administrator',
          }
        : { id: 'chatwoot.api', hookId: hook.id, title, status: 'pass', detail: `token of user ${profile.id}, account(s) ${accounts || 'none listed'}` },
    );
    if (hook.glpiToChatwoot.enabled) add(glpiToChatwootCheck(hook, profile.accounts));
  } catch (err) {
    add(failure('chatwoot.api', hook.id, title, err));
  } finally {
    await client.close();
  }
}

/**
 * GLPI -> Chatwoot posts outgoing messages and toggles status with this token, in the hook's
 * account (CHATWOOT_ACCOUNT_ID, else the token's only one: tickets do not say which account their
 * conversation is in). Posting is not tried: that would write to a customer's conversation.
 */
function glpiToChatwootCheck(hook: HookConfig, accounts: readonly { id: number; role: string | undefined }[]): DoctorCheck {
  const id = 'chatwoot.glpi-to-chatwoot';
  const title = 'Chatwoot token may post answers and change status (GLPI_TO_CHATWOOT)';
  // The account the answers go to: CHATWOOT_ACCOUNT_ID, else the token's only account.
  const configured = hook.chatwoot.api?.accountId;
  const account = configured !== undefined ? accounts.find((a) => a.id === configured) : accounts.length === 1 ? accounts[0] : undefined;
  if (account === undefined) {
    return {
      id,
      hookId: hook.id,
      title,
      status: 'fail',
      detail:
        configured !== undefined
          ? `CHATWOOT_ACCOUNT_ID is ${configured}, but the token's user is not in that account`
          : `the token's user belongs to ${accounts.length} accounts: the bridge cannot tell which one a ticket's conversation is in`,
      fix: 'set CHATWOOT_ACCOUNT_ID (chatwootAccountId) to the account of this hook, with the token of an administrator of that account',
      code: 'CHATWOOT_ACCOUNT_UNKNOWN',
    };
  }
  if (account.role !== undefined && account.role !== 'administrator') {
    return {
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `agent of account ${account.id}: may post and change status only in conversations of its own inboxes`,
      fix: 'use the access token of a dedicated Chatwoot administrator',
    };
  }
  return { id, hookId: hook.id, title, status: 'pass', detail: `administrator of account ${account.id}: may post messages and change status in every conversation` };
}

