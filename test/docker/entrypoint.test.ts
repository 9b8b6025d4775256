import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `docker compose up` with empty tokens: both containers exited 78 and restarted forever. The
 * entrypoint says it once and holds instead; everything else (exit codes, signals) passes through.
 */
const ENTRYPOINT = fileURLToPath(new URL('../../docker/entrypoint.sh', import.meta.url));
const BOUND_MS = 20_000;

function run(script: string) {
  const child = spawn('sh', [ENTRYPOINT, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${text}" within ${BOUND_MS} ms; output: ${out}`)), BOUND_MS);
      const check = () => {
        if (out.includes(text)) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
  return { child, exited, seen, output: () => out };
}

describe('docker/entrypoint.sh', () => {
  it('passes any other exit status on (the restart policy restarts crashes)', async () => {
    const r = run('process.exit(3)');
    expect(await r.exited).toBe(3);
  });

  it('on a configuration error (78) says so once and stays up instead of restarting, until stopped', async () => {
    const r = run('console.error("invalid configuration: GLPI_USER_TOKEN: is required"); process.exit(78)');
    await r.seen('Not restarting');
    expect(r.output()).toContain('GLPI_USER_TOKEN: is required');
    expect(r.output()).toContain('.env.example');
    expect(r.child.exitCode).toBeNull(); // still alive: no restart loop
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(78);
  });

  it('forwards SIGTERM to the service so that its graceful shutdown runs', async () => {
    const r = run('process.on("SIGTERM", () => { console.log("graceful shutdown"); process.exit(0); }); console.log("up"); setInterval(() => {}, 1000);');
    await r.seen('up');
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.output()).toContain('graceful shutdown');
  });
});
