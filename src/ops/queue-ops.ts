import type { Job, Queue } from 'bullmq';
import { DEFAULTS } from '../config/defaults.js';
import { readFailure } from '../errors/index.js';
import type { SyncJobData } from '../sync/job.js';

/**
 * failed / replay / status, shared by the CLI and the admin routes. Job ids are
 * `<hookId>.<digest>` (jobIdFor), so per-hook views filter ids without loading job data.
 */

export interface FailedEvent {
  jobId: string;
  hookId: string;
  event: string;
  conversationId: number | null;
  deliveryId: string;
  receivedAt: string | null;
  failedAt: string | null;
  attempts: number;
  /** The error message the job failed with (secrets are scrubbed where errors are built). */
  reason: string;
  /** Stable code of the failure (GLPI, Chatwoot or bridge code), when there is one. */
  code: string | null;
  /** What a person should do. */
  advice: string | null;
}

interface FailedQuery {
  hookId?: string;
  /** Newest first; at most this many (default DEFAULTS.failedListLimit). */
  limit?: number;
}

/** Ids of jobs in `state`, newest first, optionally only one hook's. */
async function idsIn(queue: Queue<SyncJobData>, state: 'failed' | 'waiting' | 'active' | 'delayed' | 'prioritized', hookId?: string): Promise<string[]> {
  const ids = await queue.getRanges([state], 0, -1);
  return hookId === undefined ? ids : ids.filter((id) => id.startsWith(`${hookId}.`));
}

function toFailed(job: Job<SyncJobData>): FailedEvent {
  const data = job.data;
  const reason = job.failedReason ?? 'unknown';
  // The worker stores the failure typed next to the reason; jobs without it fall back to the reason.
  const { code, advice } = readFailure((job.data as SyncJobData & { lastError?: unknown }).lastError, reason);
  return {
    jobId: job.id ?? '',
    hookId: data.hookId,
    event: data.event,
    conversationId: data.conversationId ?? null,
    deliveryId: data.deliveryId,
    receivedAt: data.receivedAt ?? null,
    failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    attempts: job.attemptsMade,
    reason,
    code,
    advice,
  };
}

export async function listFailed(queue: Queue<SyncJobData>, query: FailedQuery = {}): Promise<{ total: number; events: FailedEvent[] }> {
  const ids = await idsIn(queue, 'failed', query.hookId);
  const limit = query.limit ?? DEFAULTS.failedListLimit;
  const events: FailedEvent[] = [];
  for (const id of ids.slice(0, limit)) {
    const job = await queue.getJob(id);
    if (job) events.push(toFailed(job));
  }
  return { total: ids.length, events };
}

export type ReplaySelector = { jobId: string } | { hookId: string } | { all: true };

export interface ReplayResult {
  replayed: string[];
  /** Jobs asked for that are not failed (already replayed, completed, unknown). */
  skipped: { jobId: string; reason: string }[];
}

/**
 * Moves failed jobs back to waiting with their attempt counters reset, keeping their job id
 * (so a delivery still maps to one job) and their original payload.
 */
export async function replay(queue: Queue<SyncJobData>, selector: ReplaySelector): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], skipped: [] };
  let ids: string[];
  if ('jobId' in selector) ids = [selector.jobId];
  else ids = await idsIn(queue, 'failed', 'hookId' in selector ? selector.hookId : undefined);
  const page = DEFAULTS.queueOpsPageSize;
  for (let i = 0; i < ids.length; i += page) {
    for (const id of ids.slice(i, i + page)) {
      const job = await queue.getJob(id);
      if (!job) {
        result.skipped.push({ jobId: id, reason: 'no such job' });
        continue;
      }
      const state = await job.getState();
      if (state !== 'failed') {
        result.skipped.push({ jobId: id, reason: `job is ${state}, not failed` });
        continue;
      }
      try {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        result.replayed.push(id);
      } catch (err) {
        result.skipped.push({ jobId: id, reason: (err as Error).message });
      }
    }
  }
  return result;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface QueueStatus {
  hooks: Record<string, QueueCounts>;
  total: QueueCounts;
  /** Jobs whose id belongs to no configured hook (a hook removed from the configuration). */
  other: QueueCounts;
}

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** Counts per hook; `prioritized` jobs count as waiting (BullMQ keeps them in a separate list). */
export async function queueStatus(queue: Queue<SyncJobData>, hookIds: string[]): Promise<QueueStatus> {
  const zero = (): QueueCounts => ({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  const status: QueueStatus = { hooks: Object.fromEntries(hookIds.map((id) => [id, zero()])), total: zero(), other: zero() };
  for (const state of STATES) {
    const ids = state === 'waiting' ? [...(await idsIn(queue, 'waiting')), ...(await idsIn(queue, 'prioritized'))] : await idsIn(queue, state);
    for (const id of ids) {
      const hookId = id.slice(0, Math.max(0, id.indexOf('.')));
      const bucket = status.hooks[hookId] ?? status.other;
      bucket[state] += 1;
      status.total[state] += 1;
    }
  }
  return status;
}
