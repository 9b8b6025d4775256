import { parseArgs } from 'node:util';
import type { Queue } from 'bullmq';
import { createChatwootApiClient } from '../chatwoot/api-client.js';
import { differingFingerprints, restartAdvice } from '../config/fingerprint.js';
import { DEFAULTS } from '../config/defaults.js';
import { dotEnvHint } from '../config/dotenv-hint.js';
import { loadConfig, loadDotEnv } from '../config/load.js';
import type { ServiceConfig } from '../config/schema.js';
import { errorAdvice, hasCode } from '../errors/index.js';
import { keyOptionsFor, redisKeys } from '../redis/keys.js';
import { type SyncJobData } from '../sync/job.js';
import { createSyncQueue } from '../queue/producer.js';
import { createRedis, waitForReady, type RedisConnection } from '../redis/connection.js';
import { runDoctor } from '../ops/doctor/runner.js';
import { listFailed, queueStatus, replay, type ReplaySelector } from '../ops/queue-ops.js';
import { resyncConversations, resyncSince, type ResyncResult } from '../ops/resync.js';
import { formatDoctor, formatFailed, formatReplay, formatResync, formatStatus } from './format.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Read `.env` before the environment (the real CLI does; tests do not). */
  loadDotEnv: boolean;
  redisTimeoutMs: number;
}

const USAGE = `usage: chatwoot-glpi-bridge <command> [options]

commands:
  doctor [--hook ID] [--json]                 check configuration, Redis, GLPI and Chatwoot live; exit 0 when all pass
  failed [--hook ID] [--limit N] [--json]     list events that failed for good, with the reason and what to do
  replay (--job ID | --hook ID | --all)       re-enqueue failed events
  status [--json]                             queue counts (waiting, active, delayed, failed) per hook
  resync --hook ID (--conversation N ... | --since DATE) [--account N] [--json]
                                              read conversations back from Chatwoot and bring GLPI up to date
`;

/** Exit codes: 0 ok, 1 a check or an operation failed, 2 usage, 78 configuration (EX_CONFIG). */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const ctx: CliIo = {
    env: io.env ?? process.env,
    out: io.out ?? ((t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`)),
    err: io.err ?? ((t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`)),
    loadDotEnv: io.loadDotEnv ?? io.env === undefined,
    redisTimeoutMs: io.redisTimeoutMs ?? DEFAULTS.cliRedisTimeoutMs,
  };
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    ctx.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (ctx.loadDotEnv) loadDotEnv();
  try {
    switch (command) {
      case 'doctor':
        return await doctor(rest, ctx);
      case 'failed':
        return await failed(rest, ctx);
      case 'replay':
        return await replayCommand(rest, ctx);
      case 'status':
        return await status(rest, ctx);
      case 'resync':
        return await resync(rest, ctx);
      default:
        ctx.err(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      // The whole usage only helps when the command line itself was wrong.
      ctx.err(err.showUsage ? `${err.message}\n\n${USAGE}` : `chatwoot-glpi-bridge ${command}: ${err.message}`);
      return 2;
    }
    const advice = errorAdvice(err);
    const hint = hasCode(err, 'CONFIG_INVALID') && ctx.loadDotEnv ? dotEnvHint(ctx.env) : undefined;
    ctx.err(`chatwoot-glpi-bridge ${command}: ${err instanceof Error ? err.message : String(err)}${advice ? `\n  fix: ${advice}` : ''}${hint ? `\n  ${hint}` : ''}`);
    return hasCode(err, 'CONFIG_INVALID') ? 78 : 1;
  }
}

class UsageError extends Error {
  /** false for a well-formed command that names something the configuration does not have. */
  constructor(message: string, readonly showUsage = true) {
    super(message);
  }
}

function parse<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function positiveInt(value: string, name: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`${name} must be a positive integer, not "${value}"`);
  return Number(value);
}

// ---- connections -----------------------------------------------------------------------------

interface Connections {
  config: ServiceConfig;
  redis: RedisConnection;
  queue: Queue<SyncJobData>;
  close(): Promise<void>;
}

