import type { Logger } from 'pino';
import type { GlpiClient } from '../glpi/types.js';
import { offsetFromSession } from './glpi-time.js';
import type { TimezoneCache } from './context-reads.js';

/**
 * GLPI's offset from UTC for one job (GLPI stores local wall-clock time). Where it comes from, in
 * order: the hook's configuration; the value cached in Redis, which the job's first store read
 * brings along (no round trip of its own); else asked of GLPI once (`glpi_currenttime` in the
 * session) and cached in Redis for the next jobs. When GLPI's answer tells no offset, UTC is used
 * for the job and nothing is cached.
 */
export class GlpiTimezone implements TimezoneCache {
  private known: number | undefined;

  constructor(
    private readonly deps: {
      /** From configuration, when set: never asked, never cached. */
      configuredMin: number | undefined;
      glpi: Pick<GlpiClient, 'getFullSession'>;
      /** Caches a discovered offset in Redis for the next jobs (MappingStore.setTzOffset). */
      persist: (offsetMin: number) => Promise<void>;
      now: () => number;
      logger: Logger;
    },
  ) {
    this.known = deps.configuredMin;
  }

  /** A value already at hand (cached in Redis and read with other records, or seen in a GLPI session the job read); the configuration wins over it. */
  remember(cachedMin: number | undefined): void {
    if (this.known === undefined && cachedMin !== undefined && Number.isFinite(cachedMin)) this.known = cachedMin;
  }

  async offsetMin(): Promise<number> {
    if (this.known !== undefined) return this.known;
    const discovered = offsetFromSession(await this.deps.glpi.getFullSession(), this.deps.now());
    if (discovered === undefined) {
      // UTC is a guess for this job only: cached, it would pass for GLPI's answer for the next jobs
      // (and hide the warning), while the next job may well get a readable glpi_currenttime.
      this.deps.logger.warn('GLPI did not tell its local time; followup dates are written in UTC');
      this.known = 0;
      return this.known;
    }
    this.known = discovered;
    await this.deps.persist(discovered);
    return discovered;
  }
}
