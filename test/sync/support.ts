import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { HookConfig } from '../../src/config/schema.js';
import { createGlpiClient, type GlpiClientHandle } from '../../src/glpi/client.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { redisKeys, type RedisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createSyncProcessor, type SyncProcessorDeps } from '../../src/sync/runner/processor.js';
import type { SyncProcessor } from '../../src/sync/use-case.js';
import { loadFixture } from '../support/fixtures.js';
import { startGlpiSimulator } from '../support/glpi-simulator/index.js';
import type { GlpiSimulator, GlpiSimulatorOptions } from '../support/glpi-simulator/api.js';
import { deletePrefix, testPrefix, testRedis } from '../support/redis.js';

export const HOOK_ID = 'acme';
export const ADMIN_TOKEN = 'admin-user-token';

/** The hook as the service derives it from its environment (loadConfig), with GLPI overrides. */
export function hookConfig(url: string, overrides: Partial<HookConfig['glpi']> = {}): HookConfig {
  const hook = loadConfig({
    HOOK_ID,
    GLPI_API_URL: url,
    GLPI_USER_TOKEN: ADMIN_TOKEN,
    GLPI_TIMEOUT_MS: '5000',
    PHONE_DEFAULT_REGION: 'FR',
    ALLOW_UNAUTHENTICATED: 'true',
  }).hooks.get(HOOK_ID) as HookConfig;
  return { ...hook, glpi: { ...hook.glpi, ...overrides } };
}

export interface SyncHarness {
  sim: GlpiSimulator;
  redis: Redis;
  keys: RedisKeys;
  prefix: string;
  hook: HookConfig;
  glpi: GlpiClientHandle;
  metrics: Metrics;
  processor: SyncProcessor;
  /** Rebuilds the processor with other deps (same Redis, GLPI and hook). */
  makeProcessor(extra?: Partial<SyncProcessorDeps>): SyncProcessor;
  run(payload: Record<string, unknown>, extra?: Partial<SyncJobData>): ReturnType<SyncProcessor['process']>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  sim?: GlpiSimulatorOptions;
  glpi?: Partial<HookConfig['glpi']>;
  /** Binding policy settings (default: the configuration's defaults). */
  binding?: Partial<HookConfig['customerBinding']>;
  deps?: Partial<SyncProcessorDeps>;
}

let deliveries = 0;

