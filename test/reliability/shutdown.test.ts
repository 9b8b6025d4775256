import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncJobData } from '../../src/sync/job.js';
import { glpiDecode, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { waitFor } from '../support/redis.js';
import { checkGlpiResult, mapLimit, signedHeaders, startBridgeProcess, startWorkerRig, syncScenario, type BridgeProcess, type WorkerRig } from './support.js';

/**
 * SIGTERM while webhooks arrive and jobs run: the process stops accepting, finishes or hands
 * back its in-flight jobs, kills its GLPI session and exits 0. Nothing it answered 2xx is lost:
 * a new worker finishes the rest and GLPI holds every accepted message exactly once.
 */

const SECRET = 'shutdown-secret-9a4b';
const PREFIX = 'cgbrelstop';
const TUNING = JSON.stringify({ lockDurationMs: 2_000, stalledIntervalMs: 1_000, lockRetryDelayMs: 50, closeTimeoutMs: 3_000, hookLock: { ttlMs: 2_000, extendThresholdMs: 1_000 } });

describe('graceful shutdown under load', () => {
  let rig: WorkerRig;
  let sim: GlpiSimulator;
  let queue: Queue<SyncJobData>;
  const bridges: BridgeProcess[] = [];
  const env = () => rig.env();

  beforeAll(async () => {
    rig = await startWorkerRig({ name: 'shutdown', prefix: PREFIX, secret: SECRET, tuning: TUNING, glpiLatencyMs: 20 });
    ({ sim, queue } = rig);
  });

  afterAll(async () => {
    for (const bridge of bridges) await bridge.kill();
    await rig?.close();
  });

  it('loses nothing it accepted and leaves no GLPI session open', async () => {
    const scenario = syncScenario({ conversations: 5, perConversation: 10 });
    const firstBatch = scenario.slice(0, 25);
    const lateBatch = scenario.slice(25);

    const bridge = await startBridgeProcess({ ...env(), ROLE: 'all' }, { entry: 'tuned' });
    bridges.push(bridge);
    const post = async (body: string) => {
      try {
        const res = await fetch(`${bridge.url}/webhooks/chatwoot/acme`, { method: 'POST', headers: signedHeaders(SECRET, body), body });
        return res.status;
      } catch {
        return 0; // refused: the server had stopped listening
      }
    };
    expect(await mapLimit(firstBatch, 4, (m) => post(m.body))).toEqual(firstBatch.map(() => 202));
    await waitFor(() => (sim.state.followups.length >= 3 ? true : undefined), 'the worker to be busy', 600, 20);

    // SIGTERM once the late batch is under way; it keeps coming while the process shuts down.
    let answered = 0;
    let exit: Promise<number | string> | undefined;
    const lateStatuses = await mapLimit(lateBatch, 4, async (m) => {
      const status = await post(m.body);
      answered += 1;
      // Generous bound: it only caps a hang; a loaded CI machine must not turn slowness into a failure.
      if (answered === 5) exit = bridge.stop(90_000);
      return status;
    });
    const exitStatus = await exit;
    if (exitStatus !== 0) console.error(bridge.lines.slice(-40).join(String.fromCharCode(10)));
    expect(exitStatus).toBe(0);
    expect(bridge.lines.some((l) => l.includes('shutdown complete'))).toBe(true);
    expect(sim.state.sessions).toEqual([]);
    // Jobs were finished or handed back, not left running or failed.
    expect(await queue.getActiveCount()).toBe(0);
    expect(await queue.getFailedCount()).toBe(0);

    // Late requests were either accepted (2xx) or visibly refused (503 while closing, or no connection).
    expect(lateStatuses.every((s) => s === 202 || s === 503 || s === 0)).toBe(true);
    const accepted = [...firstBatch, ...lateBatch.filter((_, i) => lateStatuses[i] === 202)];
    const refused = lateBatch.filter((_, i) => lateStatuses[i] !== 202);

    // A new worker finishes the accepted rest.
    const successor = await startBridgeProcess({ ...env(), ROLE: 'worker' }, { entry: 'tuned' });
    bridges.push(successor);
    await waitFor(async () => ((await queue.getCompletedCount()) === accepted.length ? true : undefined), 'every accepted job to complete', 1_200, 50);
    expect(await successor.stop()).toBe(0);

    expect(await queue.getFailedCount()).toBe(0);
    expect(checkGlpiResult(sim, accepted, glpiDecode)).toEqual([]);
    const everything = JSON.stringify(sim.state.followups.map((f) => glpiDecode(String(f.content))));
    expect(refused.filter((m) => everything.includes(`${m.marker} `))).toEqual([]);
    expect(sim.state.sessions).toEqual([]);
  }, 240_000);
});
