import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { SyncJobData } from '../sync/job.js';

/**
 * The promise behind every 202: when Redis cannot take an accepted event, it is written here
 * (one file per event, fsync'd, then renamed into place so a crash never leaves half a file) and
 * moved into the queue by `drain()` once Redis is back. Files keep the job id so a drain that
 * dies half-way and runs again cannot enqueue the same event twice.
 */
interface SpooledEvent {
  jobId: string;
  data: SyncJobData;
}

export class DiskSpool {
  private ready: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  private ensureDir(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(async () => {
      await this.fsyncPath(this.dir);
    });
    return this.ready;
  }

  private async fsyncPath(path: string): Promise<void> {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async append(event: SpooledEvent): Promise<void> {
    await this.ensureDir();
    // Time-ordered names keep the drain in arrival order.
    const name = `${Date.now().toString().padStart(15, '0')}-${event.jobId}.json`;
    const tmp = join(this.dir, `.${name}.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(event));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(this.dir, name));
    // The rename itself must survive a power loss: sync the directory entry.
    await this.fsyncPath(this.dir);
  }

  /**
   * Creates the directory and writes (then removes) a probe file, so that a spool the service
   * cannot write is found at start, not when Redis is down and a webhook has nowhere to go.
   */
  async checkWritable(): Promise<void> {
    await this.ensureDir();
    const probe = join(this.dir, `.probe-${process.pid}.tmp`);
    const handle = await open(probe, 'w', 0o600);
    await handle.close();
    await unlink(probe);
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async size(): Promise<number> {
    return (await this.list()).length;
  }

  /**
   * Hands every spooled event to `enqueue`, oldest first, deleting each file only after `enqueue`
   * resolved. Stops at the first failure (Redis still away) and reports how many moved.
   */
  async drain(enqueue: (event: SpooledEvent) => Promise<void>): Promise<{ moved: number; left: number; error?: unknown }> {
    const files = await this.list();
    let moved = 0;
    for (const file of files) {
      const path = join(this.dir, file);
      let event: SpooledEvent;
      try {
        event = JSON.parse(await readFile(path, 'utf8')) as SpooledEvent;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // drained by a concurrent drain
        // A file we wrote ourselves cannot be unparseable unless the disk lies; keep it aside for a human.
        await rename(path, `${path}.corrupt`).catch(() => undefined);
        continue;
      }
      try {
        await enqueue(event);
      } catch (error) {
        return { moved, left: files.length - moved, error };
      }
      await unlink(path).catch(() => undefined);
      moved += 1;
    }
    return { moved, left: files.length - moved };
  }
}

/** The fix for a spool the service cannot write, said by the start-up refusal and by doctor. */
export const SPOOL_DIR_ADVICE =
  'create the directory and make it writable by the user the service runs as (in Docker: the node user), or point SPOOL_DIR elsewhere';

/**
 * Why the service could not write a spool in `dir`, without creating anything (doctor): the
 * directory, or its nearest existing parent that the service would create it in, must be a
 * writable directory. Undefined when it is fine.
 */
export async function spoolDirProblem(dir: string): Promise<string | undefined> {
  let path = resolve(dir);
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(path) !== path) {
        path = dirname(path);
        continue;
      }
      return `${path}: ${code ?? (err as Error).message}`;
    }
    if (!isDirectory) return `${path} is not a directory`;
    try {
      await access(path, constants.W_OK | constants.X_OK);
    } catch (err) {
      return `${path} is not writable by this user (${(err as NodeJS.ErrnoException).code ?? 'EACCES'})`;
    }
    return undefined;
  }
}
