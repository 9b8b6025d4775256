import { describe, expect, it } from 'vitest';
import { parseChatwootEvent, type ChatwootEvent } from '../../../src/chatwoot/events.js';
import { isGlpiToChatwootEcho } from '../../../src/sync/glpi-to-chatwoot/echo.js';
import { messageEvent } from '../support.js';

function event(type: 'incoming' | 'outgoing', extra: Record<string, unknown>): ChatwootEvent {
  const parsed = parseChatwootEvent({ ...messageEvent({ id: 58 }, { id: 9_001, type, content: 'hello', createdAt: '2026-12-01T12:00:00.000Z' }), ...extra });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.event;
}

const noneRecorded = { isOwnMessage: async () => false };

describe('the echo of a message the bridge posted from GLPI', () => {
  it('is recognised by its marker in content_attributes or source_id, for this hook only', async () => {
    expect(await isGlpiToChatwootEcho(event('outgoing', { content_attributes: { glpi_bridge: 'acme:ticket:12:f34' } }), 'acme', noneRecorded)).toBe(true);
    expect(await isGlpiToChatwootEcho(event('outgoing', { source_id: 'cgb-glpi:acme:ticket:12:s3' }), 'acme', noneRecorded)).toBe(true);
    expect(await isGlpiToChatwootEcho(event('outgoing', { content_attributes: { glpi_bridge: 'other:ticket:12:f34' } }), 'acme', noneRecorded)).toBe(false);
  });

  it('is recognised by its recorded message id when a channel replaced the source_id', async () => {
    expect(await isGlpiToChatwootEcho(event('outgoing', { source_id: 'wamid.HBgLMzM2MTIzNDU2Nzg' }), 'acme', { isOwnMessage: async (id) => id === 9_001 })).toBe(true);
  });

  it("never drops a customer's incoming message that carries the marker (hostile source_id or attributes)", async () => {
    const hostile = event('incoming', { source_id: 'cgb-glpi:acme:ticket:12:f34', content_attributes: { glpi_bridge: 'acme:ticket:12:f34' } });
    expect(await isGlpiToChatwootEcho(hostile, 'acme', { isOwnMessage: async () => true })).toBe(false);
  });

  it('does not take an agent message with a look-alike marker for an echo', async () => {
    expect(await isGlpiToChatwootEcho(event('outgoing', { source_id: 'cgb-glpi:acme:ticket:12' }), 'acme', noneRecorded)).toBe(false);
    expect(await isGlpiToChatwootEcho(event('outgoing', { content_attributes: { glpi_bridge: 'acme:ticket:12:f34:x' } }), 'acme', noneRecorded)).toBe(false);
  });
});
