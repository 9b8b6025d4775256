import type { DoctorCheck, DoctorReport } from '../ops/doctor/types.js';
import type { FailedEvent, QueueStatus, ReplayResult } from '../ops/queue-ops.js';
import type { ResyncResult } from '../ops/resync.js';
import { terminalLine } from '../util/text.js';

/** Every report shows data from outside (GLPI answers, Redis, failed jobs' reasons): each line goes out printable. */
const printed = (lines: string[]): string => lines.map(terminalLine).join('\n');

const MARK: Record<DoctorCheck['status'], string> = { pass: ' ok ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** One line per check, a "fix:" line under each failure or warning, grouped by hook. */
export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  let group: string | undefined = '\u0000';
  for (const check of report.checks) {
    if (check.hookId !== group) {
      group = check.hookId;
      lines.push(group === undefined ? 'service' : `hook ${group}`);
    }
    lines.push(`  [${MARK[check.status]}] ${check.title}: ${check.detail}${check.code && check.status === 'fail' ? ` (${check.code})` : ''}`);
    if (check.fix && (check.status === 'fail' || check.status === 'warn')) lines.push(`         fix: ${check.fix}`);
  }
  const failures = report.checks.filter((c) => c.status === 'fail').length;
  const warnings = report.checks.filter((c) => c.status === 'warn').length;
  lines.push('');
  lines.push(report.ok ? `all checks passed${warnings > 0 ? ` (${warnings} warning(s))` : ''}` : `${failures} check(s) failed${warnings > 0 ? `, ${warnings} warning(s)` : ''}`);
  return printed(lines);
}

export function formatFailed(result: { total: number; events: FailedEvent[] }): string {
  if (result.total === 0) return 'no failed events';
  const lines = [`${result.total} failed event(s)${result.events.length < result.total ? `, newest ${result.events.length} shown` : ''}:`];
  for (const e of result.events) {
    lines.push('');
    lines.push(`${e.jobId}  hook ${e.hookId}  ${e.event}  conversation ${e.conversationId ?? '-'}  failed ${e.failedAt ?? '?'} after ${e.attempts} attempt(s)`);
    lines.push(`  reason: ${e.reason}`);
    if (e.advice) lines.push(`  advice: ${e.advice}`);
  }
  lines.push('');
  lines.push('fix the cause, then: chatwoot-glpi-bridge replay --job ID | --hook ID | --all');
  return printed(lines);
}

export function formatReplay(result: ReplayResult): string {
  const lines = [`replayed ${result.replayed.length} event(s)`];
  for (const id of result.replayed) lines.push(`  ${id}`);
  for (const s of result.skipped) lines.push(`  skipped ${s.jobId}: ${s.reason}`);
  return printed(lines);
}

export function formatStatus(status: QueueStatus): string {
  const rows: [string, QueueStatus['total']][] = [...Object.entries(status.hooks), ['(total)', status.total]];
  const otherCount = Object.values(status.other).reduce((a, b) => a + b, 0);
  if (otherCount > 0) rows.splice(rows.length - 1, 0, ['(unknown hook)', status.other]);
  const width = Math.max(4, ...rows.map(([name]) => name.length));
  const header = `${'hook'.padEnd(width)}  waiting  active  delayed  failed`;
  const body = rows.map(
    ([name, c]) => `${name.padEnd(width)}  ${String(c.waiting).padStart(7)}  ${String(c.active).padStart(6)}  ${String(c.delayed).padStart(7)}  ${String(c.failed).padStart(6)}`,
  );
  return printed([header, ...body]);
}

export function formatResync(result: ResyncResult): string {
  const lines = [`account ${result.accountId}: ${result.conversations.length} conversation(s)`];
  for (const c of result.conversations) {
    lines.push(`  conversation ${c.conversationId}: ${c.queued} event(s) queued, ${c.existing} already queued or done, ${c.skipped} skipped`);
    for (const problem of c.invalid) lines.push(`    not queued: ${problem}`);
  }
  return printed(lines);
}
