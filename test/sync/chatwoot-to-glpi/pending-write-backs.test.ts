import { describe, expect, it } from 'vitest';
import { parsePendingWriteBack, QUEUED, readPendingWriteBacks } from '../../../src/sync/chatwoot-to-glpi/pending-write-backs.js';

const at = '2026-12-02T01:00:00.000Z';

describe('pending write-back entries read back from Redis', () => {
  it('reads every shape the bridge writes: queued, parked without advice, an unknown account, id 0', () => {
    const queued = { accountId: 3, conversationId: 12, ticketId: 4521, ...QUEUED, at };
    expect(parsePendingWriteBack(JSON.stringify(queued))).toEqual(queued);
    // undefined fields vanish in JSON.stringify: advice (an error without one), accountId (conversation events).
    const parked = { accountId: undefined, conversationId: 0, ticketId: 7, code: 'CHATWOOT_SERVER_ERROR', advice: undefined, at };
    expect(parsePendingWriteBack(JSON.stringify(parked))).toEqual({ conversationId: 0, ticketId: 7, code: 'CHATWOOT_SERVER_ERROR', at });
    // Any code an error carried, even an empty one.
    expect(parsePendingWriteBack(JSON.stringify({ ...queued, code: '' }))).toMatchObject({ code: '' });
  });

  it("keeps keys a newer version added, so this version's re-park does not strip them", () => {
    const newer = { accountId: 3, conversationId: 12, ticketId: 4521, code: 'X', at, attempts: 4 };
    const entry = parsePendingWriteBack(JSON.stringify(newer));
    expect(JSON.parse(JSON.stringify({ ...entry, code: 'Y' }))).toEqual({ ...newer, code: 'Y' });
  });

  it('refuses what nothing could deliver: not JSON, not an object, hostile ids, missing fields', () => {
    for (const raw of [
      '{"conversationId":',
      'null',
      '[]',
      '"3:12"',
      JSON.stringify({ conversationId: '../../accounts/1', ticketId: 5, code: 'X', at }),
      JSON.stringify({ conversationId: 12, ticketId: -4, code: 'X', at }),
      JSON.stringify({ conversationId: 12, ticketId: 0, code: 'X', at }),
      JSON.stringify({ conversationId: 1.5, ticketId: 5, code: 'X', at }),
      JSON.stringify({ accountId: '3', conversationId: 12, ticketId: 5, code: 'X', at }),
      JSON.stringify({ conversationId: 12, ticketId: 5, at }),
      JSON.stringify({ conversationId: 12, ticketId: 5, code: 'X' }),
      JSON.stringify({ conversationId: 12, ticketId: 5, code: 'X', advice: { html: '<script>' }, at }),
    ]) {
      expect(parsePendingWriteBack(raw), raw).toBeUndefined();
    }
  });

  it('splits a whole hash into its entries and the fields of the unreadable ones', () => {
    const good = JSON.stringify({ accountId: 3, conversationId: 12, ticketId: 4521, ...QUEUED, at });
    expect(readPendingWriteBacks({ '3:12': good, '3:13': '{', '?:14': 'null' })).toEqual({
      entries: [expect.objectContaining({ conversationId: 12 })],
      unreadable: ['3:13', '?:14'],
    });
  });
});
