import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RedisChild } from '../test/reliability/support.js';
import { runIngest, type IngestResult } from './ingest.js';
import { machine, ROOT } from './proc.js';

/**
 * `npm run bench`: the figures of SPEC section 7. BENCH_DURATION_S (default 15) sets the length
 * of each measured run; BENCH_CONNECTIONS (50) the ingest concurrency. Writes bench/results.json
 * (the latest run plus a short history) and prints a table.
 */
const durationS = Number(process.env.BENCH_DURATION_S ?? 15);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const warmupS = Math.min(3, Math.max(1, Math.round(durationS / 5)));
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'info';
const RESULTS = fileURLToPath(new URL('bench/results.json', ROOT));

function build(): string {
  // The bridge runs from dist/ as in production; tsc emits even when another file has a type error.
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
    return 'clean';
  } catch (err) {
    if (!existsSync(fileURLToPath(new URL('dist/server.js', ROOT)))) throw err;
    return 'emitted with type errors elsewhere';
  }
}

const f = (n: number | null | undefined, digits = 0) => (n === null || n === undefined ? '-' : n.toFixed(digits));

async function main(): Promise<void> {
  const buildState = build();
  const redis = await RedisChild.start({ appendfsync: 'everysec' });
  let ingest: IngestResult;
  try {
    console.log(`ingest: ${connections} connections, ${durationS} s per target (+${warmupS} s warm-up each)...`);
    ingest = await runIngest(redis, { connections, durationS, warmupS, logLevel });
  } finally {
    await redis.stop();
  }

  const result = {
    command: 'npm run bench',
    env: { BENCH_DURATION_S: durationS, BENCH_CONNECTIONS: connections, BENCH_LOG_LEVEL: logLevel },
    machine: machine(),
    build: buildState,
    ingest,
  };

  console.log('');
  console.log('| ingest (signed message_created) | req/s | p50 ms | p99 ms | non-2xx | errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, r] of [['bare Fastify (parse + 202)', ingest.bare], ['bridge (api role)', ingest.bridge]] as const) {
    console.log(`| ${name} | ${f(r.requestsPerS)} | ${f(r.latencyMs.p50)} | ${f(r.latencyMs.p99)} | ${r.non2xx} | ${r.errors + r.timeouts} |`);
  }
  console.log(`ratio bridge/bare: ${ingest.ratio}; jobs enqueued ${ingest.jobsEnqueued} for ${ingest.bridge2xx} 2xx answers; api peak RSS ${f(ingest.apiMemory.peakRssMiB, 1)} MiB`);

  let history: unknown[] = [];
  try {
    const previous = JSON.parse(readFileSync(RESULTS, 'utf8')) as { latest?: unknown; history?: unknown[] };
    history = [...(previous.latest ? [previous.latest] : []), ...(previous.history ?? [])].slice(0, 20);
  } catch {
    // first run
  }
  writeFileSync(RESULTS, `${JSON.stringify({ latest: result, history }, null, 2)}\n`);
  console.log(`written to bench/results.json (${result.machine.cpuModel}, ${result.machine.cores} cores, Node ${result.machine.node})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
