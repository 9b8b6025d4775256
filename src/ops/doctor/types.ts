import type { Queue } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { ServiceConfig } from '../../config/schema.js';
import { classifyError } from '../../errors/index.js';
import type { RedisConnection, RedisTarget } from '../../redis/connection.js';
import type { SyncJobData } from '../../sync/job.js';

/**
 * The troubleshooting checklist, live. Every check says what it looked at and, when it fails, a
 * one-line fix. `fail` makes the exit status non-zero; `warn` is worth reading but the bridge
 * works; `skip` means an earlier failure made the check meaningless.
 */
type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

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

export type Add = (check: DoctorCheck) => void;

export function failure(id: string, hookId: string, title: string, err: unknown, fallbackFix?: string): DoctorCheck {
  const { code, category, advice } = classifyError(err);
  return {
    id,
    hookId,
    title,
    status: 'fail',
    detail: err instanceof Error ? err.message : String(err),
    // The catalogue's UNKNOWN advice speaks of a job's retries: doctor runs none.
    fix: (category === 'unknown' ? undefined : advice) ?? fallbackFix ?? 'see the message above',
    code,
  };
}
