// `npm start` runs this first: builds (incrementally) only when a source is newer than the last
// build, so a start with an up-to-date dist/ costs milliseconds instead of a TypeScript run.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const BUILD_INFO = 'dist/.tsbuildinfo'; // written by tsconfig.build.json's incremental build

function newestMtimeMs(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file shows as a newer directory
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, entry)));
  return newest;
}

let builtAtMs = 0;
try {
  builtAtMs = statSync(BUILD_INFO).mtimeMs;
} catch {
  // never built
}
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
if (builtAtMs > 0 && Math.max(...inputs.map(newestMtimeMs)) <= builtAtMs) process.exit(0);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
// tsc leaves its build info untouched when nothing changed (a touched file): mark the check done.
if (result.status === 0) utimesSync(BUILD_INFO, new Date(), new Date());
process.exit(result.status ?? 1);
