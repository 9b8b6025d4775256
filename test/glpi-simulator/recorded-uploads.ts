/**
 * What real GLPI stores for a multipart upload (`POST /Document`, part `filename[0]`), recorded on
 * 10.0.3 and 11.0.8 on 2026-12-01: `quoted` is the filename exactly as it stands between the quotes
 * of the part's Content-Disposition. The MIME type comes from the bytes, never from the part's type.
 */
/** RIFF/WEBP header of a 1x1 lossless WebP (its bytes are what matters to finfo). */
export const WEBP_1PX = Buffer.from('524946461a000000574542505650384c0d0000002f00000010071011118888fe0700', 'hex');
export const PNG_1PX = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f80f00000101000518d84e0000000049454e44ae426082',
  'hex',
);
export interface RecordedUpload {
  label: string;
  quoted: string;
  type: string;
  data: Buffer;
  /** `error: false`: refused without saying so (10.0.3), no file stored all the same. */
  stored: { filename: string; mime: string } | { error: string | false };
  /** 10.0.3's answer where it differs. */
  v10?: { filename: string; mime: string } | { error: string | false };
}
const text = (s: string) => Buffer.from(s);
/** Text under an image's name, as a hostile or broken client sends it. */
export const NOT_AN_IMAGE = text('hello, this is not an image\n');
export const UPLOADS: RecordedUpload[] = [
  { label: 'a PNG sent as text/plain', quoted: 'pic.png', type: 'text/plain', data: PNG_1PX, stored: { filename: 'pic.png', mime: 'image/png' } },
  { label: 'PNG bytes named .txt', quoted: 'pic.txt', type: 'text/plain', data: PNG_1PX, stored: { filename: 'pic.txt', mime: 'image/png' } },
  { label: 'text sent as image/png', quoted: 'notes.txt', type: 'image/png', data: text('hello world\n'), stored: { filename: 'notes.txt', mime: 'text/plain' } },
  { label: 'no part type', quoted: 'nt.txt', type: '', data: text('hello\n'), stored: { filename: 'nt.txt', mime: 'text/plain' } },
  { label: 'HTML in a .txt', quoted: 'h.txt', type: 'text/plain', data: text('<!DOCTYPE html>\n<html><body>x</body></html>\n'), stored: { filename: 'h.txt', mime: 'text/html' } },
  { label: 'JSON in a .txt', quoted: 'j.txt', type: 'text/plain', data: text('{"a":1}\n'), stored: { filename: 'j.txt', mime: 'application/json' } },
  { label: 'XML', quoted: 'x.xml', type: 'text/plain', data: text('<?xml version="1.0"?>\n<a/>\n'), stored: { filename: 'x.xml', mime: 'text/xml' } },
  { label: 'PDF bytes', quoted: 'p.txt', type: 'text/plain', data: text('%PDF-1.4\n%%EOF\n'), stored: { filename: 'p.txt', mime: 'application/pdf' } },
  { label: 'GIF bytes', quoted: 'g.txt', type: 'text/plain', data: Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'), stored: { filename: 'g.txt', mime: 'image/gif' } },
  { label: 'JPEG bytes', quoted: 'j.txt', type: 'text/plain', data: Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex'), stored: { filename: 'j.txt', mime: 'image/jpeg' } },
  { label: 'zip bytes', quoted: 'z.txt', type: 'text/plain', data: Buffer.from('504b0506000000000000000000000000000000000000', 'hex'), stored: { filename: 'z.txt', mime: 'application/zip' } },
  { label: 'gzip bytes', quoted: 'gz.txt', type: 'text/plain', data: Buffer.from('1f8b08000000000000030300000000000000000000', 'hex'), stored: { filename: 'gz.txt', mime: 'application/gzip' } },
  { label: 'binary bytes', quoted: 'bin.txt', type: 'text/plain', data: Buffer.from('0001020304fffefd0a', 'hex'), stored: { filename: 'bin.txt', mime: 'application/octet-stream' } },
  { label: 'the PNG signature alone', quoted: 'sig.txt', type: 'image/png', data: Buffer.from('89504e470d0a1a0a', 'hex'), stored: { filename: 'sig.txt', mime: 'application/octet-stream' } },
  { label: 'two bytes of text', quoted: 'ab.txt', type: 'text/plain', data: text('ab'), stored: { filename: 'ab.txt', mime: 'application/octet-stream' } },
  { label: 'three bytes of text', quoted: 'abc.txt', type: 'text/plain', data: text('abc'), stored: { filename: 'abc.txt', mime: 'text/plain' } },
  { label: 'an escaped quote', quoted: 'a\\"b.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'a"b.txt', mime: 'text/plain' } },
  { label: 'a Windows path', quoted: 'C:\\dir\\x.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'x.txt', mime: 'text/plain' } },
  { label: 'a Windows path, backslashes escaped', quoted: 'C:\\\\dir\\\\y.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'y.txt', mime: 'text/plain' } },
  { label: 'an escaped backslash then an escaped quote', quoted: 'q\\\\\\"r.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: '"r.txt', mime: 'text/plain' } },
  { label: 'a Unix path', quoted: 'dir/sub/z.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'z.txt', mime: 'text/plain' } },
  { label: 'an LF in the name', quoted: 'l\nf.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'lf.txt', mime: 'text/plain' } },
  { label: 'a CR in the name', quoted: 'cr\rlf.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'cr\rlf.txt', mime: 'text/plain' }, v10: { filename: 'crrlf.txt', mime: 'text/plain' } },
  { label: 'SUB in the name', quoted: 's\x1ab.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 's\x1ab.txt', mime: 'text/plain' }, v10: { filename: 'sZb.txt', mime: 'text/plain' } },
  { label: 'CRLF in the name (ends the header)', quoted: 'c\r\nX-Evil: 1.txt', type: 'text/plain', data: text('hello\n'), stored: { error: 'Filetype not allowed' } },
  { label: 'a tab in the name', quoted: 't\tb.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 't\tb.txt', mime: 'text/plain' } },
  { label: 'dots and spaces around the name', quoted: ' ..x y.txt. ', type: 'text/plain', data: text('hello\n'), stored: { filename: ' ..x y.txt', mime: 'text/plain' } },
  { label: 'trailing dots', quoted: 'x.txt..', type: 'text/plain', data: text('hello\n'), stored: { filename: 'x.txt', mime: 'text/plain' } },
  { label: 'several dots', quoted: 'a.b.c.txt', type: 'text/plain', data: text('hello\n'), stored: { filename: 'a.b.c.txt', mime: 'text/plain' } },
  { label: 'an upper-case extension', quoted: 'P.PNG', type: 'image/png', data: PNG_1PX, stored: { filename: 'P.PNG', mime: 'image/png' } },
  { label: 'a .log', quoted: 'printer.log', type: 'text/plain', data: text('paper jam\n'), stored: { error: 'Filetype not allowed' } },
  { label: 'a .LOG', quoted: 'X.LOG', type: 'text/plain', data: text('hello\n'), stored: { error: 'Filetype not allowed' } },
  { label: 'a .json', quoted: 'j.json', type: 'application/json', data: text('{"a":1}\n'), stored: { error: 'Filetype not allowed' } },
  { label: 'no extension', quoted: 'README', type: 'text/plain', data: text('hello\n'), stored: { error: 'Filetype not allowed' } },
  { label: 'an empty file', quoted: 'empty.txt', type: 'text/plain', data: Buffer.alloc(0), stored: { error: 'File is too small' } },
  // A name that says image is checked against the bytes' own magic numbers (recorded 2026-12-01).
  { label: 'text named .png', quoted: 'x.png', type: 'image/png', data: NOT_AN_IMAGE, stored: { error: 'Invalid file type' }, v10: { error: false } },
  { label: 'text named .jpg', quoted: 'x.jpg', type: 'image/jpeg', data: NOT_AN_IMAGE, stored: { error: 'Invalid file type' }, v10: { error: false } },
  { label: 'a PNG named .gif', quoted: 'x.gif', type: 'application/octet-stream', data: PNG_1PX, stored: { error: 'Invalid file type' }, v10: { error: false } },
  { label: 'a PNG named .png, sent as application/octet-stream', quoted: 'x.png', type: 'application/octet-stream', data: PNG_1PX, stored: { filename: 'x.png', mime: 'image/png' } },
];

/**
 * Files refused with `_only_if_upload_succeed: 1`: HTTP 400 `ERROR_GLPI_ADD`, the message naming
 * the file GLPI dropped (11.0.8 `File x.png not found.`, 10.0.3 `File <its _tmp dir>/<prefix>x.png not found.`).
 */
export const REFUSED_ONLY_IF_SUCCEED = UPLOADS.filter((u) => ['a .log', 'text named .png', 'text named .jpg', 'a PNG named .gif'].includes(u.label));

/** A `POST /Document` body: the manifest, then one `filename[0]` part whose quoted filename is `quoted` as is. */
export function uploadBody(quoted: string, type: string, data: Buffer, manifest: unknown): { body: Buffer; contentType: string } {
  const boundary = '----simupload';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="uploadManifest"\r\n\r\n${JSON.stringify(manifest)}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="filename[0]"; filename="${quoted}"\r\n${type === '' ? '' : `Content-Type: ${type}\r\n`}\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

