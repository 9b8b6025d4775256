import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncJobData } from '../../src/sync/job.js';
import { glpiDecode, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { waitFor } from '../support/redis.js';
import { checkGlpiResult, mapLimit, signedHeaders, startBridgeProcess, startWorkerRig, syncScenario, type BridgeProcess, type WorkerRig } from './support.js';

/**
 * A worker process is SIGKILLed in the worst place: GLPI has created a followup but the answer
 * never reached the worker, so nothing recorded it. Another worker picks the job up after the
 * stall interval, and GLPI ends up exactly as without the kill: one ticket per conversation,
 * every message once, the timeline in order.
 */

const SECRET = 'worker-kill-secret-2c7f';
const PREFIX = 'cgbrelkill';
// Stall detection in seconds instead of BullMQ's 30 s (test/reliability/bridge-entry.ts reads it).
const TUNING = JSON.stringify({
  lockDurationMs: 1_500,
  stalledIntervalMs: 500,
  lockRetryDelayMs: 50,
  backoffMaxMs: 500,
  hookLock: { ttlMs: 1_500, extendThresholdMs: 700 },
});

describe('a worker killed mid-job', () => {
  let rig: WorkerRig;
  let sim: GlpiSimulator;
  let queue: Queue<SyncJobData>;
  const bridges: BridgeProcess[] = [];
  // Long enough that the hanging GLPI call is still waiting when the process is killed.
  const env = () => rig.env({ GLPI_TIMEOUT_MS: '60000' });

  beforeAll(async () => {
    rig = await startWorkerRig({ name: 'worker-kill', prefix: PREFIX, secret: SECRET, tuning: TUNING, glpiLatencyMs: 5 });
    ({ sim, queue } = rig);
  });

  afterAll(async () => {
    for (const bridge of bridges) await bridge.kill();
    await rig?.close();
  });

  it('is picked up again after the stall interval and GLPI holds the same result as without the kill', async () => {
    const scenario = syncScenario({ conversations: 4, perConversation: 5 });
    // The first followup POST is carried out by GLPI, but its answer never comes.
    sim.failNext({ kind: 'hang', afterCommit: true }, 1, 'POST /ITILFollowup');

    const first = await startBridgeProcess({ ...env(), ROLE: 'all' }, { entry: 'tuned' });
    bridges.push(first);
    const statuses = await mapLimit(scenario, 4, async (m) => {
      const res = await fetch(`${first.url}/webhooks/chatwoot/acme`, { method: 'POST', headers: signedHeaders(SECRET, m.body), body: m.body });
      return res.status;
    });
    expect(statuses).toEqual(scenario.map(() => 202));

    await waitFor(() => (sim.calls.some((c) => c.status === 0 && c.endpoint === '/ITILFollowup') ? true : undefined), 'the followup POST to hang', 600, 20);
    const followupsAtKill = sim.state.followups.length;
    const activeAtKill = (await queue.getActive()).map((j) => j.id as string);
    expect(activeAtKill.length).toBeGreaterThan(0);
    expect(await first.kill()).toBe('SIGKILL');

    const second = await startBridgeProcess({ ...env(), ROLE: 'worker' }, { entry: 'tuned' });
    bridges.push(second);
    await waitFor(async () => ((await queue.getCompletedCount()) === scenario.length ? true : undefined), 'every job to complete on the second worker', 1_200, 50);

    expect(await queue.getFailedCount()).toBe(0);
    // The jobs the dead worker held were handed back by stall detection and finished.
    const resumed = await Promise.all(activeAtKill.map((id) => queue.getJob(id)));
    expect(resumed.every((j) => j?.finishedOn !== undefined && j.failedReason === undefined)).toBe(true);
    expect(resumed.some((j) => (j?.stalledCounter ?? 0) >= 1)).toBe(true);

    // Same result as a run without the kill: the followup GLPI made for the dead worker is not doubled.
    expect(followupsAtKill).toBeGreaterThan(0);
    expect(checkGlpiResult(sim, scenario, glpiDecode)).toEqual([]);
    expect(sim.state.tickets).toHaveLength(4);
    expect(sim.state.followups).toHaveLength(scenario.length - 4);

    expect(await second.stop()).toBe(0);
    // The dead worker could not close its GLPI session (GLPI expires it); the survivor closed its own.
    expect(sim.state.sessions.length).toBeLessThanOrEqual(1);
  });
});