export function jobData(payload: Record<string, unknown>, extra: Partial<SyncJobData> = {}): SyncJobData {
  deliveries += 1;
  const event = String(payload.event);
  const conversation = payload.conversation as { id?: number } | undefined;
  return {
    hookId: HOOK_ID,
    event,
    deliveryId: `delivery-${deliveries}-${Math.random().toString(36).slice(2)}`,
    receivedAt: new Date().toISOString(),
    conversationId: event.startsWith('conversation_') ? (payload.id as number) : conversation?.id,
    payload,
    ...extra,
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<SyncHarness> {
  const sim = await startGlpiSimulator(options.sim);
  const prefix = testPrefix('sync');
  const keys = redisKeys(prefix);
  const redis = testRedis();
  const base = hookConfig(sim.url, options.glpi);
  const hook: HookConfig = { ...base, customerBinding: { ...base.customerBinding, ...options.binding } };
  const glpi = createGlpiClient({ ...hook.glpi, hookId: hook.id });
  const metrics = createMetrics();
  const logger = pino({ level: 'silent' });
  const makeProcessor = (extra: Partial<SyncProcessorDeps> = {}) =>
    createSyncProcessor({
      redis,
      keys,
      hooks: new Map([[hook.id, hook]]),
      glpiFor: () => glpi,
      logger,
      metrics,
      ...options.deps,
      ...extra,
    });
  const processor = makeProcessor();
  return {
    sim,
    redis,
    keys,
    prefix,
    hook,
    glpi,
    metrics,
    processor,
    makeProcessor,
    run: (payload, extra) => processor.process(jobData(payload, extra)),
    async close() {
      await glpi.close().catch(() => undefined);
      await sim.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

// ---- events, built from the fixtures ---------------------------------------------------------

type Json = Record<string, unknown>;

export interface ContactSpec {
  id: number;
  name?: string | null;
  email?: string | null;
  phone?: string | null;
}

export const MARIE: ContactSpec = { id: 1042, name: 'Marie Dupont', email: 'marie.dupont@example.org', phone: '+33612345678' };

function contactPush(c: ContactSpec): Json {
  return {
    additional_attributes: {},
    custom_attributes: {},
    email: c.email ?? null,
    id: c.id,
    identifier: null,
    name: c.name ?? null,
    phone_number: c.phone ?? null,
    thumbnail: '',
    blocked: false,
    type: 'contact',
  };
}

export interface MessageSpec {
  id: number;
  type?: 'incoming' | 'outgoing' | 'activity' | 'template';
  private?: boolean;
  content?: string | null;
  /** ISO time. */
  createdAt: string;
  agent?: { id: number; name: string; email: string };
  attachments?: Json[];
}

const TYPE_NUMBER = { incoming: 0, outgoing: 1, activity: 2, template: 3 } as const;

function pushMessage(conversationId: number, contact: ContactSpec, m: MessageSpec): Json {
  const type = m.type ?? 'incoming';
  const msg: Json = {
    id: m.id,
    content: m.content === undefined ? `message ${m.id}` : m.content,
    account_id: 3,
    inbox_id: 7,
    conversation_id: conversationId,
    message_type: TYPE_NUMBER[type],
    created_at: Math.floor(Date.parse(m.createdAt) / 1000),
    private: m.private ?? false,
    content_type: 'text',
    sender_type: type === 'incoming' ? 'Contact' : 'User',
    sender: type === 'incoming' ? contactPush(contact) : { id: m.agent?.id ?? 12, name: m.agent?.name ?? 'Lucas Martin', type: 'user' },
  };
  if (m.attachments) msg.attachments = m.attachments;
  return msg;
}

export interface ConversationSpec {
  id: number;
  contact?: ContactSpec;
  status?: 'open' | 'resolved' | 'pending' | 'snoozed';
  /** The last chat message Chatwoot had when it built the body. */
  lastMessage?: MessageSpec;
  createdAt?: string;
  /** Float seconds: orders snapshots of one conversation. */
  updatedAt?: number;
}

export function conversationBody(spec: ConversationSpec): Json {
  const base = loadFixture<Json>('conversation_created');
  const contact = spec.contact ?? MARIE;
  const createdS = Math.floor(Date.parse(spec.createdAt ?? '2026-05-28T09:14:05.000Z') / 1000);
  const meta = base.meta as Json;
  return {
    ...base,
    id: spec.id,
    status: spec.status ?? 'open',
    messages: spec.lastMessage ? [pushMessage(spec.id, contact, spec.lastMessage)] : [],
    meta: { ...meta, sender: contactPush(contact) },
    created_at: createdS,
    updated_at: spec.updatedAt ?? createdS,
  };
}

export function conversationEvent(
  event: 'conversation_created' | 'conversation_updated' | 'conversation_status_changed',
  spec: ConversationSpec,
  changed: Json[] | null = null,
): Json {
  const body = conversationBody(spec);
  if (event === 'conversation_created') return { ...body, event };
  return { ...body, event, changed_attributes: changed };
}

export function messageEvent(conversation: ConversationSpec, m: MessageSpec): Json {
  const base = loadFixture<Json>('message_created.incoming');
  const contact = conversation.contact ?? MARIE;
  const type = m.type ?? 'incoming';
  const sender =
    type === 'incoming'
      ? { ...contactPush(contact), type: undefined, account: { id: 3, name: 'Acme IT Support' } }
      : { id: m.agent?.id ?? 12, name: m.agent?.name ?? 'Lucas Martin', email: m.agent?.email ?? 'lucas.martin@acme-it.example', type: 'user' };
  const msg: Json = {
    ...base,
    id: m.id,
    content: m.content === undefined ? `message ${m.id}` : m.content,
    message_type: type,
    private: m.private ?? false,
    created_at: m.createdAt,
    sender,
    conversation: conversationBody({ ...conversation, lastMessage: conversation.lastMessage ?? (m.private ? undefined : m) }),
    event: 'message_created',
  };
  if (m.attachments) msg.attachments = m.attachments;
  else delete msg.attachments;
  return msg;
}

export function contactEvent(event: 'contact_created' | 'contact_updated', c: ContactSpec, changed: Record<string, [unknown, unknown]> = {}): Json {
  const base = loadFixture<Json>(event === 'contact_created' ? 'contact_created' : 'contact_updated');
  const body: Json = { ...base, id: c.id, name: c.name ?? null, email: c.email ?? null, phone_number: c.phone ?? null, event };
  if (event === 'contact_updated') {
    body.changed_attributes = Object.entries(changed).map(([k, [prev, cur]]) => ({ [k]: { previous_value: prev, current_value: cur } }));
  }
  return body;
}

/** ISO time `seconds` after a fixed start. */
export function at(seconds: number): string {
  return new Date(Date.parse('2026-05-28T09:14:05.000Z') + seconds * 1000).toISOString();
}

/** What an admin does in GLPI's UI: purge an item (the bridge itself never deletes). */
export async function purgeInGlpi(sim: GlpiSimulator, itemtype: string, id: number): Promise<void> {
  const init = await fetch(`${sim.url}initSession`, { headers: { authorization: `user_token ${ADMIN_TOKEN}` } });
  const { session_token: token } = (await init.json()) as { session_token: string };
  const res = await fetch(`${sim.url}${itemtype}/${id}?force_purge=true`, { method: 'DELETE', headers: { 'session-token': token } });
  if (res.status >= 300) throw new Error(`purging ${itemtype} ${id}: HTTP ${res.status}`);
}
