import { describe, expect, it } from 'vitest';
import { createChatwootApiClient, type ApiConversation, type ApiMessage } from '../../src/chatwoot/api-client.js';
import { ChatwootError } from '../../src/errors/index.js';
import { parseChatwootEvent } from '../../src/chatwoot/events.js';
import { buildEvents, resyncConversations } from '../../src/ops/resync.js';
import { startChatwootApi } from '../support/chatwoot-api/index.js';

function conversation(status: string, lastActivityAt: number): ApiConversation {
  return { id: 58, status, custom_attributes: {}, last_activity_at: lastActivityAt, inbox_id: 1, messages: [] };
}

const message: ApiMessage = { id: 9801, message_type: 0, created_at: 1_780_000_000, private: false, content: 'Printer on fire', source_id: null };

describe('resync events', () => {
  it('carries the status of an open conversation too, so a missed reopen is repaired', () => {
    const { list } = buildEvents(3, conversation('open', 1_780_000_100), [message]);
    const status = list.filter((e) => e.payload.event === 'conversation_status_changed');
    expect(status).toHaveLength(1);
    expect(status[0]!.deliveryId).toBe('resync:3:conversation:58:status:open:1780000100');
    const parsed = parseChatwootEvent(status[0]!.payload);
    expect(parsed.ok && parsed.event.event === 'conversation_status_changed' && parsed.event.status).toBe('open');
  });

  it('gives a later status change a new delivery id (a new job), the same one when nothing changed', () => {
    const statusOf = (c: ApiConversation) => buildEvents(3, c, [message]).list.find((e) => e.payload.event === 'conversation_status_changed')!;
    const first = statusOf(conversation('resolved', 1_780_000_100));
    const same = statusOf(conversation('resolved', 1_780_000_100));
    const reopened = statusOf(conversation('open', 1_780_000_200));
    expect(same.deliveryId).toBe(first.deliveryId);
    expect(reopened.deliveryId).not.toBe(first.deliveryId);
  });
});

describe('resync account', () => {
  it('asks for --account when the token belongs to several accounts, as the Chatwoot error with advice', async () => {
    const double = await startChatwootApi({
      tokens: { 'two-accounts': { id: 15, name: 'GLPI bridge', accounts: [{ id: 3, role: 'administrator' }, { id: 4, role: 'agent' }] } },
    });
    const client = createChatwootApiClient({ baseUrl: double.url, apiToken: 'two-accounts' });
    try {
      const error = (await resyncConversations({ hookId: 'acme', client, queue: undefined as never }, [58]).catch((err: unknown) => err)) as ChatwootError;
      expect(error).toBeInstanceOf(ChatwootError);
      expect(error.code).toBe('CHATWOOT_ACCOUNT_UNKNOWN');
      expect(error.message).toMatch(/--account.*2 accounts \(3, 4\)/);
      expect(error.advice).toContain('--account');
    } finally {
      await client.close();
      await double.close();
    }
  });
});
