import { decodeEntities, safeHref } from '../../util/html.js';
import { oneLine, withoutInvisible } from '../../util/text.js';

/**
 * GLPI rich text (HTML, as the client reads it on 10 and 11) -> the plain text of a Chatwoot
 * message. What reaches the customer is text only: tags are dropped, never passed on; entities
 * are decoded once, after the tags are gone, so an encoded `&lt;script&gt;` stays visible text
 * instead of becoming markup. Line breaks survive, links survive as "text (url)" for http(s) only.
 * Chatwoot renders outgoing messages as Markdown in its widget: `[` and `]` are escaped so text
 * cannot become a disguised link or a tracking image (bare URLs stay visible as what they are).
 */

const BLOCK_END = /<\/(p|div|tr|h[1-6]|blockquote|pre|table|ul|ol)\s*>/gi;
const BREAK = /<br\s*\/?>/gi;
const LIST_ITEM = /<li(\s[^>]*)?>/gi;
/** Elements whose content is never text for a reader. */
const DROPPED = /<(script|style|head|template|iframe|object|svg|math)\b[\s\S]*?<\/\1\s*>/gi;
const ANCHOR = /<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi;
const HREF = /\bhref\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/i;

export function glpiHtmlToText(html: string, maxChars: number): { text: string; truncated: boolean } {
  let s = html.replace(/\r\n?/g, '\n');
  s = s.replace(/<!--[\s\S]*?-->/g, '');
  s = s.replace(DROPPED, '');
  s = s.replace(ANCHOR, (_m, attrs: string, inner: string) => {
    const label = stripTags(inner).trim();
    const m = HREF.exec(attrs);
    const href = safeHref(m === null ? undefined : decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
    if (href === undefined) return label;
    const labelText = decodeEntities(label);
    return labelText === '' || labelText === href || labelText === href.replace(/\/$/, '') ? href : `${label} (${href})`;
  });
  // Source newlines are not line breaks in HTML; <br> and block ends are.
  s = s.replace(/\n/g, ' ');
  s = s.replace(BREAK, '\n').replace(BLOCK_END, '\n').replace(LIST_ITEM, '\n- ');
  s = stripTags(s);
  s = withoutInvisible(decodeEntities(s).replace(/\u00a0/g, ' '));
  s = s
    .split('\n')
    .map((line) => line.replace(/[ \t]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  s = escapeMarkdown(s);
  if (s.length <= maxChars) return { text: s, truncated: false };
  // Never cut a surrogate pair in half.
  let cut = s.slice(0, maxChars);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return { text: cut, truncated: true };
}

function stripTags(s: string): string {
  // Also an unterminated `<tag` at the end: its `<` and name are dropped, not shown half.
  return s.replace(/<\/?[a-zA-Z!][^>]*(>|$)/g, '');
}

/** "Alex Martin (IT)" from the hook's format; the name is GLPI data, escaped like the text. */
export function authorLabel(format: string, name: string): string {
  const clean = escapeMarkdown(oneLine(name).slice(0, 100));
  return format.split('{name}').join(clean === '' ? 'GLPI' : clean);
}

/** `[` and `]` escaped, so GLPI data cannot become a disguised Markdown link or image. */
export function escapeMarkdown(text: string): string {
  return text.replace(/([[\]])/g, '\\$1');
}
