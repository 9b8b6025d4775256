// Preloaded into the worker by bench/sync.ts (node --import), plain JavaScript so that no loader
// adds its own memory to what is measured:
// * BENCH_MEMORY_PROBE_FILE: where the worker's resident memory goes (V8 heap, external/array
//   buffers, the rest: code, native allocations, thread stacks), sampled every 100 ms; the sample
//   of highest RSS is written to the file at exit.
// * BENCH_CPU_PROFILE_FILE: a CPU profile of the whole run (Node refuses --cpu-prof in NODE_OPTIONS).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { setInterval } from 'node:timers';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.BENCH_MEMORY_PROBE_FILE;
if (file) {
  const mib = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
  let peak;
  const sample = () => {
    const m = process.memoryUsage();
    if (peak !== undefined && m.rss <= peak.rss) return;
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mib(s.space_size)]));
    peak = { rss: m.rss, at: new Date().toISOString(), rssMiB: mib(m.rss), heapTotalMiB: mib(m.heapTotal), heapUsedMiB: mib(m.heapUsed), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), outsideHeapMiB: mib(m.rss - m.heapTotal - m.external), heapSpacesMiB: spaces };
  };
  setInterval(sample, 100).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(file, JSON.stringify(peak));
  });
}

const profileFile = process.env.BENCH_CPU_PROFILE_FILE;
if (profileFile) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    // An in-process session answers synchronously, so this works in an exit handler.
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(profileFile, JSON.stringify(result.profile));
    });
  });
}
