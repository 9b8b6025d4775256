/**
 * The GLPI simulator in a process of its own, for the sync bench: in the bench's process its
 * 20 ms timers and its JSON work shared one event loop with the bench's polling, so the worker saw
 * each call 2 to 4 ms late and the mutex bound measured the bench, not the bridge. Started by
 * `glpi-sim-process.ts` with an IPC channel: it answers `meanResponseMs`, `reset` and
 * `close` messages.
 */
import { startGlpiSimulator } from '../test/support/glpi-simulator/index.js';

interface Request {
  id: number;
  op: 'meanResponseMs' | 'reset' | 'close';
}

const sim = await startGlpiSimulator({ latencyMs: Number(process.env.BENCH_SIM_LATENCY_MS ?? 0) });
process.on('message', (message: Request) => {
  if (message.op === 'reset') sim.resetCalls();
  const reply = message.op === 'meanResponseMs' ? sim.meanResponseMs() : null;
  process.send?.({ id: message.id, reply });
  if (message.op === 'close') void sim.close().then(() => process.exit(0));
});
process.send?.({ id: 0, reply: sim.url });
// The bench died without closing it: do not outlive it.
process.once('disconnect', () => process.exit(0));
