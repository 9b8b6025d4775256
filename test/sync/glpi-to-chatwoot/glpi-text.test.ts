import { describe, expect, it } from 'vitest';
import { authorLabel, glpiHtmlToText } from '../../../src/sync/glpi-to-chatwoot/glpi-text.js';

const text = (html: string, max = 20_000) => glpiHtmlToText(html, max).text;

describe('GLPI rich text -> Chatwoot message text', () => {
  it('keeps paragraphs, line breaks, lists and links as text', () => {
    expect(text('<p>Hello,</p><p>line one<br>line two</p><ul><li>a</li><li>b</li></ul>')).toBe('Hello,\nline one\nline two\n\n- a\n- b');
    expect(text('<p>See <a href="https://kb.example.com/fix">the fix</a> or https://x.example</p>')).toBe('See the fix (https://kb.example.com/fix) or https://x.example');
  });

  it('drops scripts, styles, event handlers and non-http links; never passes markup on', () => {
    const out = text('<script>alert(1)</script><style>p{}</style><p onclick="x()">Hi <img src=x onerror=alert(1)><a href="javascript:alert(1)">click</a></p>');
    expect(out).toBe('Hi click');
    expect(out).not.toMatch(/[<>]/);
  });

  it('decodes entities once, after the tags are gone: encoded markup stays visible text', () => {
    expect(text('<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; &#60;b&#62;</p>')).toBe('<script>alert(1)</script> &amp; <b>');
  });

  it('defuses Markdown links and images a followup could carry', () => {
    expect(text('<p>[click here](https://evil.example) ![](https://tracker.example/p.gif)</p>')).toBe(
      '\\[click here\\](https://evil.example) !\\[\\](https://tracker.example/p.gif)',
    );
  });

  it('strips control and bidi-override characters', () => {
    expect(text('<p>pay\u202Egnp.exe\u0007 now</p>')).toBe('paygnp.exe now');
  });

  it('cuts huge text to the limit without splitting a surrogate pair', () => {
    const huge = glpiHtmlToText(`<p>${'a'.repeat(9)}😀${'b'.repeat(100_000)}</p>`, 10);
    expect(huge).toEqual({ text: 'aaaaaaaaa', truncated: true });
  });

  it('builds the author label from the format, escaping the name like the text', () => {
    expect(authorLabel('{name} (IT)', 'Alex Martin')).toBe('Alex Martin (IT)');
    expect(authorLabel('{name} (IT)', '[Support](https://evil.example)')).toBe('\\[Support\\](https://evil.example) (IT)');
    expect(authorLabel('{name}', '  ')).toBe('GLPI');
  });
});
