import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import type { Redis } from 'ioredis';

export const ROOT = new URL('../', import.meta.url);

/** Builds dist/, which the bench runs as production does; says how it went. */
export function buildDist(): string {
  // BENCH_NO_BUILD=1: dist/ as it is (an experiment patched into it, or a build made just before).
  if (process.env.BENCH_NO_BUILD === '1') return 'skipped (BENCH_NO_BUILD=1)';
  // tsc emits even when another file has a type error.
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
    return 'clean';
  } catch (err) {
    if (!existsSync(fileURLToPath(new URL('dist/server.js', ROOT)))) throw err;
    return 'emitted with type errors elsewhere';
  }
}

/** Runs `node --import tsx <script> ...args` and resolves with its last stdout line parsed as JSON. */
export function runTsxJson<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} exited ${code} without a JSON result: ${out.slice(-500)}`));
      }
    });
  });
}

/** Spawns `node --import tsx <script>` and resolves once a stdout line contains `ready`. */
export async function spawnTsxServer(script: string, env: Record<string, string>, ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8');
    const onData = (chunk: string) => {
      out += chunk;
      if (out.includes(ready)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited ${code} before it was ready: ${out.slice(-500)}`)));
  });
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Peak RSS of a process: the kernel's high-water mark (VmHWM) when /proc has it, else the
 * highest VmRSS sampled every 200 ms.
 */
export function sampleMemory(pid: number): { stop(): { peakRssMiB: number | null; rssAtEndMiB: number | null } } {
  let maxRss = 0;
  const timer = setInterval(() => {
    maxRss = Math.max(maxRss, statusField(pid, 'VmRSS') ?? 0);
  }, 200);
  return {
    stop() {
      clearInterval(timer);
      const hwm = statusField(pid, 'VmHWM');
      const rss = statusField(pid, 'VmRSS');
      const peak = Math.max(hwm ?? 0, maxRss);
      const mib = (bytes: number | undefined) => (bytes === undefined || bytes === 0 ? null : Math.round((bytes / 2 ** 20) * 10) / 10);
      return { peakRssMiB: mib(peak), rssAtEndMiB: mib(rss) };
    },
  };
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc (null without it). */
export function cpuTimeUs(pid: number): number | null {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_S = 100;

export function machine() {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

/** Calls per command so far (`INFO commandstats`; commands run inside scripts count too). */
export async function redisCommandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
  return calls;
}

/**
 * Empties the bench's private Redis and rewrites its AOF, so every measured target starts from the
 * same state: otherwise a target measured later in the run writes next to the jobs of the ones
 * before it, and pays for AOF rewrites (fork and copy of a larger dataset) they did not.
 */
export async function emptyBenchRedis(redis: Redis): Promise<void> {
  await redis.flushdb();
  const rewriting = async () => /^aof_rewrite_in_progress:1/m.test(await redis.info('persistence'));
  // A rewrite already running refuses a second one: wait for it first (bounded, 60 s each).
  for (let i = 0; i < 600 && (await rewriting()); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  await redis.bgrewriteaof();
  for (let i = 0; i < 600; i += 1) {
    const info = await redis.info('persistence');
    if (/^aof_rewrite_in_progress:0/m.test(info) && !/^aof_rewrite_scheduled:1/m.test(info)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the bench Redis did not finish rewriting its AOF within 60 s');
}

/** CPU time (user + system) the Redis server has used since it started, in microseconds (INFO cpu). */
export async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
}

/** Commands between two `redisCommandCalls` readings, per unit of work (a request, a message), in all and by command. */
export function commandsPer(before: Map<string, number>, after: Map<string, number>, units: number): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, calls] of after) {
    const delta = calls - (before.get(command) ?? 0);
    if (delta <= 0) continue;
    total += delta;
    byCommand[command] = Math.round((delta / units) * 1000) / 1000;
  }
  return { total: Math.round((total / units) * 1000) / 1000, byCommand };
}
