/**
 * Reads of a job's records sent while the job still waits for its turn in the hook's line, and the
 * writes that make them stale.
 *
 * A job of a hook waits in this process's line while the jobs ahead of it hold the hook's lock
 * (hook-lock.ts). Read at its turn, its context (mapping-store.ts readMessageContext) is a Redis
 * round trip on the hook's critical path, between the lock reaching the job and its GLPI call. Read
 * while the job waits, it is ready when the turn comes. What the early read saw is still what
 * Redis holds at the turn only if nothing wrote those keys in between:
 *
 * - no other process can: the read is sent only while this process holds the hook's lock, and used
 *   only by a job that runs under that same acquisition (never released in between), whose other
 *   holders are this process's jobs;
 * - this process's writes to a hook's records all go through MappingStore, which reports each to
 *   the board before sending it. A write sent before the read is applied before it (one connection
 *   is ordered): the read sees it. A write sent after marks the read stale, and the job reads again.
 *
 * The board only marks; deciding to read again is the store's (mapping-store.ts).
 */

/** A Redis key a read covers or a write touches; `field` narrows a hash to one field. */
export interface KeyRef {
  key: string;
  field?: string;
}

/** One early read on the board, until the job that sent it uses it or ends. */
export interface Watch {
  readonly stale: boolean;
  /** Off the board (the job used its read or ended). */
  close(): void;
}

export class ReadAheadBoard {
  private readonly open = new Set<{ reads: readonly KeyRef[]; stale: boolean }>();

  /** Puts a read on the board; call it before the read is sent. */
  watch(reads: readonly KeyRef[]): Watch {
    const entry = { reads, stale: false };
    this.open.add(entry);
    return {
      get stale() {
        return entry.stale;
      },
      close: () => this.open.delete(entry),
    };
  }

  /** A write to `key` (one `field` of it, or all of it) is about to be sent. */
  wrote(key: string, field?: string): void {
    for (const entry of this.open) {
      if (!entry.stale && entry.reads.some((r) => r.key === key && (field === undefined || r.field === undefined || r.field === field))) entry.stale = true;
    }
  }

  /** Reads on the board (tests, and a check that jobs close theirs). */
  get size(): number {
    return this.open.size;
  }
}
