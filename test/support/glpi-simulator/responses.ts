/** Wire shapes of GLPI 10.0.3 answers: JSON headers, `[CODE, message]` errors, PHP fatal pages. */

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** An error GLPI answers with `returnError()`: always `[code, message]`, message optionally with the doc link. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly detail: unknown,
    readonly status = 400,
    /** returnError's $docmessage: append "; view documentation in your browser at <api>/#CODE". */
    readonly doc = true,
  ) {
    super(`${code}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  }
}

export const NO_PERMISSION = "You don't have permission to perform this action.";

export function jsonHeaders(method: string): Record<string, string> {
  const headers: Record<string, string> = {};
  // GLPI sets this CORS header in the GET branch only (APIRest::call).
  if (method === 'GET') headers['Access-Control-Expose-Headers'] = 'content-type, content-range, accept-range';
  headers.Pragma = 'no-cache';
  headers['Content-Type'] = 'application/json; charset=UTF-8';
  headers['Cache-Control'] = 'no-store, no-cache, must-revalidate';
  headers.Expires = 'Mon, 26 Jul 1997 05:00:00 GMT';
  return headers;
}

/** What PHP sends when GLPI dies before writing anything (TypeError with display_errors off). */
export function emptyPhpPage(): Reply {
  return {
    status: 200,
    headers: {
      Expires: 'Thu, 19 Nov 1981 08:52:00 GMT',
      'Cache-Control': 'no-store, no-cache, must-revalidate',
      Pragma: 'no-cache',
      'Content-type': 'text/html; charset=UTF-8',
    },
    body: '',
  };
}

/** The same death with display_errors on: PHP's HTML error text and still 200. */
export function phpFatalPage(): Reply {
  return {
    ...emptyPhpPage(),
    body:
      '<br />\n<b>Fatal error</b>:  Uncaught TypeError: User::updateUserEmails(): Argument #1 ($input) must be of type array, ' +
      'stdClass given, called in /var/www/glpi/src/User.php on line 1040 and defined in /var/www/glpi/src/User.php:1594\n' +
      'Stack trace:\n#0 /var/www/glpi/src/User.php(1040): User-&gt;updateUserEmails()\n#1 {main}\n' +
      '  thrown in <b>/var/www/glpi/src/User.php</b> on line <b>1594</b><br />\n',
  };
}

const STATUS_TEXT: Record<number, string> = {
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** An answer from whatever sits in front of PHP (web server, proxy): HTML, not GLPI's JSON. */
export function proxyErrorPage(status: number): Reply {
  const text = STATUS_TEXT[status] ?? 'Error';
  return {
    status,
    headers: { 'Content-Type': 'text/html; charset=UTF-8' },
    body: `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n<center><h1>${status} ${text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
  };
}

/**
 * GLPI 11's Symfony error page (HTTP 500, text/html, about 66 KB on 11.0.8), e.g. for a
 * query-string session_token PHP refuses as a session id. Shortened: its shape, not its size.
 */
export function phpErrorPage(): Reply {
  return {
    status: 500,
    headers: { 'Content-Type': 'text/html; charset=UTF-8', 'Cache-Control': 'no-cache, private' },
    body:
      '<!DOCTYPE html>\n<html lang="en" data-glpi-theme="auror" data-glpi-theme-dark="0">\n<head>\n<title>Error - GLPI</title>\n' +
      '<meta charset="utf-8" />\n</head>\n<body>\n<div class="container-fluid"><h1>An error occurred</h1>\n' +
      '<p>Session ID is too long or contains illegal characters. Only the A-Z, a-z, 0-9, "-", and "," characters are allowed</p>\n' +
      '</div>\n</body>\n</html>\n',
  };
}

/**
 * The headers of a Document download, as observed on the real 10.0.3 (Toolbox::sendFile) and 11.0.8
 * (Toolbox::getFileAsResponse): images other than SVG and PDFs inline, everything else
 * ` attachment;`; the name twice, quoted as addslashes() of its ISO-8859-1 bytes (10.0.3's iconv
 * gives up on a character outside Latin-1 and the quoted name is empty; 11.0.8's mb_convert_encoding
 * puts `?` in its place) and RFC 5987-encoded with rawurlencode (which encodes `!'()*` too).
 * PHP appends `;charset=UTF-8` to a text/ type. Node writes header strings as Latin-1, so the
 * quoted name reaches the wire as the same raw bytes GLPI sends.
 */
export function documentFileHeaders(filename: string, mime: string, v11: boolean): Record<string, string> {
  const lower = v11 ? mime.toLowerCase() : mime;
  const inline = (lower.startsWith('image/') && lower !== 'image/svg+xml') || lower === 'application/pdf';
  const chars = Array.from(filename);
  const latin1 = v11
    ? chars.map((c) => (c.codePointAt(0)! > 0xff ? '?' : c)).join('')
    : chars.some((c) => c.codePointAt(0)! > 0xff) ? '' : filename;
  // GLPI sends other control characters raw (observed: a name with \x01 gives a header Node's HTTP
  // parser, undici's too, refuses); Node will not write them, so they become `_` here.
  // eslint-disable-next-line no-control-regex
  const quoted = latin1.replace(/[\\'"\0]/g, (c) => (c === '\0' ? '\\0' : `\\${c}`)).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const type = mime.replace(/[^\x20-\x7e]/g, '');
  const disposition = `${inline ? '' : ' attachment;'} filename="${quoted}"; filename*=utf-8''${encoded}`;
  const contentType = type.startsWith('text/') && !type.includes('charset=') ? `${type};charset=UTF-8` : type;
  // A name with CR or LF: PHP's header() refuses the line and both versions send the file without
  // any Content-Disposition (observed).
  if (/[\r\n]/.test(filename)) return { 'Content-type': contentType };
  return {
    // 10.0.3's header() drops the space after the colon; 11.0.8 (Symfony) keeps it, hence two on the wire.
    [v11 ? 'Content-Disposition' : 'Content-disposition']: v11 ? disposition : disposition.trimStart(),
    'Content-type': contentType,
  };
}
