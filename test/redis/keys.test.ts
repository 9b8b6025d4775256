import { describe, expect, it } from 'vitest';
import { keyOptionsFor, redisKeys } from '../../src/redis/keys.js';
import { writeBackKeys } from '../../src/sync/chatwoot-account.js';

describe('key names on a cluster', () => {
  it('hash-tags each hook and the queue on a cluster, and keeps the old names elsewhere', () => {
    const cluster = redisKeys('cgb', keyOptionsFor({ kind: 'cluster', url: 'redis://x', nodes: [] }));
    expect(cluster.bullPrefix).toBe('{cgb:bull}');
    expect([cluster.dedupe('acme', 'd1'), cluster.lock('acme'), cluster.hookState('acme'), cluster.mapping('acme')]).toEqual([
      'cgb:dedupe:{acme}:d1',
      'cgb:lock:{acme}',
      'cgb:state:{acme}',
      'cgb:map:{acme}',
    ]);
    expect(writeBackKeys('cgb', cluster.options).pending('acme')).toBe('cgb:writeback:{acme}:pending');

    // Single Redis and Sentinel: exactly the names earlier versions wrote (no migration needed).
    const single = redisKeys('cgb', keyOptionsFor({ kind: 'single', url: 'redis://x' }));
    expect([single.bullPrefix, single.lock('acme'), single.mapping('acme')]).toEqual(['cgb:bull', 'cgb:lock:acme', 'cgb:map:acme']);
    expect(writeBackKeys('cgb').pending('acme')).toBe('cgb:writeback:acme:pending');
  });
});
