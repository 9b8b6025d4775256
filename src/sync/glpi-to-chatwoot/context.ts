import type { Logger } from 'pino';
import type { ChatwootApiClient } from '../../chatwoot/api-client.js';
import type { HookConfig } from '../../config/schema.js';
import type { GlpiClient } from '../../glpi/types.js';
import type { MappingStore } from '../mapping-store.js';
import type { G2cRecords } from './records.js';

/** What a GLPI -> Chatwoot use case did with one change, for metrics and the job's outcome. */
type ChangeKind = 'followup' | 'solution' | 'status' | 'ticket';
export type ChangeAction = 'posted' | 'noted' | 'recovered' | 'skipped' | 'applied';

export interface G2cObserver {
  /** A change seen in GLPI and what became of it (skip reasons: own, private, requester, history...). */
  change(kind: ChangeKind, action: ChangeAction, reason?: string): void;
  /** A message posted to Chatwoot; lagMs from GLPI's date of the change, when known. */
  posted(kind: 'followup' | 'solution', lagMs: number | undefined): void;
}

/** Seams shared by the GLPI -> Chatwoot use cases of one poll. */
export interface G2cContext {
  hook: HookConfig;
  glpi: GlpiClient;
  chatwoot: ChatwootApiClient;
  accountId: number;
  /** The Chatwoot -> GLPI mapping (reverse map, the bridge's own followups, the agreed status). */
  store: MappingStore;
  records: G2cRecords;
  logger: Logger;
  now: () => number;
  /** Aborted when the hook lock is lost or the worker stops: checked before every Chatwoot write. */
  signal: AbortSignal;
  /** The bridge's own GLPI user (its token's): what it writes is never sent back. */
  ownUserId: number | undefined;
  /** GLPI's offset from UTC in minutes (its dates are local wall-clock time). */
  tzOffsetMin: number;
  /** Display name of a GLPI user (cached per poller). */
  userName: (userId: number) => Promise<string>;
  observer: G2cObserver;
}
