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

/** Minimal RFC 7578 reader: enough for what GLPI clients send (no nested multipart). */
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
    const headers = body.subarray(headerStart, headerEnd).toString('utf8');
    // The part's data ends before the CRLF that precedes the next delimiter.
    const data = body.subarray(headerEnd + 4, next - 2);
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim();
    if (name !== undefined) {
      const part: MultipartPart = { name, data: Buffer.from(data) };
      if (filename !== undefined) part.filename = filename;
      if (type !== undefined) part.contentType = type;
      parts.push(part);
    }
    start = next;
  }
  return parts;
}
