/**
 * What the bridge does with a job that failed with an error:
 * - `retry`: try again later with the job's backoff (GLPI down, a timeout, a 5xx);
 * - `fail`: retrying the same job cannot help (a wrong token, a missing right, a bug meeting the
 *   payload); it goes to the failed list at once, with advice, and is replayed after the fix;
 * - `hand-back`: not a failure at all (the hook is busy, the worker shuts down, the lock lapsed);
 *   the job goes back to the queue without using an attempt.
 */
export type Disposition = 'retry' | 'fail' | 'hand-back';

/** What kind of problem an error is, for people (doctor, the failed list); the disposition decides. */
export type ErrorCategory =
  /** API disabled, caller IP refused, app token wrong: a GLPI administrator changes Setup > General > API. */
  | 'access'
  /** A token or login refused. */
  | 'auth'
  /** The token's profile lacks a right (GLPI read: 403; create/update/delete: 400 with a permission message). */
  | 'permission'
  /** The item does not exist (any more). */
  | 'not-found'
  /** The remote side refused the input or the request shape (a bug or an unsupported version). */
  | 'invalid-request'
  /** GLPI session lost and not recoverable by one re-initialisation. */
  | 'session'
  /** Some items of a bulk request failed. */
  | 'partial'
  /** The remote side or something in front of it failed (5xx, 429, fatal PHP error, bad answer). */
  | 'server'
  /** No HTTP answer at all (connection, DNS, TLS, timeout). */
  | 'network'
  /** Another job holds the hook, or this job's hold on it lapsed. */
  | 'contention'
  /** The worker is stopping. */
  | 'shutdown'
  /** The bridge's own configuration (settings, hooks). */
  | 'config'
  /** A webhook or a link in it that the bridge refuses. */
  | 'input'
  /** Redis did not give the guarantee asked for. */
  | 'redis'
  /** A bug in the bridge met this payload. */
  | 'bug'
  /** Nothing the bridge recognises. */
  | 'unknown';

export interface CatalogueEntry {
  disposition: Disposition;
  category: ErrorCategory;
  /** What a person should do about it. */
  advice: string;
}
