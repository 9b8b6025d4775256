/**
 * The MIME type GLPI stores for an uploaded file: Document::moveDocument takes it from the file's
 * bytes (Toolbox::getMime, PHP's finfo / libmagic), never from the part's Content-Type. A small
 * subset of libmagic, each rule seen on the real 10.0.3 and 11.0.8 (PHP 8.2's bundled libmagic
 * gives both the same answers); what it does not know is text/plain when it reads as text, else
 * application/octet-stream, as libmagic falls back.
 */

const SIGNATURES: { mime: string; test: (data: Buffer) => boolean }[] = [
  // libmagic wants the IHDR chunk too: the 8-byte signature alone is application/octet-stream.
  { mime: 'image/png', test: (d) => startsWith(d, '89504e470d0a1a0a0000000d49484452') },
  { mime: 'image/gif', test: (d) => /^GIF8[79]a/.test(d.subarray(0, 6).toString('latin1')) },
  { mime: 'image/jpeg', test: (d) => startsWith(d, 'ffd8ff') },
  { mime: 'image/x-ms-bmp', test: (d) => d.length >= 26 && d.subarray(0, 2).toString('latin1') === 'BM' && d.readUInt32LE(14) >= 12 },
  { mime: 'image/webp', test: (d) => d.subarray(0, 4).toString('latin1') === 'RIFF' && d.subarray(8, 12).toString('latin1') === 'WEBP' },
  { mime: 'application/pdf', test: (d) => d.subarray(0, 5).toString('latin1') === '%PDF-' },
  { mime: 'application/zip', test: (d) => startsWith(d, '504b0304') || startsWith(d, '504b0506') },
  { mime: 'application/gzip', test: (d) => startsWith(d, '1f8b') },
  { mime: 'application/CDFV2', test: (d) => startsWith(d, 'd0cf11e0a1b11ae1') },
];

/** Bytes libmagic never finds in text (encoding.c's text_chars `F`): NUL..ACK, SO..SUB, FS..US, DEL. */
// eslint-disable-next-line no-control-regex
const NOT_TEXT = /[\x00-\x06\x0e-\x1a\x1c-\x1f\x7f]/;

export function contentMime(data: Buffer): string {
  // Observed: `a\n` and `ab` are application/octet-stream, `abc` is text/plain.
  if (data.length < 3) return 'application/octet-stream';
  const signature = SIGNATURES.find((s) => s.test(data));
  if (signature) return signature.mime;
  const text = data.toString('latin1');
  if (NOT_TEXT.test(text)) return 'application/octet-stream';
  const head = text.replace(/^\xef\xbb\xbf/, '').trimStart();
  if (/^(?:<\?xml[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'image/svg+xml';
  if (/^<\?xml/.test(head)) return 'text/xml';
  if (/^<(?:!doctype html|html)[\s>]/i.test(head)) return 'text/html';
  if (head.startsWith('{\\rtf')) return 'text/rtf';
  if (isJsonDocument(data.toString('utf8'))) return 'application/json';
  return 'text/plain';
}

function startsWith(data: Buffer, hex: string): boolean {
  return data.subarray(0, hex.length / 2).equals(Buffer.from(hex, 'hex'));
}

function isJsonDocument(text: string): boolean {
  if (!/^\s*[[{]/.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The upload handler's check of a file named as an image (UploadHandler::validate_image_file,
 * the same on 10.0.3 and 11.0.8): the first four bytes must be what the extension says, by its own
 * magic numbers, not libmagic's. Recorded: text as `x.png` or `x.jpg` and a PNG as `x.gif` are refused.
 */
const IMAGE_EXTENSIONS: Record<string, string> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', gif: 'gif' };

export function imageNameMismatch(ext: string, data: Buffer): boolean {
  const expected = IMAGE_EXTENSIONS[ext];
  if (expected === undefined) return false;
  const head = data.subarray(0, 4).toString('latin1');
  const actual = head === 'GIF8' ? 'gif' : startsWith(data, 'ffd8ff') ? 'jpeg' : /^\x89PNG/.test(head) ? 'png' : undefined;
  return actual !== expected;
}
