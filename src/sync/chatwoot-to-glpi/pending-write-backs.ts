import { z } from 'zod';

/**
 * The pending list of a hook's write-backs (Redis hash "<accountId|?>:<conversationId>" -> JSON),
 * read as an edge: an entry is checked before it is used, as anything read back from Redis that
 * another version of the bridge, an operator or a restored backup may have written.
 */

/** The pending entry of a write-back owed and not tried yet (shown by doctor while it is there). */
export const QUEUED = {
  code: 'WRITE_BACK_QUEUED',
  advice:
    'the job that created the ticket writes it to Chatwoot once it has passed the hook lock on; one that stays queued was left by a worker that stopped, or deferred while Chatwoot was failing: a running worker makes it within a minute (check that one runs)',
} as const;

/**
 * What this bridge writes, and no narrower: an entry it wrote itself is never dropped. Ids as the
 * event schema takes them, any error code. Loose: keys a newer version adds (a rolling deploy)
 * survive this version re-parking the entry.
 */
const pendingWriteBackSchema = z.looseObject({
  accountId: z.number().int().nonnegative().optional(),
  conversationId: z.number().int().nonnegative(),
  ticketId: z.number().int().positive(),
  code: z.string(),
  advice: z.string().optional(),
  /** ISO time it was queued or last tried; doctor tells a fresh queued entry from a stale one by it. */
  at: z.string(),
});

export type PendingWriteBack = z.infer<typeof pendingWriteBackSchema>;

/** One stored entry, or undefined when it is not JSON or not an entry (nothing could deliver it). */
export function parsePendingWriteBack(raw: string): PendingWriteBack | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = pendingWriteBackSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** A whole pending hash (HGETALL): its readable entries, and the fields of those that are not. */
export function readPendingWriteBacks(hash: Record<string, string>): { entries: PendingWriteBack[]; unreadable: string[] } {
  const entries: PendingWriteBack[] = [];
  const unreadable: string[] = [];
  for (const [field, raw] of Object.entries(hash)) {
    const entry = parsePendingWriteBack(raw);
    if (entry === undefined) unreadable.push(field);
    else entries.push(entry);
  }
  return { entries, unreadable };
}
