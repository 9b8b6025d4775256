import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface SimProcess {
  url: string;
  /** The simulator's mean time from request to answer since the last reset (its own latency, see GlpiSimulator). */
  meanResponseMs(): Promise<number | null>;
  resetCalls(): Promise<void>;
  close(): Promise<void>;
}

/** Starts `glpi-sim-child.ts` (the GLPI simulator, GLPI 10.0.3 behaviour) in its own process. */
export async function startSimulatorProcess(options: { latencyMs: number }): Promise<SimProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('glpi-sim-child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_SIM_LATENCY_MS: String(options.latencyMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (reply: unknown) => void>();
  let exited: Error | undefined;
  child.on('message', (message: { id: number; reply: unknown }) => {
    waiting.get(message.id)?.(message.reply);
    waiting.delete(message.id);
  });
  child.once('exit', (code, signal) => {
    exited = new Error(`the GLPI simulator process exited (${code ?? signal ?? 'unknown'})`);
    for (const resolve of waiting.values()) resolve(exited);
    waiting.clear();
  });
  let next = 1;
  const ask = (op: 'meanResponseMs' | 'reset' | 'close'): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (exited) {
        reject(exited);
        return;
      }
      const id = next++;
      waiting.set(id, (reply) => (reply instanceof Error ? reject(reply) : resolve(reply)));
      child.send({ id, op });
    });
  const url = await new Promise<string>((resolve, reject) => {
    waiting.set(0, (reply) => (typeof reply === 'string' ? resolve(reply) : reject(reply instanceof Error ? reply : new Error('no URL from the simulator'))));
  });
  return {
    url,
    meanResponseMs: async () => (await ask('meanResponseMs')) as number | null,
    resetCalls: async () => {
      await ask('reset');
    },
    close: async () => {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      await ask('close').catch(() => undefined);
      await gone;
    },
  };
}
