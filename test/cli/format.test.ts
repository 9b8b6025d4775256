import { describe, expect, it } from 'vitest';
import { formatDoctor, formatFailed, formatStatus } from '../../src/cli/format.js';

/** What a terminal would act on: escape sequences, other controls, direction overrides. */
// eslint-disable-next-line no-control-regex
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('CLI reports', () => {
  it('print data from outside as text: no escape sequence reaches the terminal, no line break forges a line', () => {
    const out = formatDoctor({
      ok: false,
      checks: [
        {
          id: 'chatwoot.write-back',
          hookId: 'acme',
          title: 'write-backs to Chatwoot delivered',
          status: 'warn',
          // A hand-edited pending field and a GLPI answer: a screen clear, a forged result line, a bidi override.
          detail: '1 unreadable entry (account:conversation 3:\u001b[2J\u001b[H5)\n  [ ok ] GLPI reachable: \u202etxt.exe',
          fix: 'start a worker\r\u0007',
        },
        { id: 'glpi.url', hookId: 'acme', title: 'GLPI reachable', status: 'fail', detail: 'GLPI said: \u009b31mdenied', code: 'ERROR' },
      ],
    });
    expect(out).not.toMatch(ACTIVE);
    const lines = out.split('\n');
    // hook line, two checks, one fix line, the blank line and the summary: nothing more.
    expect(lines).toHaveLength(6);
    expect(lines[1]).toBe('  [WARN] write-backs to Chatwoot delivered: 1 unreadable entry (account:conversation 3:[2J[H5)   [ ok ] GLPI reachable: txt.exe');
    expect(lines[2]).toBe('         fix: start a worker');
    expect(lines[3]).toBe('  [FAIL] GLPI reachable: GLPI said: 31mdenied (ERROR)');
  });

  it("prints a failed job's reason (it may quote a customer's data) as one line of text", () => {
    const out = formatFailed({
      total: 1,
      events: [
        {
          jobId: 'acme:d1',
          hookId: 'acme',
          event: 'contact_updated',
          conversationId: null,
          deliveryId: 'd1',
          receivedAt: null,
          failedAt: null,
          attempts: 3,
          reason: 'GLPI refused the e-mail "x\u001b]0;owned\u0007@example.com"\nreplayed 9 event(s)',
          code: null,
          advice: null,
        },
      ],
    });
    expect(out).not.toMatch(ACTIVE);
    expect(out).toContain('  reason: GLPI refused the e-mail "x]0;owned@example.com" replayed 9 event(s)');
    expect(out.split('\n').filter((l) => l.startsWith('replayed'))).toEqual([]);
  });

  it('keeps the padding of the status table', () => {
    const zero = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    const out = formatStatus({ hooks: { acme: { ...zero, waiting: 12 } }, other: zero, total: { ...zero, waiting: 12 } });
    expect(out.split('\n')).toEqual(['hook     waiting  active  delayed  failed', 'acme          12       0        0       0', '(total)       12       0        0       0']);
  });
});
