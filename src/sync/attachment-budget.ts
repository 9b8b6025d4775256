import type { Logger } from 'pino';
import type { HookConfig } from '../config/schema.js';

/**
 * What one job may still spend on attachment downloads. A job runs under its hook's lock, so
 * every second and every request it spends on a customer's files is a second the hook's other
 * conversations wait: count, bytes and time are bounded per job, whatever the payload says.
 */
interface AttachmentBudget {
  /** undefined: this attachment may be fetched, with these limits; else why not. */
  next(): { deadlineMs: number; maxBytes: number } | { refused: string };
  /** Bytes actually downloaded. */
  spend(bytes: number): void;
}

/** What a budget needs of its owner: a job's context, or one GLPI followup's message. */
interface BudgetOwner {
  hook: HookConfig;
  now: () => number;
  logger: Logger;
}

// One budget per owner: the SyncContext is built once per job, so it keys the budget without
// adding a field every context builder would have to fill.
const budgets = new WeakMap<BudgetOwner, AttachmentBudget>();

export function attachmentBudget(ctx: BudgetOwner): AttachmentBudget {
  let budget = budgets.get(ctx);
  if (budget === undefined) {
    budget = createBudget(ctx);
    budgets.set(ctx, budget);
  }
  return budget;
}

function createBudget(ctx: BudgetOwner): AttachmentBudget {
  const policy = ctx.hook.attachments;
  const startedAt = ctx.now();
  let fetched = 0;
  let bytes = 0;
  let told = false;
  const refuse = (refused: string) => {
    // Once per job, not once per file: a hostile message may carry thousands.
    if (!told) ctx.logger.warn({ fetched, bytes, reason: refused }, 'attachment limit reached; the other files of this job stay links');
    told = true;
    return { refused };
  };
  return {
    next() {
      if (policy.maxCount === 0) return { refused: 'attachment downloads are off for this hook' };
      if (fetched >= policy.maxCount) return refuse(`only the first ${policy.maxCount} attachments of a message are copied`);
      const leftMs = policy.jobBudgetMs - (ctx.now() - startedAt);
      if (leftMs <= 0) return refuse(`the ${Number((policy.jobBudgetMs / 1000).toFixed(1))} s allowed for the files of this message were used up`);
      const leftBytes = policy.maxMessageBytes - bytes;
      if (leftBytes <= 0) return refuse('the files of this message together exceed the size allowed');
      fetched += 1;
      return { deadlineMs: Math.min(policy.timeoutMs, leftMs), maxBytes: Math.min(policy.maxBytes, leftBytes) };
    },
    spend(n) {
      bytes += n;
    },
  };
}
