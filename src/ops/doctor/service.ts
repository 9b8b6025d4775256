import { resolve } from 'node:path';
import type { Queue } from 'bullmq';
import type { HookConfig, ServiceConfig } from '../../config/schema.js';
import { differingFingerprints, restartAdvice } from '../../config/fingerprint.js';
import { writeBackKeys } from '../../sync/chatwoot-account.js';
import { QUEUED, readPendingWriteBacks, type PendingWriteBack } from '../../sync/chatwoot-to-glpi/pending-write-backs.js';
import { DEFAULTS } from '../../config/defaults.js';
import { keyOptionsFor, redisKeys } from '../../redis/keys.js';
import type { SyncJobData } from '../../sync/job.js';
import { SPOOL_DIR_ADVICE, spoolDirProblem } from '../../queue/spool.js';
import { connectionDb, describeRedis, type RedisConnection } from '../../redis/connection.js';
import type { Add, DoctorDeps } from './types.js';

// ---- The disk spool --------------------------------------------------------------------------

export async function spoolCheck(config: ServiceConfig, add: Add): Promise<void> {
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

export async function redisChecks(config: ServiceConfig, deps: DoctorDeps, add: Add): Promise<{ redis: RedisConnection; queue: Queue<SyncJobData> } | undefined> {
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

export async function queueChecks(hook: HookConfig, queue: Queue<SyncJobData>, add: Add): Promise<void> {
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

export async function writeBackCheck(hook: HookConfig, redis: RedisConnection, config: ServiceConfig, add: Add, now: () => number = Date.now): Promise<void> {
  const title = 'write-backs to Chatwoot delivered';
  try {
    const { entries: all, unreadable } = readPendingWriteBacks(await redis.hgetall(writeBackKeys(config.redisKeyPrefix, keyOptionsFor(config.redis)).pending(hook.id)));
    // Queued by a job that is making it right now (a new ticket): not a problem until it outlives
    // the retry timer's period twice (its worker stopped, and no timer has taken it since). A time
    // far ahead of this clock does not count as recent.
    const beingMade = (p: PendingWriteBack) => {
      const ageMs = now() - Date.parse(p.at);
      return p.code === QUEUED.code && ageMs >= -DEFAULTS.writeBack.queuedClockSkewMaxMs && ageMs < DEFAULTS.writeBack.queuedStaleAfterMs;
    };
    const parked = all.filter((p) => !beingMade(p));
    if (parked.length === 0 && unreadable.length === 0) {
      const detail = all.length === 0 ? 'none pending' : `none pending; ${all.length} being written for new tickets`;
      add({ id: 'chatwoot.write-back', hookId: hook.id, title, status: 'pass', detail });
      return;
    }
    const last = parked.at(-1);
    const beingMadeCount = all.length - parked.length;
    const details = [
      ...(last === undefined ? [] : [`${parked.length} ticket link(s) not written to Chatwoot yet; last: conversation ${last.conversationId} ticket ${last.ticketId} (${last.code})`]),
      // Not JSON, or not an entry this bridge writes (another version, a hand edit): nothing can deliver it.
      ...(unreadable.length === 0 ? [] : [`${unreadable.length} unreadable entr${unreadable.length === 1 ? 'y' : 'ies'} (account:conversation ${unreadable.slice(0, 3).join(', ')})`]),
      ...(beingMadeCount === 0 ? [] : [`${beingMadeCount} being written for new tickets`]),
    ];
    const fixes = [
      ...(last === undefined ? [] : [last.advice ?? 'see the worker logs; parked write-backs are retried']),
      ...(unreadable.length === 0 ? [] : ["unreadable entries are dropped by a running worker's retry timer within a minute; if they stay, start a worker"]),
    ];
    add({ id: 'chatwoot.write-back', hookId: hook.id, title, status: 'warn', detail: details.join('; '), fix: fixes.join('; ') });
  } catch (err) {
    add({ id: 'chatwoot.write-back', hookId: hook.id, title, status: 'warn', detail: `could not read: ${(err as Error).message}` });
  }
}
