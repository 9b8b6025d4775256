import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { HookConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { ConfigError, errorCode } from '../errors/index.js';
import { createGlpiClient, type GlpiClientHandle } from './client.js';
import { createGlpiPool } from './transport.js';
import type { GlpiCallObserver, GlpiClient } from './types.js';

interface GlpiClientsDeps {
  /** One dispatcher for every hook (tests). Default: one keep-alive Pool per GLPI origin, shared by its hooks. */
  dispatcher?: Dispatcher;
  /** Observer per hook (metrics label the hook). */
  observer?: (hookId: string) => GlpiCallObserver | undefined;
  logger?: Logger;
}

export interface GlpiClients {
  /** The client of a hook; throws ConfigError for an unknown hook id. */
  get(hookId: string): GlpiClient;
  has(hookId: string): boolean;
  /** Kills every session, then closes the pools the registry created. Never throws. */
  closeAll(): Promise<void>;
}

/** One client (so one GLPI session) per hook, created once at start. */
export function createGlpiClients(
  hooks: Iterable<Pick<HookConfig, 'id' | 'glpi'>>,
  deps: GlpiClientsDeps = {},
): GlpiClients {
  const pools = new Map<string, Dispatcher>();
  const clients = new Map<string, GlpiClientHandle>();
  for (const hook of hooks) {
    let dispatcher = deps.dispatcher;
    if (dispatcher === undefined) {
      const origin = new URL(hook.glpi.baseUrl).origin;
      dispatcher = pools.get(origin);
      if (dispatcher === undefined) {
        dispatcher = createGlpiPool(hook.glpi.baseUrl, { timeoutMs: hook.glpi.timeoutMs });
        pools.set(origin, dispatcher);
      }
    }
    clients.set(
      hook.id,
      createGlpiClient(
        { ...hook.glpi, hookId: hook.id },
        { dispatcher, observer: deps.observer?.(hook.id), logger: deps.logger?.child({ hookId: hook.id }) },
      ),
    );
  }

  return {
    get(hookId) {
      const client = clients.get(hookId);
      if (client === undefined) throw new ConfigError(`no GLPI client for hook "${hookId}"`);
      return client;
    },
    has: (hookId) => clients.has(hookId),
    async closeAll() {
      const results = await Promise.allSettled([...clients.values()].map((client) => client.close()));
      for (const result of results) {
        if (result.status === 'rejected') deps.logger?.warn({ code: errorCode(result.reason) }, 'closing a GLPI client failed');
      }
      await Promise.allSettled([...pools.values()].map((pool) => pool.close()));
    },
  };
}

/** Observer feeding cgb_glpi_calls_total and cgb_glpi_call_duration_seconds for one hook. */
export function glpiMetricsObserver(metrics: Pick<Metrics, 'glpiCalls' | 'glpiDuration'>, hookId: string): GlpiCallObserver {
  return ({ endpoint, status, durationMs }) => {
    metrics.glpiCalls.inc({ hook: hookId, endpoint, status: String(status) });
    metrics.glpiDuration.observe({ hook: hookId, endpoint }, durationMs / 1000);
  };
}
