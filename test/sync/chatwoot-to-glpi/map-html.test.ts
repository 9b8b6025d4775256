import { describe, expect, it } from 'vitest';
import { toGlpiDate } from '../../../src/sync/glpi-time.js';
import { followupContent, textToHtml, ticketTitle } from '../../../src/sync/chatwoot-to-glpi/map-html.js';
import { hasConversationRef, hasMessageMarker, messageMarker } from '../../../src/sync/markers.js';
import { escapeHtml, safeHref } from '../../../src/util/html.js';

describe('html building', () => {
  it('escapes customer text so it is never markup', () => {
    expect(escapeHtml(`<img src=x onerror="a('b')"> & co`)).toBe('&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt; &amp; co');
    expect(textToHtml('line 1\nline <2>\n\npara 2')).toBe('<p>line 1<br>line &lt;2&gt;</p><p>para 2</p>');
  });

  it('links only http(s) attachment URLs', () => {
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('https://chat.example/x.png')).toBe('https://chat.example/x.png');
  });

  it('never leaves a followup empty and marks it with its message id', () => {
    const html = followupContent({ messageId: 42, text: null, authorName: undefined, attachments: [], documentIds: new Map(), contentType: 'sticker' });
    expect(html).toContain('sticker message without text');
    expect(hasMessageMarker(html, 42)).toBe(true);
    expect(hasMessageMarker(html, 4)).toBe(false);
  });

  it('tells conversation 58 from 580', () => {
    expect(hasConversationRef('(chatwoot:acme:conversation:580)', 'acme', 58)).toBe(false);
    expect(hasConversationRef('(chatwoot:acme:conversation:58)', 'acme', 58)).toBe(true);
  });

  it('titles a ticket with the first words on one line', () => {
    expect(ticketTitle([{ id: 1, authorName: undefined, text: 'Printer\n\nbroken', attachments: [] }], 58)).toBe('Printer broken');
    expect(ticketTitle([], 58)).toBe('Chatwoot conversation #58');
  });

  it('writes dates in GLPI local time', () => {
    expect(toGlpiDate('2026-05-28T09:14:05.318Z', 120)).toBe('2026-05-28 11:14:05');
    expect(toGlpiDate('2026-05-28T23:30:00Z', -300)).toBe('2026-05-28 18:30:00');
  });
});

describe('markers in text a customer can type', () => {
  it('a customer typing a marker does not forge the followup of another message', () => {
    const text = `${messageMarker(43)} data-chatwoot-message-id=&quot;43&quot; &#9999999; &#x110000;`;
    const html = followupContent({ messageId: 42, text, authorName: `Eve ${messageMarker(43)}`, attachments: [], documentIds: new Map(), contentType: null });
    expect(hasMessageMarker(html, 42)).toBe(true);
    expect(hasMessageMarker(html, 43)).toBe(false);
  });
});