async function connect(ctx: CliIo): Promise<Connections> {
  const config = loadConfig(ctx.env);
  const redis = createRedis(config.redis, 'command', { maxRetriesPerRequest: 1 });
  if (!(await waitForReady(redis, ctx.redisTimeoutMs))) {
    redis.disconnect();
    throw new Error(`Redis at REDIS_URL did not answer within ${ctx.redisTimeoutMs} ms; run \`chatwoot-glpi-bridge doctor\``);
  }
  const queue = createSyncQueue(redis, redisKeys(config.redisKeyPrefix, keyOptionsFor(config.redis)));
  queue.on('error', () => undefined);
  return {
    config,
    redis,
    queue,
    async close() {
      await queue.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

async function withQueue<T>(ctx: CliIo, fn: (c: Connections) => Promise<T>): Promise<T> {
  const c = await connect(ctx);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

function checkHook(config: ServiceConfig, hookId: string | undefined): void {
  if (hookId !== undefined && !config.hooks.has(hookId)) {
    throw new UsageError(`no hook "${hookId}"; configured: ${[...config.hooks.keys()].join(', ')}`, false);
  }
}

// ---- commands --------------------------------------------------------------------------------

async function doctor(args: string[], ctx: CliIo): Promise<number> {
  const values = parse(args, { hook: { type: 'string' }, json: { type: 'boolean' } });
  const report = await runDoctor({
    loadConfig: () => loadConfig(ctx.env),
    hookId: values.hook,
    async connectRedis(target) {
      const redis = createRedis(target, 'command', { maxRetriesPerRequest: 1, connectTimeout: ctx.redisTimeoutMs });
      return { redis, ready: await waitForReady(redis, ctx.redisTimeoutMs) };
    },
    openQueue: (redis, config) => createSyncQueue(redis, redisKeys(config.redisKeyPrefix, keyOptionsFor(config.redis))),
  });
  ctx.out(values.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
  return report.ok ? 0 : 1;
}

async function failed(args: string[], ctx: CliIo): Promise<number> {
  const values = parse(args, { hook: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } });
  const limit = values.limit === undefined ? DEFAULTS.failedListLimit : positiveInt(values.limit, '--limit');
  return withQueue(ctx, async ({ config, queue }) => {
    checkHook(config, values.hook);
    const result = await listFailed(queue, { hookId: values.hook, limit });
    ctx.out(values.json ? JSON.stringify(result, null, 2) : formatFailed(result));
    return 0;
  });
}

async function replayCommand(args: string[], ctx: CliIo): Promise<number> {
  const values = parse(args, { job: { type: 'string' }, hook: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } });
  const chosen = [values.job !== undefined, values.hook !== undefined, values.all === true].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('replay needs exactly one of --job ID, --hook ID, --all');
  return withQueue(ctx, async ({ config, redis, queue }) => {
    checkHook(config, values.hook);
    const selector: ReplaySelector = values.job !== undefined ? { jobId: values.job } : values.hook !== undefined ? { hookId: values.hook } : { all: true };
    const { differing } = await differingFingerprints(redis, redisKeys(config.redisKeyPrefix, keyOptionsFor(config.redis)).configFingerprint, config);
    // Replayed jobs run in the service, with its configuration: a fix made since it started
    // (a new token) does not help them until it restarts.
    if (differing.length > 0) ctx.err(`warning: ${restartAdvice(differing)}; the replayed events may fail again until then`);
    const result = await replay(queue, selector);
    ctx.out(values.json ? JSON.stringify(result, null, 2) : formatReplay(result));
    return values.job !== undefined && result.replayed.length === 0 ? 1 : 0;
  });
}

async function status(args: string[], ctx: CliIo): Promise<number> {
  const values = parse(args, { json: { type: 'boolean' } });
  return withQueue(ctx, async ({ config, queue }) => {
    const result = await queueStatus(queue, [...config.hooks.keys()]);
    ctx.out(values.json ? JSON.stringify(result, null, 2) : formatStatus(result));
    return 0;
  });
}

async function resync(args: string[], ctx: CliIo): Promise<number> {
  const values = parse(args, {
    hook: { type: 'string' },
    conversation: { type: 'string', multiple: true },
    since: { type: 'string' },
    account: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.hook === undefined) throw new UsageError('resync needs --hook ID');
  const conversations = (values.conversation ?? []).flatMap((v) => v.split(',')).map((v) => positiveInt(v.trim(), '--conversation'));
  if ((conversations.length > 0) === (values.since !== undefined)) throw new UsageError('resync needs either --conversation N or --since DATE');
  let since: Date | undefined;
  if (values.since !== undefined) {
    since = new Date(values.since);
    if (Number.isNaN(since.getTime())) throw new UsageError(`--since must be a date such as 2026-05-28 or 2026-05-28T09:00:00Z, not "${values.since}"`);
  }
  const accountId = values.account === undefined ? undefined : positiveInt(values.account, '--account');
  const hookId = values.hook;
  return withQueue(ctx, async ({ config, queue }) => {
    checkHook(config, hookId);
    const api = config.hooks.get(hookId)?.chatwoot.api;
    if (api === undefined) {
      throw new UsageError(`hook "${hookId}" has no Chatwoot API access: set CHATWOOT_BASE_URL and CHATWOOT_API_TOKEN (resync reads conversations through it)`, false);
    }
    const client = createChatwootApiClient(api);
    try {
      const deps = { hookId, client, queue, accountId };
      const result: ResyncResult = since ? await resyncSince(deps, since) : await resyncConversations(deps, conversations);
      ctx.out(values.json ? JSON.stringify(result, null, 2) : formatResync(result));
      return result.conversations.some((c) => c.invalid.length > 0) ? 1 : 0;
    } finally {
      await client.close();
    }
  });
}
