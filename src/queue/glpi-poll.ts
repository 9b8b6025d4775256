import type { JobsOptions, Queue } from 'bullmq';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { HookConfig } from '../config/schema.js';
import { GLPI_POLL_EVENT } from '../sync/glpi-to-chatwoot/poller.js';
import type { SyncJobData } from '../sync/job.js';

/**
 * Poll jobs go through the sync queue like webhook jobs (same worker, same retry decisions, same
 * hook mutex). One attempt: the next poll is never more than an interval away, and it starts from
 * the same cursor; failed polls are trimmed instead of piling up during a GLPI outage.
 */
const POLL_JOB_OPTIONS = { attempts: 1, removeOnComplete: true, removeOnFail: { count: DEFAULTS.glpiToChatwoot.pollKeepFailedCount } } satisfies JobsOptions;
const SCHEDULER_PREFIX = 'glpi-poll.';

function pollJob(hookId: string, reason: 'schedule' | 'glpi-webhook'): SyncJobData {
  // receivedAt empty: a poll is not a delivery, it must not count in the webhook latency.
  return { hookId, event: GLPI_POLL_EVENT, deliveryId: `poll:${reason}`, receivedAt: '', conversationId: undefined, payload: { reason } };
}

/**
 * One BullMQ job scheduler per hook with GLPI -> Chatwoot on: every worker process calls this at
 * start and upserting is idempotent, so there is one schedule per hook however many workers run.
 * Schedules of hooks that were switched off or removed are deleted.
 */
export async function syncPollSchedules(queue: Queue<SyncJobData>, hooks: Iterable<HookConfig>, logger: Logger): Promise<void> {
  const wanted = new Set<string>();
  for (const hook of hooks) {
    if (!hook.enabled || !hook.glpiToChatwoot.enabled) continue;
    const id = `${SCHEDULER_PREFIX}${hook.id}`;
    wanted.add(id);
    await queue.upsertJobScheduler(id, { every: hook.glpiToChatwoot.pollIntervalMs }, { name: GLPI_POLL_EVENT, data: pollJob(hook.id, 'schedule'), opts: POLL_JOB_OPTIONS });
    logger.info({ hookId: hook.id, pollIntervalMs: hook.glpiToChatwoot.pollIntervalMs }, 'GLPI -> Chatwoot polling scheduled');
  }
  for (const scheduler of await queue.getJobSchedulers()) {
    const id = scheduler.id ?? scheduler.key;
    if (id.startsWith(SCHEDULER_PREFIX) && !wanted.has(id)) {
      await queue.removeJobScheduler(id);
      logger.info({ scheduler: id }, 'GLPI -> Chatwoot polling unscheduled (switched off)');
    }
  }
}

/**
 * A poll of this hook now (a GLPI webhook said something changed). While one nudge waits, more
 * are the same job (its id); one already running may have read GLPI before the change, and then
 * the scheduled poll picks it up.
 */
export async function nudgePoll(queue: Queue<SyncJobData>, hookId: string): Promise<void> {
  await queue.add(GLPI_POLL_EVENT, pollJob(hookId, 'glpi-webhook'), { ...POLL_JOB_OPTIONS, jobId: `glpi-nudge.${hookId}` });
}
