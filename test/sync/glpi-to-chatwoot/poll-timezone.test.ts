import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatwootApiClient } from '../../../src/chatwoot/api-client.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import type { GlpiClient } from '../../../src/glpi/types.js';
import { createSyncProcessor } from '../../../src/sync/runner/processor.js';
import { startG2cHarness, type G2cHarness } from './support.js';

/** GLPI's UTC offset in a poll: the job's (configuration first, else what GLPI's session tells). */
// One harness for the file: each test has its own conversation and counts calls from its own reset.
let h: G2cHarness;
beforeAll(async () => {
  h = await startG2cHarness();
});
afterAll(() => h?.close());

describe('GLPI -> Chatwoot poll: GLPI time zone', () => {

  function poller(configuredMin: number | undefined, glpi: GlpiClient = h.glpi) {
    const metrics = createMetrics();
    const api = createChatwootApiClient(h.hook.chatwoot.api as { baseUrl: string; apiToken: string });
    const processor = createSyncProcessor({
      redis: h.redis,
      keys: h.keys,
      hooks: new Map([[h.hook.id, h.hook]]),
      glpiFor: () => glpi,
      glpiToChatwoot: { chatwootFor: () => api },
      logger: pino({ level: 'silent' }),
      metrics,
      glpiUtcOffsetMin: () => configuredMin,
      clock: () => Date.now() + 60_000,
    });
    const lagSumS = async () => (await metrics.glpiToChatwootLag.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    return { processor, lagSumS };
  }

  it("a configured offset wins over GLPI's session, which is read once for the bridge's own user", async () => {
    const ticketId = await h.openConversation(710);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'Configured zone', is_private: 0 });
    // The simulator's GLPI runs in UTC; the configuration says GLPI's clock reads 2 h ahead of UTC.
    const configured = poller(120);
    h.sim.resetCalls();
    await h.poll(configured.processor);
    expect(h.outgoing(710).map((m) => m.content)).toEqual(['Alex Martin (IT): Configured zone']);
    // The followup's local time read with the configured offset: written 2 h (and the skew) ago.
    expect(await configured.lagSumS()).toBeGreaterThan(7_000);
    expect(h.sim.count('GET', '/getFullSession')).toBe(1);
    // A configured offset is never cached for other jobs (the C2G job above cached GLPI's own).
    expect(await h.redis.get(`${h.keys.mapping(h.hook.id)}:tz`)).toBe('0');
  });

  it("without configuration the offset GLPI's session told is used, without asking GLPI again", async () => {
    const ticketId = await h.openConversation(711);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'Session zone', is_private: 0 });
    const fromSession = poller(undefined);
    h.sim.resetCalls();
    await h.poll(fromSession.processor);
    expect(h.outgoing(711)).toHaveLength(1);
    expect(await fromSession.lagSumS()).toBeLessThan(600);
    expect(h.sim.count('GET', '/getFullSession')).toBe(1);
  });

  it('a GLPI whose session tells no time is read as UTC, asked once, not on every poll', async () => {
    let sessions = 0;
    // The hook's client, whose session answer lacks glpi_currenttime.
    const noClock = new Proxy(h.glpi, {
      get(target, name) {
        if (name === 'getFullSession') {
          return async () => {
            sessions += 1;
            const { glpi_currenttime: _dropped, ...rest } = await target.getFullSession();
            return rest;
          };
        }
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const ticketId = await h.openConversation(712);
    await h.poll();
    await h.tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: 'No clock', is_private: 0 });
    const unclocked = poller(undefined, noClock);
    await h.poll(unclocked.processor);
    await h.poll(unclocked.processor);
    await h.poll(unclocked.processor);
    expect(h.outgoing(712).map((m) => m.content)).toEqual(['Alex Martin (IT): No clock']);
    expect(sessions).toBe(1);
  });
});
