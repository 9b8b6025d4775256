import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GlpiClient, GlpiInput, ItemType, SearchOptions } from '../../../src/glpi/types.js';
import { hasMessageMarker } from '../../../src/sync/markers.js';
import type { SyncOutcome } from '../../../src/sync/use-case.js';
import { gate } from '../../support/gate.js';
import { recordingPipelines, waitFor } from '../../support/redis.js';
import { HOOK_ID, at, jobData, messageEvent, purgeInGlpi, startHarness, type SyncHarness } from '../support.js';

// Jobs that wait behind another job of their hook send their context read early (read-ahead.ts).
// Through the runner, with the job ahead held inside its GLPI write while the others queue up:
// what the job ahead writes (a ticket, a record, a replaced ticket, an agent) must reach them.

let h: SyncHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** cgb_context_reads_total of the hook so far, by how the context was read. */
async function contextReads(): Promise<Record<string, number>> {
  const { values } = await h.metrics.contextReads.get();
  return Object.fromEntries(values.filter((v) => v.labels.hook === HOOK_ID).map((v) => [String(v.labels.read), v.value]));
}
const since = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));

const FOLLOWUP_POST: Held = { method: 'addItem', itemtype: 'ITILFollowup' };
const msgsKey = (conversationId: number) => `${h.keys.mapping(HOOK_ID)}:msgs:${conversationId}`;
const followupsFor = (messageId: number) => h.sim.state.followups.filter((f) => hasMessageMarker(f.content, messageId));

type Held = { method: 'addItem' | 'search'; itemtype: ItemType };

