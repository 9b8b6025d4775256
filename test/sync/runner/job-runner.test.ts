import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeError, isTransient } from '../../../src/errors/index.js';
import { loadFixture } from '../../support/fixtures.js';
import { startHarness, type SyncHarness } from '../support.js';

describe('a hook disabled while events are queued', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('keeps the event (a permanent, replayable failure with advice) instead of completing it unsynced', async () => {
    const disabled = h.makeProcessor({ hooks: new Map([[h.hook.id, { ...h.hook, enabled: false }]]) });
    const job = { hookId: h.hook.id, event: 'message_created', deliveryId: 'd-1', receivedAt: new Date().toISOString(), conversationId: 58, payload: loadFixture('message_created.incoming') };
    const err = await disabled.process(job).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe('HOOK_DISABLED');
    expect(isTransient(err)).toBe(false);
    expect((err as BridgeError).advice).toContain('replay --hook');
    expect(h.sim.calls).toHaveLength(0);
    // Enabled again, the same job syncs.
    const outcome = await h.processor.process(job);
    expect(outcome.ticketId).toBeGreaterThan(0);
  });
});
