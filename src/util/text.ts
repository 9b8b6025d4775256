// C0/C1 controls except tab and newline, and bidi overrides that can disguise text direction.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Text from outside (GLPI, Redis, a payload) without controls or direction overrides; tabs and line breaks kept. */
export function withoutInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/** Outside data shown on one line: no controls or direction overrides, whitespace collapsed. */
export function oneLine(text: string): string {
  return withoutInvisible(text).replace(/\s+/g, ' ').trim();
}

/**
 * A line of terminal output as composed (its padding kept), whatever data it shows: no control
 * sequence that could rewrite the screen, no direction override, no line break that could forge
 * another line of the report.
 */
export function terminalLine(line: string): string {
  return withoutInvisible(line).replace(/[\t\n]/g, ' ');
}
