import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createChatwootApiClient, type ChatwootApiClient } from '../../../src/chatwoot/api-client.js';
import { createWriteBack, writeBackSeams } from '../../../src/sync/chatwoot-to-glpi/write-back.js';
import { loadConfig } from '../../../src/config/load.js';
import type { HookConfig } from '../../../src/config/schema.js';
import { createGlpiClient, type GlpiClientHandle } from '../../../src/glpi/client.js';
import { createMetrics, type Metrics } from '../../../src/metrics/metrics.js';
import { redisKeys, type RedisKeys } from '../../../src/redis/keys.js';
import { type SyncJobData } from '../../../src/sync/job.js';
import { createEchoCheck } from '../../../src/sync/glpi-to-chatwoot/echo.js';
import { GLPI_POLL_EVENT } from '../../../src/sync/glpi-to-chatwoot/poller.js';
import { createSyncProcessor } from '../../../src/sync/runner/processor.js';
import type { SyncOutcome, SyncProcessor } from '../../../src/sync/use-case.js';
import { startChatwootApi, type ChatwootApiDouble } from '../../support/chatwoot-api/index.js';
import { startGlpiSimulator, type GlpiSimulator, type SimGlpiVersion } from '../../support/glpi-simulator/index.js';
import { deletePrefix, testPrefix, testRedis } from '../../support/redis.js';
import { jobData, messageEvent, type MessageSpec } from '../support.js';

export const HOOK_ID = 'acme';
export const ACCOUNT_ID = 3;
export const BRIDGE_USER = 2;
export const TECH_USER = 4;
export const REQUESTER_TOKEN = 'selfservice-user-token';
export const REQUESTER_USER = 5;

/**
 * Both directions of one hook against the GLPI simulator and the Chatwoot API double (real HTTP
 * servers) and the real Redis: the Chatwoot -> GLPI processor creates tickets from conversations,
 * the GLPI -> Chatwoot poller sends technicians' answers back.
 */
export interface G2cHarness {
  sim: GlpiSimulator;
  chatwoot: ChatwootApiDouble;
  redis: Redis;
  keys: RedisKeys;
  prefix: string;
  hook: HookConfig;
  glpi: GlpiClientHandle;
  /** Writes as the technician (user 4 "Alex Martin"). */
  tech: GlpiClientHandle;
  /** Writes as the requester (user 5, self-service). */
  requester: GlpiClientHandle;
  metrics: Metrics;
  processor: SyncProcessor;
  /** One poll, as the scheduled job runs it; `poller` gives a fresh one (a restarted worker). */
  poll(poller?: SyncProcessor): Promise<SyncOutcome>;
  makePoller(): SyncProcessor;
  /** Moves the pollers' clock: a minute ahead makes every second "over" (steady state) without waiting. */
  setClockSkew(ms: number): void;
  /** Writes a followup as the mail collector does: the bridge's session, authored by the ticket's requester. */
  requesterFollowup(ticketId: number, input: Record<string, unknown>): Promise<number>;
  /** Conversation in the double + conversation_created through the bridge: returns the ticket id. */
  openConversation(id: number): Promise<number>;
  /** Feeds every webhook the double emitted since the last call back to the bridge (the echo loop). */
  feedEchoes(): Promise<SyncOutcome[]>;
  /** Outgoing public messages the bridge posted to a conversation (what the customer receives). */
  outgoing(conversationId: number): { id: number; content: string | null }[];
  close(): Promise<void>;
}

export interface G2cHarnessOptions {
  version?: SimGlpiVersion;
  env?: Record<string, string>;
}

