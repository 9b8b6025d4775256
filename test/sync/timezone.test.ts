import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlpiTimezone } from '../../src/sync/timezone.js';
import { HOOK_ID, at, conversationEvent, jobData, messageEvent, startHarness, type SyncHarness } from './support.js';

/** GLPI's UTC offset: asked of GLPI once, cached in Redis for every worker, overridden by configuration. */
let h: SyncHarness;

beforeAll(async () => {
  h = await startHarness({ sim: { timezoneOffsetMin: 120 } });
});
afterAll(async () => {
  await h?.close();
});

const ticketOf = (conversationId: number) =>
  h.redis.hget(`${h.keys.mapping(HOOK_ID)}:conv:${conversationId}`, 'ticketId').then((id) => Number(id));

describe('GLPI time zone', () => {
  it('asks GLPI once, then every job (of any worker) reads the cached offset with its records', async () => {
    h.sim.resetCalls();
    const c = { id: 7_100, lastMessage: { id: 71_000, createdAt: at(0) } };
    await h.run(conversationEvent('conversation_created', c));
    expect(h.sim.count('GET', '/getFullSession')).toBe(1);
    expect(await h.redis.get(`${h.keys.mapping(HOOK_ID)}:tz`)).toBe('120');

    // A fresh processor, as in another worker process: nothing in memory, the offset comes from Redis.
    const other = h.makeProcessor();
    h.sim.resetCalls();
    await other.process(jobData(messageEvent(c, { id: 71_001, createdAt: at(60) })));
    expect(h.sim.count('GET', '/getFullSession')).toBe(0);
    expect(h.sim.followupsOf(await ticketOf(c.id)).at(-1)?.date).toBe('2026-05-28 11:15:05');
  });

  it('uses the configured offset without asking GLPI', async () => {
    await h.redis.del(`${h.keys.mapping(HOOK_ID)}:tz`);
    const configured = h.makeProcessor({ glpiUtcOffsetMin: () => -300 });
    const c = { id: 7_101, lastMessage: { id: 71_100, createdAt: at(0) } };
    h.sim.resetCalls();
    await configured.process(jobData(conversationEvent('conversation_created', c)));
    await configured.process(jobData(messageEvent(c, { id: 71_101, createdAt: at(60) })));
    expect(h.sim.count('GET', '/getFullSession')).toBe(0);
    expect(h.sim.followupsOf(await ticketOf(c.id)).at(-1)?.date).toBe('2026-05-28 04:15:05');
    expect(await h.redis.get(`${h.keys.mapping(HOOK_ID)}:tz`)).toBeNull();
  });
});

describe('GLPI time zone when GLPI does not tell it', () => {
  const NOW = Date.parse('2026-05-28T09:00:00Z');
  function timezone(session: Record<string, unknown>) {
    const persisted: number[] = [];
    const lines: string[] = [];
    let asked = 0;
    const tz = new GlpiTimezone({
      configuredMin: undefined,
      glpi: {
        getFullSession: async () => {
          asked += 1;
          return session;
        },
      },
      persist: async (offsetMin) => void persisted.push(offsetMin),
      now: () => NOW,
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
    });
    return { tz, persisted, warnings: () => lines.length, asked: () => asked };
  }

  it.each([
    ['garbage', { glpi_currenttime: 'not a date' }],
    ['missing', {}],
    ['not a string', { glpi_currenttime: 1_780_000_000 }],
    ['beyond 14 h', { glpi_currenttime: '2026-05-29 02:00:00' }],
  ])('%s glpi_currenttime: UTC for this job, a warning, nothing cached in Redis', async (_name, session) => {
    const { tz, persisted, warnings, asked } = timezone(session);
    expect(await tz.offsetMin()).toBe(0);
    expect(await tz.offsetMin()).toBe(0);
    expect(asked()).toBe(1);
    expect(warnings()).toBe(1);
    expect(persisted).toEqual([]);
  });

  it('a readable glpi_currenttime is cached in Redis', async () => {
    const { tz, persisted, warnings } = timezone({ glpi_currenttime: '2026-05-28 11:00:00' });
    expect(await tz.offsetMin()).toBe(120);
    expect(persisted).toEqual([120]);
    expect(warnings()).toBe(0);
  });
});
