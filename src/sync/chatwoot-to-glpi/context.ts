import type { ChatwootAttachment, ChatwootConversation, ChatwootEvent } from '../../chatwoot/events.js';
import type { AttachmentDownload, DownloadRequest } from '../../chatwoot/attachments.js';
import type { HookConfig } from '../../config/schema.js';
import type { ProfileInterfaceCache } from '../../glpi/profiles.js';
import type { AfterLockTask, JobContext } from '../context.js';

/** What the Chatwoot -> GLPI use cases get: the job's context plus this direction's seams. */
export interface SyncContext extends JobContext {
  hooks: SyncHooks;
  /** GLPI profile interfaces, kept across jobs (binding policy). */
  profiles: ProfileInterfaceCache;
}

/** The Chatwoot side of this direction, injected by the composition root. */
export interface SyncHooks {
  /**
   * Write-back: called once under the hook's lock, after a new ticket is recorded. It stores what
   * is owed (quick, Redis only) and returns the Chatwoot calls, which the runner makes after the
   * lock has gone on to the hook's next job. Errors are logged, never fail the sync. `accountId`
   * is the Chatwoot account the event carried (message events do; conversation events do not,
   * and the write-back then asks the token's profile).
   */
  onTicketCreated?: (
    hook: HookConfig,
    conversation: ChatwootConversation & { accountId?: number | undefined },
    ticketId: number,
  ) => Promise<AfterLockTask | undefined>;
  /** Events the bridge caused itself (its notes, attribute writes) coming back; skipped. May ask Redis. */
  isOwnEcho?: (event: ChatwootEvent, hook: HookConfig) => boolean | Promise<boolean>;
  /**
   * Downloads an attachment for upload to GLPI (no fetcher: every file stays a link). A refusal
   * is printed next to the file; only the job's abort throws (see chatwoot/attachments.ts).
   */
  fetchAttachment?: (hook: HookConfig, attachment: ChatwootAttachment, request: DownloadRequest) => Promise<AttachmentDownload>;
  /** A Chatwoot contact matched an existing GLPI user: bound or refused by the binding policy (metrics). */
  onCustomerBinding?: (hookId: string, result: 'bound' | 'refused', reason: string) => void;
}
