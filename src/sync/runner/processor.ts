import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import { ProfileInterfaceCache } from '../../glpi/profiles.js';
import type { GlpiClient } from '../../glpi/types.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { RedisConnection } from '../../redis/connection.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { SyncHooks } from '../chatwoot-to-glpi/context.js';
import { chatwootToGlpiUseCases } from '../chatwoot-to-glpi/use-cases.js';
import { glpiPollUseCase, type GlpiPollerDeps } from '../glpi-to-chatwoot/poller.js';
import type { HookLockOptions } from '../hook-lock.js';
import type { ReplicaWait } from '../mapping-store.js';
import type { SyncProcessor } from '../use-case.js';
import { createJobRunner } from './job-runner.js';

export interface SyncProcessorDeps extends SyncHooks {
  /** Command connection: mappings, hook state, the hook lock. */
  redis: RedisConnection;
  keys: RedisKeys;
  hooks: ReadonlyMap<string, HookConfig>;
  glpiFor: (hookId: string) => GlpiClient;
  logger: Logger;
  /** ms since epoch (tests pin it). */
  clock?: () => number;
  metrics?: Pick<Metrics, 'lockWait'> & Partial<Pick<Metrics, 'contextReads' | 'customerBindings' | 'glpiChanges' | 'chatwootPosts' | 'glpiToChatwootLag'>>;
  lock?: HookLockOptions;
  /**
   * GLPI's offset from UTC in minutes, when known from configuration. Default: learnt from GLPI's
   * session (`glpi_currenttime`) and cached in Redis for an hour.
   */
  glpiUtcOffsetMin?: (hookId: string) => number | undefined;
  /** REDIS_WAIT_REPLICAS for the write intents (see MappingStore); default none. */
  replicaWait?: ReplicaWait;
  /** The GLPI -> Chatwoot direction: its poll jobs run on the same runner (same hook lock line). */
  glpiToChatwoot?: Pick<GlpiPollerDeps, 'chatwootFor'>;
}

/** Every sync use case on one job runner: Chatwoot -> GLPI, and the GLPI -> Chatwoot poll when given. */
export function createSyncProcessor(deps: SyncProcessorDeps): SyncProcessor {
  const hooks: SyncHooks = {
    onTicketCreated: deps.onTicketCreated,
    isOwnEcho: deps.isOwnEcho,
    fetchAttachment: deps.fetchAttachment,
    onCustomerBinding:
      deps.onCustomerBinding ??
      ((hookId, result, reason) => deps.metrics?.customerBindings?.inc({ hook: hookId, result, reason })),
  };
  const profiles = new ProfileInterfaceCache(DEFAULTS.profileCacheTtlMs, deps.clock ?? Date.now);
  const useCases = chatwootToGlpiUseCases(hooks, profiles);
  if (deps.glpiToChatwoot !== undefined) useCases.push(glpiPollUseCase({ ...deps, chatwootFor: deps.glpiToChatwoot.chatwootFor }));
  return createJobRunner({ ...deps, useCases: new Map(useCases) });
}
