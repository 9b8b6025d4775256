import type { RedisConnection } from '../../redis/connection.js';
import type { Logger } from 'pino';
import type { ChatwootApiClient } from '../../chatwoot/api-client.js';
import { hookAccountId, writeBackKeys } from '../chatwoot-account.js';
import { DEFAULTS } from '../../config/defaults.js';
import type { HookConfig } from '../../config/schema.js';
import { ConfigError } from '../../errors/index.js';
import type { GlpiClient } from '../../glpi/types.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { RedisKeys } from '../../redis/keys.js';
import { offsetFromSession } from '../glpi-time.js';
import type { HookLockOptions } from '../hook-lock.js';
import { registered, type UseCase } from '../use-case.js';
import type { G2cContext, G2cObserver } from './context.js';
import { pollChanges } from './poll-changes.js';
import { G2cRecords } from './records.js';

/** Job name (and SyncJobData.event) of a poll: scheduled per hook, or a nudge from a GLPI webhook. */
export const GLPI_POLL_EVENT = 'glpi_poll';

export interface GlpiPollerDeps {
  redis: RedisConnection;
  keys: RedisKeys;
  /** REDIS_KEY_PREFIX. */
  hooks: ReadonlyMap<string, HookConfig>;
  glpiFor: (hookId: string) => GlpiClient;
  chatwootFor: (hookId: string) => ChatwootApiClient | undefined;
  logger: Logger;
  metrics?: Pick<Metrics, 'lockWait'> & Partial<Pick<Metrics, 'glpiChanges' | 'chatwootPosts' | 'glpiToChatwootLag'>>;
  clock?: () => number;
  lock?: HookLockOptions;
}

/**
 * The GLPI -> Chatwoot direction's one use case: a poll of one hook, run by the same job runner
 * as the Chatwoot -> GLPI jobs (so under the same per-hook mutex: the two directions never
 * interleave on a conversation, and two worker processes never poll one hook at once), with the
 * hook's shared GLPI session. Errors are thrown as they are; the sync worker decides retry or
 * failure as for every job.
 */
export function glpiPollUseCase(deps: GlpiPollerDeps): [string, UseCase<unknown>] {
  const clock = deps.clock ?? Date.now;
  /** Per hook, from GLPI's session: the bridge's own user, and the UTC offset the session showed (if any). */
  const facts = new Map<string, { ownUserId: number | undefined; sessionOffsetMin: number | undefined; at: number }>();
  const names = new Map<string, string>();

  async function sessionFacts(hookId: string, glpi: GlpiClient) {
    const known = facts.get(hookId);
    if (known !== undefined && clock() - known.at < DEFAULTS.glpiToChatwoot.sessionFactsTtlMs) return known;
    const session = await glpi.getFullSession();
    const own = Number(session.glpiID);
    const fresh = { ownUserId: Number.isSafeInteger(own) && own > 0 ? own : undefined, sessionOffsetMin: offsetFromSession(session, clock()), at: clock() };
    if (fresh.ownUserId === undefined) deps.logger.warn({ hookId }, "GLPI did not tell the bridge's own user id; only the bridge's recorded followups are recognised as its own");
    if (fresh.sessionOffsetMin === undefined) deps.logger.warn({ hookId }, 'GLPI did not tell its local time; its dates are read as UTC');
    facts.set(hookId, fresh);
    return fresh;
  }

  function observerFor(hookId: string): G2cObserver {
    return {
      change: (kind, action, reason) => deps.metrics?.glpiChanges?.inc({ hook: hookId, kind, action, reason: reason ?? '' }),
      posted: (kind, lagMs) => {
        deps.metrics?.chatwootPosts?.inc({ hook: hookId, kind });
        if (lagMs !== undefined) deps.metrics?.glpiToChatwootLag?.observe({ hook: hookId }, lagMs / 1000);
      },
    };
  }

  const poll: UseCase<undefined> = {
    // The payload only says why the poll runs (schedule or GLPI webhook): nothing to read.
    parse: () => ({ ok: true, event: undefined }),
    // A schedule left by an older configuration; the runtime removes it at start.
    skip: (_event, hook) => (hook.glpiToChatwoot.enabled ? undefined : 'GLPI -> Chatwoot is off for this hook'),
    whenHookOff: { skip: 'GLPI -> Chatwoot is off for this hook' },
    async run(job) {
      const { hook, glpi } = job;
      const chatwoot = deps.chatwootFor(hook.id);
      if (chatwoot === undefined) {
        throw new ConfigError(`hook "${hook.id}": GLPI -> Chatwoot needs the Chatwoot API`, 'set CHATWOOT_BASE_URL and CHATWOOT_API_TOKEN');
      }
      const { ownUserId, sessionOffsetMin } = await sessionFacts(hook.id, glpi);
      // The job's time zone decides (configuration first, then what GLPI tells); the session read
      // above already tells it, so it is not asked again. A session without an offset means UTC,
      // as the job's own look-up would conclude, without a second call and warning per poll.
      job.timezone.remember(sessionOffsetMin ?? 0);
      const tzOffsetMin = await job.timezone.offsetMin();
      const ctx: G2cContext = {
        hook,
        glpi,
        chatwoot,
        accountId: await hookAccountId(deps.redis, writeBackKeys(deps.keys.prefix, deps.keys.options), hook, chatwoot),
        store: job.store,
        records: new G2cRecords(deps.redis, deps.keys, hook.id),
        logger: job.logger,
        now: job.now,
        signal: job.signal,
        ownUserId,
        tzOffsetMin,
        userName: (userId) => userName(hook.id, glpi, userId),
        observer: observerFor(hook.id),
      };
      const outcome = await pollChanges(ctx);
      if (outcome.changedTickets > 0) job.logger.info({ ...outcome }, 'GLPI -> Chatwoot poll');
      return { action: outcome.ourTickets > 0 ? 'glpi-changes' : 'glpi-poll', reason: outcome.cursor };
    },
  };

  async function userName(hookId: string, glpi: GlpiClient, userId: number): Promise<string> {
    const key = `${hookId}:${userId}`;
    const cached = names.get(key);
    if (cached !== undefined) return cached;
    let name = 'GLPI';
    try {
      const user = await glpi.getItem('User', userId);
      const full = [user.firstname, user.realname].filter((v): v is string => typeof v === 'string' && v.trim() !== '').join(' ');
      name = full !== '' ? full : typeof user.name === 'string' && user.name !== '' ? user.name : name;
    } catch (err) {
      deps.logger.debug({ hookId, userId, err: { message: (err as Error).message } }, 'could not read the GLPI user name; using "GLPI"');
      return name;
    }
    if (names.size >= DEFAULTS.glpiToChatwoot.userNamesMax) names.delete(names.keys().next().value as string);
    names.set(key, name);
    return name;
  }

  return [GLPI_POLL_EVENT, registered(poll)];
}