/** The hook's GLPI client, with its first call of `method` on `itemtype` held at a gate. */
function heldGlpi(hold: Held) {
  const atGlpi = gate();
  const client = new Proxy(h.glpi, {
    get(target, prop) {
      if (prop === hold.method) {
        return async (type: ItemType, input: GlpiInput & SearchOptions) => {
          if (type === hold.itemtype) await atGlpi.pass();
          return hold.method === 'addItem' ? target.addItem(type, input) : target.search(type, input);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as GlpiClient;
  return { client, atGlpi };
}

/**
 * Runs `first`, holds it inside its GLPI call `hold`, queues `rest` behind it and waits
 * until each of them has sent its early read, then lets them all go.
 */
async function queuedBehind(hold: Held, first: Record<string, unknown>, rest: Record<string, unknown>[]) {
  const held = heldGlpi(hold);
  const recorded = recordingPipelines(h.redis);
  const processor = h.makeProcessor({ glpiFor: () => held.client, redis: recorded.redis });
  const head = processor.process(jobData(first));
  await held.atGlpi.reached;
  const others = rest.map((payload) => processor.process(jobData(payload)));
  // Every job's context read carries its intent (HSETNX): the head's at its turn, then one per
  // waiting job, sent ahead while the head is held.
  await waitFor(() => (recorded.commands.filter(([name]) => name === 'hsetnx').length >= 1 + rest.length ? true : undefined), 'the waiting jobs to read ahead');
  held.atGlpi.release();
  const outcomes: SyncOutcome[] = await Promise.all([head, ...others]);
  return { outcomes, commands: recorded.commands };
}

describe('context reads sent while a job waits for its turn', () => {
  it('sees the ticket the job ahead created: one ticket for the conversation, a followup for each waiting message, no look in GLPI', async () => {
    const conversation = { id: 801 };
    const waiting = [80_102, 80_103, 80_104, 80_105, 80_106].map((messageId) => ({ conversationId: 801, messageId }));
    h.sim.resetCalls();
    const before = await contextReads();
    const { outcomes } = await queuedBehind(
      { method: 'addItem', itemtype: 'Ticket' },
      messageEvent(conversation, { id: 80_101, createdAt: at(0) }),
      waiting.map((w, i) => messageEvent(conversation, { id: w.messageId, createdAt: at(i + 1) })),
    );

    expect(outcomes.map((o) => o.action)).toEqual(['ticket-created', ...waiting.map(() => 'followup-posted')]);
    const ticketId = outcomes[0]?.ticketId;
    expect(h.sim.state.tickets.filter((t) => String(t.content).includes('conversation:801)'))).toHaveLength(1);
    for (const w of waiting) {
      const posted = followupsFor(w.messageId);
      expect(posted.map((f) => f.items_id), `message ${w.messageId}`).toEqual([ticketId]);
      expect(await h.redis.hget(msgsKey(801), String(w.messageId))).toBe(String(posted[0]?.id));
    }
    // Each waiting job saw the ticket itself, not the head's intent to create it (which would have
    // made it look for the ticket in GLPI), and knew the intent in its slot as its own (no look at
    // the ticket's followups): nothing was read about tickets.
    expect(h.sim.calls.filter((c) => c.method === 'GET' && /Ticket|ITILFollowup/.test(c.endpoint)).map((c) => c.path)).toEqual([]);
    expect(h.sim.count('POST', '/ITILFollowup')).toBe(waiting.length);
    // What /metrics shows for it: the head read at its turn, the five read early and again.
    expect(since(before, await contextReads())).toEqual({ at_turn: 1, again: 5 });
  });

  it('uses the early read at the turn (no second read) when the job ahead only recorded its own message', async () => {
    const conversation = { id: 802 };
    await h.run(messageEvent(conversation, { id: 80_201, createdAt: at(0) }));
    const waiting = [80_203, 80_204, 80_205].map((messageId) => ({ conversationId: 802, messageId }));
    const before = await contextReads();
    const { outcomes, commands } = await queuedBehind(
      FOLLOWUP_POST,
      messageEvent(conversation, { id: 80_202, createdAt: at(1) }),
      waiting.map((w, i) => messageEvent(conversation, { id: w.messageId, createdAt: at(i + 2) })),
    );

    expect(outcomes.map((o) => o.action)).toEqual(['followup-posted', 'followup-posted', 'followup-posted', 'followup-posted']);
    // One read of the conversation per job: the head's at its turn, the others' ahead of it.
    expect(commands.filter(([name, key]) => name === 'hgetall' && key?.endsWith(':conv:802'))).toHaveLength(4);
    for (const w of waiting) expect(followupsFor(w.messageId)).toHaveLength(1);
    expect(since(before, await contextReads())).toEqual({ at_turn: 1, ahead: 3 });
  });

  it('posts a message once when copies of its delivery wait behind the job that posts it', async () => {
    const conversation = { id: 803 };
    await h.run(messageEvent(conversation, { id: 80_301, createdAt: at(0) }));
    const payload = messageEvent(conversation, { id: 80_302, createdAt: at(1) });
    h.sim.resetCalls();
    const before = await contextReads();
    const { outcomes } = await queuedBehind(FOLLOWUP_POST, payload, [payload, payload]);

    expect(outcomes.map((o) => o.action)).toEqual(['followup-posted', 'skipped', 'skipped']);
    expect(followupsFor(80_302)).toHaveLength(1);
    expect(h.sim.count('POST', '/ITILFollowup')).toBe(1);
    // The copies read ahead, found the head's record made that read stale, and read again.
    expect(since(before, await contextReads())).toEqual({ at_turn: 1, again: 2 });
  });

  it('follows the conversation to its new ticket when the job ahead found the old one deleted in GLPI', async () => {
    const conversation = { id: 804 };
    const created = await h.run(messageEvent(conversation, { id: 80_401, createdAt: at(0) }));
    const oldTicket = created.ticketId;
    await purgeInGlpi(h.sim, 'Ticket', oldTicket as number);
    const waiting = [80_403, 80_404].map((messageId) => ({ conversationId: 804, messageId }));
    const { outcomes } = await queuedBehind(
      FOLLOWUP_POST,
      messageEvent(conversation, { id: 80_402, createdAt: at(1) }),
      waiting.map((w, i) => messageEvent(conversation, { id: w.messageId, createdAt: at(i + 2) })),
    );

    const newTicket = outcomes[0]?.ticketId;
    expect(newTicket).toBeDefined();
    expect(newTicket).not.toBe(oldTicket);
    expect(outcomes.slice(1).map((o) => [o.action, o.ticketId])).toEqual(waiting.map(() => ['followup-posted', newTicket]));
    for (const w of waiting) expect(followupsFor(w.messageId).map((f) => f.items_id)).toEqual([newTicket]);
  });

  it("finds the agent the job ahead looked up, though the waiting message names the agent in other case", async () => {
    const conversation = { id: 805 };
    await h.run(messageEvent(conversation, { id: 80_501, createdAt: at(0) }));
    h.sim.resetCalls();
    const before = await contextReads();
    const agent = (email: string) => ({ id: 12, name: 'Lucas Martin', email });
    await queuedBehind(
      { method: 'search', itemtype: 'User' },
      messageEvent(conversation, { id: 80_502, createdAt: at(1), type: 'outgoing', agent: agent('lucas.martin@acme-it.example') }),
      [messageEvent(conversation, { id: 80_503, createdAt: at(2), type: 'outgoing', agent: agent('Lucas.Martin@ACME-IT.example') })],
    );

    // The agent's GLPI user was searched once: the waiting job's early read, made before the job
    // ahead cached the answer, was read again (the cache key folds the address's case).
    expect(h.sim.calls.filter((c) => c.method === 'GET' && c.endpoint.startsWith('/search/User'))).toHaveLength(1);
    expect(followupsFor(80_503)).toHaveLength(1);
    expect(since(before, await contextReads())).toEqual({ at_turn: 1, again: 1 });
  });
});
