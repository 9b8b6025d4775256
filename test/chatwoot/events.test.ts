import { describe, expect, it } from 'vitest';
import {
  contactOf,
  conversationIdOf,
  isSyncedEvent,
  parseChatwootEvent,
} from '../../src/chatwoot/events.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';

describe('Chatwoot event schemas', () => {
  it.each(fixtureNames())('parses or deliberately ignores fixture %s', (name) => {
    const payload = loadFixture(name);
    const event = String(payload.event);
    if (!isSyncedEvent(event)) {
      expect(['message_updated', 'conversation_typing_on', 'webwidget_triggered']).toContain(event);
      return;
    }
    const parsed = parseChatwootEvent(payload);
    expect(parsed.ok, parsed.ok ? '' : parsed.error).toBe(true);
  });

  it('reads the two encodings of a message: ISO at top level, epoch and integer type in messages[]', () => {
    const parsed = parseChatwootEvent(loadFixture('conversation_updated.status_resolved'));
    if (!parsed.ok || parsed.event.event !== 'conversation_updated') throw new Error('expected conversation_updated');
    const last = parsed.event.messages[0];
    expect(last?.message_type).toBe('outgoing');
    expect(last?.created_at).toBe('2026-05-28T09:17:03.000Z');
    expect(parsed.event.changed_attributes.status).toEqual({ previous: 'open', current: 'resolved' });
  });

  it('turns a null changed_attributes into an empty change set', () => {
    const parsed = parseChatwootEvent(loadFixture('conversation_status_changed'));
    if (!parsed.ok || parsed.event.event !== 'conversation_status_changed') throw new Error('expected status change');
    expect(parsed.event.changed_attributes).toEqual({});
  });

  it('finds the conversation display id and the customer of each event', () => {
    const msg = parseChatwootEvent(loadFixture('message_created.attachment'));
    if (!msg.ok || msg.event.event !== 'message_created') throw new Error('expected message_created');
    expect(conversationIdOf(msg.event)).toBe(58);
    expect(contactOf(msg.event)?.email).toBe('marie.dupont@example.org');
    expect(msg.event.content).toBeNull();
    expect(msg.event.attachments).toHaveLength(1);
    expect(msg.event.attachments[0]?.content_type).toBe('image/png');
  });

  it('treats a message without attachments as having none (the key is absent, not [])', () => {
    const parsed = parseChatwootEvent(loadFixture('message_created.incoming'));
    if (!parsed.ok || parsed.event.event !== 'message_created') throw new Error('expected message_created');
    expect(parsed.event.attachments).toEqual([]);
  });

  it('explains what does not fit: a wrong type names the field', () => {
    const payload = loadFixture('message_created.incoming');
    payload.message_type = 7;
    const parsed = parseChatwootEvent(payload);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^message_type: /);
  });

  it('refuses a conversation status Chatwoot does not have', () => {
    const payload = loadFixture('conversation_created');
    payload.status = 'archived';
    const parsed = parseChatwootEvent(payload);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain('status');
  });
});
