#!/usr/bin/env node
// Some npm registries (mirrors) do not serve every platform build of an optional native package.
// npm then writes a lockfile without those entries and `npm ci` refuses it ("Missing: ... from lock
// file"). This adds the missing platform entries with their os/cpu, so npm ci validates the lock and
// skips them on non-matching machines exactly as it does with a complete lockfile.
// Run after any `npm install` that rewrote package-lock.json: node scripts/lock-optional-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'linux-arm': { os: ['linux'], cpu: ['arm'] },
  'linux-arm64': { os: ['linux'], cpu: ['arm64'] },
  'linux-x64': { os: ['linux'], cpu: ['x64'] },
  'win32-x64': { os: ['win32'], cpu: ['x64'] },
};

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    const platform = Object.keys(PLATFORMS).find((p) => dep.endsWith(`-${p}`));
    if (lock.packages[key] || !platform) continue;
    const { os, cpu } = PLATFORMS[platform];
    lock.packages[key] = { version, cpu, license: entry.license, optional: true, os }; // npm's field order
    added += 1;
    console.log(`added ${key}@${version} (optional dependency of ${path})`);
  }
}
// npm writes the packages in key order (the root "" first); keep that order, so the next
// `npm install` finds the lockfile as it would write it and leaves it untouched.
if (added > 0) {
  lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(`${added} platform entries added`);
