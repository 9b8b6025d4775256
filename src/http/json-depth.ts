const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/** Deepest object/array nesting of a JSON text; brackets inside strings do not count. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) max = Math.max(max, (depth += 1));
    else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return max;
}

/** How many bytes of `raw` are `byte`, counting no further than `limit` (memchr, not a JS loop). */
function countUpTo(raw: Buffer, byte: number, limit: number): number {
  let count = 0;
  for (let at = raw.indexOf(byte); at !== -1 && count <= limit; at = raw.indexOf(byte, at + 1)) count += 1;
  return count;
}

/**
 * True when the body nests deeper than `max`. Nesting can never exceed the number of `{` and `[`
 * bytes, so a body with at most `max` of them (every real Chatwoot payload: about 30) is passed
 * after two native scans; only the others get the exact, string-aware scan.
 */
export function nestedDeeperThan(raw: Buffer, text: string, max: number): boolean {
  const braces = countUpTo(raw, OPEN_BRACE, max);
  if (braces + countUpTo(raw, OPEN_BRACKET, max - braces) <= max) return false;
  return jsonDepth(text) > max;
}
