import type { RedisTopology } from '../config/schema.js';

export interface RedisKeyOptions {
  /**
   * Redis Cluster: put each hook's keys in one hash slot (`{hookId}`) and the queue's in another
   * (`{prefix:bull}`), so that every multi-key script, MULTI and pipeline the bridge runs stays
   * in one slot (no CROSSSLOT), while different hooks still spread over the masters. Off on a
   * single Redis and Sentinel, where the key names stay those earlier versions wrote.
   */
  hashTags?: boolean;
}

/**
 * The hook's part of every per-hook key. Hook ids are `[A-Za-z0-9_-]` only (config schema), so a
 * tag can never be closed early by the id itself.
 */
export function hookSegment(hookId: string, options: RedisKeyOptions = {}): string {
  return options.hashTags === true ? `{${hookId}}` : hookId;
}

/** Hash tags exactly when the bridge runs on a Redis Cluster. */
export function keyOptionsFor(topology: RedisTopology): RedisKeyOptions {
  return { hashTags: topology.kind === 'cluster' };
}

/** Redis keys of the bridge. Everything lives under one prefix so several bridges can share a Redis. */
export function redisKeys(prefix: string, options: RedisKeyOptions = {}) {
  const hook = (hookId: string) => hookSegment(hookId, options);
  return {
    /** BullMQ `prefix` option (BullMQ refuses an ioredis keyPrefix); a hash tag on a cluster. */
    bullPrefix: options.hashTags === true ? `{${prefix}:bull}` : `${prefix}:bull`,
    dedupe: (hookId: string, deliveryId: string) => `${prefix}:dedupe:${hook(hookId)}:${deliveryId}`,
    lock: (hookId: string) => `${prefix}:lock:${hook(hookId)}`,
    /** Hash: lastGlpiSuccessAt, glpiVersion, lastErrorAt, lastErrorCode, lastErrorAdvice (written by the worker, read by /ready). */
    hookState: (hookId: string) => `${prefix}:state:${hook(hookId)}`,
    /** Hash: role -> the running service's configuration fingerprint (see config/fingerprint.ts). */
    configFingerprint: `${prefix}:config-fingerprint`,
    /** Root of the sync engine's mapping keys for a hook. */
    mapping: (hookId: string) => `${prefix}:map:${hook(hookId)}`,
    /** Root of the GLPI -> Chatwoot direction's keys for a hook (see sync/glpi-to-chatwoot/records.ts). */
    g2c: (hookId: string) => `${prefix}:g2c:${hook(hookId)}`,
    prefix,
    options,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
