import type { Logger } from 'pino';
import { BridgeError, JobAbortedError } from '../errors/index.js';
import type { ChatwootAttachment, ChatwootConversation, ChatwootEvent } from '../chatwoot/events.js';
import type { HookConfig } from '../config/schema.js';
import type { AttachmentDownload, DownloadRequest } from '../chatwoot/attachments.js';
import type { ProfileInterfaceCache } from '../glpi/profiles.js';
import type { GlpiClient } from '../glpi/types.js';
import type { MappingStore } from './mapping-store.js';

/** Where a test can break a job between a GLPI write and its record (the "worker died" case). */
export type FaultPoint = 'after-ticket-write' | 'after-followup-write';

/** Seams shared by the sync services of one job. */
export interface SyncContext {
  hook: HookConfig;
  glpi: GlpiClient;
  store: MappingStore;
  logger: Logger;
  /** ms since epoch. */
  now: () => number;
  /** Aborted when the hook lock is lost or the worker shuts down: checked before every GLPI write. */
  signal: AbortSignal;
  /** GLPI's offset from UTC in minutes (local time is what GLPI stores). */
  tzOffsetMin: () => Promise<number>;
  /** Counts GLPI calls made by this job (hook state, tests). */
  glpiCalls: { count: number };
  hooks: SyncHooks;
  /** GLPI profile interfaces, kept across jobs (binding policy). */
  profiles: ProfileInterfaceCache;
}

export interface SyncHooks {
  /**
   * Write-back seam: called once, after a new ticket is recorded. Errors are logged, never fail the
   * sync. `accountId` is the Chatwoot account the event carried (message events do; conversation
   * events do not, and the write-back then asks the token's profile).
   */
  onTicketCreated?: (hook: HookConfig, conversation: ChatwootConversation & { accountId?: number | undefined }, ticketId: number) => Promise<void>;
  /** Events the bridge caused itself (its notes, attribute writes) coming back; skipped. May ask Redis. */
  isOwnEcho?: (event: ChatwootEvent, hook: HookConfig) => boolean | Promise<boolean>;
  /**
   * Downloads an attachment for upload to GLPI (no fetcher: every file stays a link). A refusal
   * is printed next to the file; only the job's abort throws (see chatwoot/attachments.ts).
   */
  fetchAttachment?: (hook: HookConfig, attachment: ChatwootAttachment, request: DownloadRequest) => Promise<AttachmentDownload>;
  /** A Chatwoot contact matched an existing GLPI user: bound or refused by the binding policy (metrics). */
  onCustomerBinding?: (hookId: string, result: 'bound' | 'refused', reason: string) => void;
  /** Test seam: throw here to simulate a process dying after a GLPI write, before its record. */
  fault?: (point: FaultPoint, detail: { conversationId: number; messageId?: number; glpiId: number }) => void;
}

export function throwIfAborted(signal: AbortSignal): void {
  if (!signal.aborted) return;
  throw signal.reason instanceof BridgeError ? signal.reason : new JobAbortedError(signal.reason);
}