export async function startG2cHarness(options: G2cHarnessOptions = {}): Promise<G2cHarness> {
  const sim = await startGlpiSimulator({
    version: options.version ?? '10.0.3',
    userTokens: {
      'admin-user-token': { userId: BRIDGE_USER, profile: 'super-admin' },
      [REQUESTER_TOKEN]: { userId: REQUESTER_USER, profile: 'self-service' },
      'tech-user-token': { userId: TECH_USER, profile: 'super-admin' },
    },
  });
  const techRow = sim.state.users.find((u) => u.id === TECH_USER);
  if (techRow) Object.assign(techRow, { name: 'alex', firstname: 'Alex', realname: 'Martin' });
  const chatwoot = await startChatwootApi();
  const prefix = testPrefix('g2c');
  const keys = redisKeys(prefix);
  const redis = testRedis();
  const hook = loadConfig({
    HOOK_ID,
    GLPI_API_URL: sim.url,
    GLPI_USER_TOKEN: 'admin-user-token',
    GLPI_TIMEOUT_MS: '5000',
    ALLOW_UNAUTHENTICATED: 'true',
    CHATWOOT_BASE_URL: chatwoot.url,
    CHATWOOT_API_TOKEN: 'chatwoot-admin-token',
    GLPI_TO_CHATWOOT: 'true',
    ...options.env,
  }).hooks.get(HOOK_ID) as HookConfig;
  const glpi = createGlpiClient({ ...hook.glpi, hookId: hook.id });
  const tech = createGlpiClient({ ...hook.glpi, userToken: 'tech-user-token', hookId: 'tech' });
  const requester = createGlpiClient({ ...hook.glpi, userToken: REQUESTER_TOKEN, hookId: 'requester' });
  const api: ChatwootApiClient = createChatwootApiClient(hook.chatwoot.api as { baseUrl: string; apiToken: string });
  const metrics = createMetrics();
  const logger = pino({ level: 'silent' });
  const writeBack = createWriteBack({ redis, keyPrefix: prefix, clientFor: () => api, logger, attempts: 1 });
  const seams = writeBackSeams(writeBack);
  const hooks = new Map([[hook.id, hook]]);
  const processor = createSyncProcessor({
    redis,
    keys,
    hooks,
    glpiFor: () => glpi,
    logger,
    metrics,
    ...seams,
    // The one echo check the runtime wires (both directions).
    isOwnEcho: createEchoCheck(writeBack, redis, keys),
  });
  const makePoller = () =>
    createSyncProcessor({
      redis,
      keys,
      hooks,
      glpiFor: () => glpi,
      glpiToChatwoot: { chatwootFor: () => api },
      logger,
      metrics,
      clock: () => Date.now() + skewMs,
    });
  let skewMs = 0;
  const defaultPoller = makePoller();
  let fed = 0;
  const pollData = (): SyncJobData => ({ hookId: HOOK_ID, event: GLPI_POLL_EVENT, deliveryId: 'poll:test', receivedAt: '', conversationId: undefined, payload: {} });

  return {
    sim,
    chatwoot,
    redis,
    keys,
    prefix,
    hook,
    glpi,
    tech,
    requester,
    metrics,
    processor,
    makePoller,
    setClockSkew(ms) {
      skewMs = ms;
    },
    async requesterFollowup(ticketId, input) {
      const link = sim.state.ticketUsers.find((tu) => tu.tickets_id === ticketId && tu.type === 1);
      if (link === undefined) throw new Error(`ticket ${ticketId} has no requester`);
      return (await glpi.addSubItem('Ticket', ticketId, 'ITILFollowup', { ...input, users_id: link.users_id })).id;
    },
    poll: (poller = defaultPoller) => poller.process(pollData()),
    async openConversation(id) {
      chatwoot.addConversation({ id, account_id: ACCOUNT_ID });
      const first: MessageSpec = { id: id * 100, content: 'My printer is on fire', createdAt: new Date().toISOString() };
      const outcome = await processor.process(jobData(messageEvent({ id }, first)));
      if (outcome.ticketId === undefined) throw new Error('no ticket for the conversation');
      return outcome.ticketId;
    },
    async feedEchoes() {
      const out: SyncOutcome[] = [];
      while (fed < chatwoot.emitted.length) {
        const payload = chatwoot.emitted[fed++] as Record<string, unknown>;
        out.push(await processor.process(jobData(payload)));
      }
      return out;
    },
    outgoing(conversationId) {
      const c = chatwoot.conversation(ACCOUNT_ID, conversationId);
      return (c?.messages ?? []).filter((m) => m.message_type === 1 && !m.private).map((m) => ({ id: m.id, content: m.content }));
    },
    async close() {
      await Promise.all([glpi.close(), tech.close(), requester.close(), api.close()].map((p) => p.catch(() => undefined)));
      await sim.close();
      await chatwoot.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}
