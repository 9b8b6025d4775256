/**
 * How PHP (and so GLPI) reads a request: bracket-syntax query strings (`criteria[0][field]=5`,
 * `forcedisplay[]=2`) and multipart/form-data bodies (`uploadManifest` + `filename[0]`).
 */

export type PhpValue = string | PhpArray;
export interface PhpArray {
  [key: string]: PhpValue;
}

/** parse_str(): nested keys become nested objects, `[]` appends with the next integer key. */
export function parsePhpQuery(search: string): PhpArray {
  const root: PhpArray = {};
  const params = new URLSearchParams(search);
  for (const [rawKey, value] of params) {
    const match = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(rawKey);
    if (!match) {
      root[rawKey] = value;
      continue;
    }
    const path = [match[1] as string, ...[...(match[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] as string)];
    let node = root;
    path.forEach((segment, i) => {
      const key = segment === '' ? String(nextIndex(node)) : segment;
      if (i === path.length - 1) {
        node[key] = value;
        return;
      }
      const child = node[key];
      if (typeof child === 'object') {
        node = child;
      } else {
        const created: PhpArray = {};
        node[key] = created;
        node = created;
      }
    });
  }
  return root;
}

function nextIndex(node: PhpArray): number {
  const ints = Object.keys(node).filter((k) => /^\d+$/.test(k)).map(Number);
  return ints.length === 0 ? 0 : Math.max(...ints) + 1;
}

/** A PHP array used as a list: its values in key order (PHP keeps insertion order, so do we). */
export function phpList(value: PhpValue | undefined): PhpValue[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  return Object.values(value);
}

export function phpString(value: PhpValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/**
 * Minimal RFC 7578 reader, read the way PHP's rfc1867 parser reads it (observed on 10.0.3 and
 * 11.0.8): a header line ends at LF (a CR just before it is dropped) and a line without a colon
 * continues the previous header, so an LF inside a quoted filename disappears while CRLF ends the
 * header there; quoted values unescape `\\` and `\"`; a filename keeps only what follows its last
 * `/` or `\` (a Windows path). No nested multipart.
 */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | undefined {
  const boundaryMatch = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = boundaryMatch?.[1] ?? boundaryMatch?.[2];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary.trim()}`);
  const parts: MultipartPart[] = [];
  let start = body.indexOf(delimiter);
  if (start < 0) return undefined;
  while (start >= 0) {
    const afterDelimiter = start + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headerStart = afterDelimiter + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd < 0) return undefined;
    const next = body.indexOf(delimiter, headerEnd + 4);
    if (next < 0) return undefined;
    const headers = partHeaders(body.subarray(headerStart, headerEnd).toString('utf8'));
    // The part's data ends before the CRLF that precedes the next delimiter.
    const data = body.subarray(headerEnd + 4, next - 2);
    const params = dispositionParams(headers.get('content-disposition') ?? '');
    const name = params.get('name');
    const filename = params.get('filename');
    const type = headers.get('content-type')?.trim();
    if (name !== undefined) {
      const part: MultipartPart = { name, data: Buffer.from(data) };
      if (filename !== undefined) part.filename = filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
      if (type !== undefined) part.contentType = type;
      parts.push(part);
    }
    start = next;
  }
  return parts;
}

/** multipart_buffer_headers(): lower-cased names; a line without a colon (or starting with a space) continues the last value. */
function partHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    const colon = /^\s/.test(line) ? -1 : line.indexOf(':');
    if (colon >= 0) {
      last = line.slice(0, colon).trim().toLowerCase();
      headers.set(last, line.slice(colon + 1).trimStart());
    } else if (last !== undefined) {
      headers.set(last, `${headers.get(last) ?? ''}${line}`);
    }
  }
  return headers;
}

/** The `key=value` pairs of a Content-Disposition, split on `;` outside quotes (php_ap_getword / php_ap_getword_conf). */
function dispositionParams(disposition: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of disposition.match(/(?:"(?:\\"|[^"])*"?|'(?:\\'|[^'])*'?|[^;"'])+/g) ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    const raw = pair.slice(eq + 1).trimStart();
    const quote = raw[0] === '"' || raw[0] === "'" ? raw[0] : undefined;
    if (quote === undefined) {
      params.set(key, raw.trimEnd());
      continue;
    }
    let value = '';
    for (let i = 1; i < raw.length && raw[i] !== quote; i += 1) {
      if (raw[i] === '\\' && (raw[i + 1] === '\\' || raw[i + 1] === quote)) i += 1;
      value += raw[i];
    }
    params.set(key, value);
  }
  return params;
}
