import { BridgeError } from '../errors.js';

/**
 * What kind of problem a GLPI error is, for people and for doctor. The retry decision is
 * `transient` (via isTransient); the category only groups the advice.
 */
export type GlpiErrorCategory =
  /** API disabled, caller IP refused, app token wrong: a GLPI administrator changes Setup > General > API. */
  | 'access'
  /** user token / login refused. */
  | 'auth'
  /** The token's profile lacks a right (read: 403; create/update/delete: 400 with a permission message). */
  | 'permission'
  /** The item does not exist (any more). */
  | 'not-found'
  /** GLPI refused the input or the request shape (a bug or unsupported GLPI version). */
  | 'invalid-request'
  /** GLPI session lost and not recoverable by one re-initialisation. */
  | 'session'
  /** Some items of a bulk request failed. */
  | 'partial'
  /** GLPI or something in front of it failed (5xx, 429, fatal PHP error, bad answer). */
  | 'server'
  /** No HTTP answer at all (connection, DNS, TLS, timeout). */
  | 'network';

interface CodeInfo {
  transient: boolean;
  category: GlpiErrorCategory;
  advice: string;
}

const RIGHTS_ADVICE =
  "give the GLPI profile of the bridge's user token the rights it needs (Administration > Profiles: " +
  'Users and Contacts read/create/update, Assistance > Tickets create/update and "Add followup (all tickets)", ' +
  'Documents create), in the entity the bridge writes to, recursively';

/**
 * Every status code GLPI 10.0/11 legacy API emits (`[CODE, message]` bodies), with what a person
 * can do about it. Keys are GLPI's own codes, which are also our stable `code`s: doctor, logs and
 * /ready show the same string an admin finds in GLPI's documentation.
 */
export const GLPI_ERROR_CODES: Readonly<Record<string, CodeInfo>> = {
  ERROR: {
    transient: false,
    category: 'invalid-request',
    advice:
      'GLPI refused the request as malformed; this points to a bridge bug or an unsupported GLPI version (supported: 10.0, 11.x)',
  },
  ERROR_NOT_ALLOWED_IP: {
    transient: false,
    category: 'access',
    advice:
      "in GLPI, Setup > General > API, add (or widen) an active API client whose IPv4 range or IPv6 address covers the bridge's address as GLPI sees it (behind a proxy: the proxy's address); an empty range allows any address",
  },
  ERROR_APP_TOKEN_PARAMETERS_MISSING: {
    transient: false,
    category: 'access',
    advice:
      "the GLPI API client matching the bridge's address requires an application token: copy it from Setup > General > API > (the API client) into GLPI_APP_TOKEN, or clear the token on that API client",
  },
  ERROR_WRONG_APP_TOKEN_PARAMETER: {
    transient: false,
    category: 'access',
    advice:
      "GLPI_APP_TOKEN does not match the API client that covers the bridge's address: regenerate or copy it in Setup > General > API > (the API client) > Application token, and check that the client's IP range covers the bridge",
  },
  ERROR_LOGIN_PARAMETERS_MISSING: {
    transient: false,
    category: 'auth',
    advice:
      'GLPI received no user token: set GLPI_USER_TOKEN; if a reverse proxy or Apache+PHP-FPM drops the Authorization header, add `SetEnvIf Authorization "(.*)" HTTP_AUTHORIZATION=$1` (Apache) or pass the header through',
  },
  ERROR_LOGIN_WITH_CREDENTIALS_DISABLED: {
    transient: false,
    category: 'auth',
    advice: 'the bridge logs in with a user token only; set GLPI_USER_TOKEN (login/password login is disabled in GLPI)',
  },
  ERROR_GLPI_LOGIN_USER_TOKEN: {
    transient: false,
    category: 'auth',
    advice:
      'GLPI_USER_TOKEN is not accepted: in GLPI open the user (My settings or Administration > Users) and regenerate the "API token" (remote access key), check the user is active, and that Setup > General > API "Enable login with external token" is on; duplicate logins also cause this',
  },
  ERROR_GLPI_LOGIN: {
    transient: false,
    category: 'auth',
    advice: 'GLPI refused the login; use a user token (GLPI_USER_TOKEN) of an active user',
  },
  ERROR_SESSION_TOKEN_MISSING: {
    transient: false,
    category: 'session',
    advice:
      'GLPI did not receive the Session-Token header: a proxy in front of GLPI probably strips custom headers; let Session-Token and App-Token through',
  },
  ERROR_SESSION_TOKEN_INVALID: {
    transient: true,
    category: 'session',
    advice:
      'GLPI rejected a session it had just opened: if GLPI runs on several web servers, they must share PHP session storage (or use sticky sessions), and files/_sessions must be writable',
  },
  ERROR_ITEM_NOT_FOUND: {
    transient: false,
    category: 'not-found',
    advice: 'the GLPI item does not exist (deleted or purged), or is outside the entities the token user can see',
  },
  ERROR_RIGHT_MISSING: {
    transient: false,
    category: 'permission',
    advice: RIGHTS_ADVICE,
  },
  ERROR_BAD_ARRAY: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI did not find the `input` it expects; a proxy that drops the JSON body or Content-Type header, or a bridge bug',
  },
  ERROR_METHOD_NOT_ALLOWED: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI does not support this call on this version; check the supported versions in docs/glpi.md',
  },
  ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI does not know this item type: check GLPI_API_URL points at GLPI 10.0 or 11.x apirest.php',
  },
  ERROR_RESOURCE_MISSING: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI received an empty resource path: check GLPI_API_URL (it must end with /apirest.php) and URL rewriting on the web server',
  },
  ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI does not know the parent item type of this sub-item call: check the GLPI version',
  },
  ERROR_FIELD_NOT_FOUND: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI has no such column to filter on: check the GLPI version',
  },
  ERROR_RANGE_EXCEED_TOTAL: {
    transient: false,
    category: 'invalid-request',
    advice: 'a list page started after the last item (items were deleted while paging)',
  },
  ERROR_SQL: {
    transient: true,
    category: 'server',
    advice: "GLPI's database failed to answer a search; check GLPI's sql-errors.log and the database",
  },
  ERROR_UNKNOWN: {
    transient: true,
    category: 'server',
    advice: "GLPI's database failed to list items; check GLPI's sql-errors.log and the database",
  },
  ERROR_JSON_PAYLOAD_FORBIDDEN: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI refuses a body on GET; a bridge bug',
  },
  ERROR_JSON_PAYLOAD_INVALID: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI could not parse the JSON (or upload manifest) it received; a proxy altering bodies, or a bridge bug',
  },
  ERROR_UPLOAD_FILE_TOO_BIG_POST_MAX_SIZE: {
    transient: false,
    category: 'invalid-request',
    advice: "the attachment is larger than GLPI's PHP post_max_size / upload_max_filesize; raise them in GLPI's php.ini",
  },
  ERROR_GLPI_ADD: {
    transient: false,
    category: 'invalid-request',
    advice:
      'GLPI refused to create the item (see its message: invalid e-mail, duplicate login, closed ticket...); if the message is about permission, ' +
      RIGHTS_ADVICE,
  },
  ERROR_GLPI_UPDATE: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI refused to update the item (see its message); if it is about permission, ' + RIGHTS_ADVICE,
  },
  ERROR_GLPI_DELETE: {
    transient: false,
    category: 'invalid-request',
    advice: 'GLPI refused to delete the item (see its message); if it is about permission, ' + RIGHTS_ADVICE,
  },
  ERROR_GLPI_PARTIAL_ADD: {
    transient: false,
    category: 'partial',
    advice: 'some items of a bulk creation failed (listed in the message); the others were created',
  },
  ERROR_GLPI_PARTIAL_UPDATE: {
    transient: false,
    category: 'partial',
    advice: 'some items of a bulk update failed (listed in the message); the others were updated',
  },
  ERROR_GLPI_PARTIAL_DELETE: {
    transient: false,
    category: 'partial',
    advice: 'some items of a bulk deletion failed (listed in the message); the others were deleted',
  },
  ERROR_MASSIVEACTION_KEY: { transient: false, category: 'invalid-request', advice: 'unknown massive action; a bridge bug' },
  ERROR_MASSIVEACTION_NOT_FOUND: { transient: false, category: 'invalid-request', advice: 'unknown massive action; a bridge bug' },
  ERROR_MASSIVEACTION_NO_IDS: { transient: false, category: 'invalid-request', advice: 'massive action without ids; a bridge bug' },
  ERROR_NOT_DELETED: { transient: false, category: 'invalid-request', advice: 'GLPI did not delete the item' },
};

/** Codes the bridge gives to failures that carry no GLPI code. */
export const BRIDGE_GLPI_CODES: Readonly<Record<string, CodeInfo>> = {
  GLPI_API_DISABLED: {
    transient: false,
    category: 'access',
    advice: 'enable the REST API in GLPI: Setup > General > API > "Enable Rest API"',
  },
  GLPI_PERMISSION_DENIED: { transient: false, category: 'permission', advice: RIGHTS_ADVICE },
  GLPI_NETWORK_ERROR: {
    transient: true,
    category: 'network',
    advice: "GLPI could not be reached: check GLPI_API_URL's host and port, DNS, and firewalls between the bridge and GLPI",
  },
  GLPI_TLS_ERROR: {
    transient: true,
    category: 'network',
    advice:
      "GLPI's TLS certificate was refused (expired, self-signed or wrong host name): fix the certificate, or give Node the CA with NODE_EXTRA_CA_CERTS",
  },
  GLPI_TIMEOUT: {
    transient: true,
    category: 'network',
    advice: 'GLPI did not answer in time; check its load and database, or raise GLPI_TIMEOUT_MS',
  },
  GLPI_SERVER_ERROR: {
    transient: true,
    category: 'server',
    advice: "GLPI or a proxy in front of it failed (HTTP 5xx); check the web server's and GLPI's php-errors.log",
  },
  GLPI_RATE_LIMITED: {
    transient: true,
    category: 'server',
    advice: 'a proxy in front of GLPI rate-limits the bridge (HTTP 429); raise the limit for the bridge or lower WORKER_CONCURRENCY',
  },
  GLPI_EMPTY_RESPONSE: {
    transient: true,
    category: 'server',
    advice: "GLPI answered with an empty body, which is how a fatal PHP error inside GLPI looks; see GLPI's files/_log/php-errors.log",
  },
  GLPI_INVALID_RESPONSE: {
    transient: true,
    category: 'server',
    advice:
      "GLPI answered something that is not the JSON its API sends (a fatal PHP error, or a proxy or login page in front of GLPI); see GLPI's files/_log/php-errors.log and check GLPI_API_URL",
  },
  GLPI_UNEXPECTED_RESPONSE: {
    transient: true,
    category: 'server',
    advice: 'GLPI answered JSON of an unexpected shape; check GLPI_API_URL points at GLPI 10.0 or 11.x apirest.php',
  },
  GLPI_REDIRECTED: {
    transient: false,
    category: 'access',
    advice: 'GLPI_API_URL redirects (e.g. http:// to https://, or a different path); set it to the final address',
  },
  GLPI_HTTP_NOT_FOUND: {
    transient: false,
    category: 'access',
    advice: "the web server has nothing at this address: GLPI_API_URL must end with GLPI's /apirest.php (e.g. https://glpi.example.com/apirest.php)",
  },
  GLPI_HTTP_ERROR: {
    transient: false,
    category: 'access',
    advice: 'something in front of GLPI (proxy, web server authentication, WAF) refused the request; check its configuration and GLPI_API_URL',
  },
  GLPI_UPLOAD_FAILED: {
    transient: false,
    category: 'invalid-request',
    advice: "GLPI did not store the file (type not allowed in Setup > Dropdowns > Document types, or too big for PHP's upload_max_filesize)",
  },
  GLPI_INVALID_ARGUMENT: {
    transient: false,
    category: 'invalid-request',
    advice: 'the bridge built an invalid GLPI request; a bridge bug',
  },
};

export interface GlpiErrorOptions {
  status?: number;
  /** Endpoint template, e.g. "POST /Ticket/:id/ITILFollowup". */
  endpoint?: string;
  /** GLPI's own message (translated text), secrets scrubbed. */
  glpiMessage?: string;
  /** Per-item results of a bulk request (`id: false` = failed), in input order. */
  results?: { id: number | false; message: string }[];
  /** Refines the table entry when the message says more than the code (permission, not found). */
  refine?: { category: GlpiErrorCategory; advice: string };
  cause?: unknown;
}

/**
 * Every failure of the GLPI client. `code` is GLPI's status code when GLPI gave one, otherwise a
 * `GLPI_*` code from BRIDGE_GLPI_CODES; transient/advice/category come from those tables.
 */
export class GlpiError extends BridgeError {
  readonly category: GlpiErrorCategory;
  readonly endpoint: string | undefined;
  readonly glpiMessage: string | undefined;
  readonly results: { id: number | false; message: string }[] | undefined;

  constructor(code: string, message: string, options: GlpiErrorOptions = {}) {
    const info = GLPI_ERROR_CODES[code] ?? BRIDGE_GLPI_CODES[code] ?? unknownCodeInfo(options.status);
    const advice = options.refine?.advice ?? info.advice;
    super(code, message, { transient: info.transient, advice, status: options.status, cause: options.cause });
    this.name = 'GlpiError';
    this.category = options.refine?.category ?? info.category;
    this.endpoint = options.endpoint;
    this.glpiMessage = options.glpiMessage;
    this.results = options.results;
  }
}

function unknownCodeInfo(status: number | undefined): CodeInfo {
  const transient = status === undefined || status >= 500 || status === 429;
  return {
    transient,
    category: transient ? 'server' : 'invalid-request',
    advice: 'GLPI answered with an error code the bridge does not know; see the message and GLPI\'s logs',
  };
}

/** Advice for a code, for doctor and the failed-jobs list. */
export function glpiAdvice(code: string): string | undefined {
  return (GLPI_ERROR_CODES[code] ?? BRIDGE_GLPI_CODES[code])?.advice;
}

export function isGlpiError(err: unknown, code?: string): err is GlpiError {
  return err instanceof GlpiError && (code === undefined || err.code === code);
}

/**
 * The item is gone (404 ERROR_ITEM_NOT_FOUND, or the 400 ERROR_GLPI_UPDATE with an empty message
 * GLPI 10 gives for an unknown id): the sync forgets the stored id and resolves it again.
 */
export function isGlpiNotFound(err: unknown): boolean {
  return err instanceof GlpiError && err.category === 'not-found';
}

// GLPI translates messages into the session language; these cover English and French, the code
// stays the reliable key and the advice of ERROR_GLPI_* mentions rights anyway.
const PERMISSION_MESSAGE = /permission|droits? requis|n'avez pas le droit|Berechtigung|permiso|permesso/i;
const API_DISABLED_MESSAGE = /API disabled|API d[ée]sactiv/i;

/**
 * Builds the error for a `[CODE, message]` body. Some codes mean different things depending on
 * the message: those are refined here so the advice fits.
 */
export function glpiErrorFromBody(
  code: string,
  message: unknown,
  status: number,
  endpoint: string,
  scrub: (text: string) => string,
): GlpiError {
  const results = bulkResults(message);
  const text = scrub(results ? describeBulkFailures(results) : messageText(message));
  const base = `GLPI ${endpoint} answered ${status} ${code}${text === '' ? '' : `: ${text}`}`;
  const options: GlpiErrorOptions = { status, endpoint, glpiMessage: text, results };

  if (code === 'ERROR' && API_DISABLED_MESSAGE.test(text)) {
    return new GlpiError('GLPI_API_DISABLED', base, options);
  }
  if ((code === 'ERROR_GLPI_ADD' || code === 'ERROR_GLPI_UPDATE' || code === 'ERROR_GLPI_DELETE') && !results) {
    // Same code, but a missing create/update right is a rights problem, not bad input.
    if (PERMISSION_MESSAGE.test(text)) {
      return new GlpiError(code, base, { ...options, refine: { category: 'permission', advice: RIGHTS_ADVICE } });
    }
    // GLPI 10 answers an update of an id it does not have with ["ERROR_GLPI_UPDATE", null].
    if (code === 'ERROR_GLPI_UPDATE' && text === '') {
      return new GlpiError(code, base, {
        ...options,
        refine: { category: 'not-found', advice: 'the GLPI item does not exist (deleted or purged)' },
      });
    }
  }
  return new GlpiError(code, base, options);
}

function messageText(message: unknown): string {
  if (typeof message !== 'string') return '';
  // GLPI appends a link to its inline documentation; it only adds noise to logs.
  return message.replace(/; view documentation in your browser at \S+$/, '').trim();
}

function bulkResults(message: unknown): { id: number | false; message: string }[] | undefined {
  if (!Array.isArray(message)) return undefined;
  return message.map((entry: unknown) => {
    const obj = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const id = typeof obj.id === 'number' && obj.id > 0 ? obj.id : false;
    return { id, message: typeof obj.message === 'string' ? obj.message : '' };
  });
}

function describeBulkFailures(results: { id: number | false; message: string }[]): string {
  const failed = results.flatMap((r, index) => (r.id === false ? [`item ${index}: ${r.message || 'failed'}`] : []));
  return `${failed.length} of ${results.length} items failed (${failed.join('; ')})`;
}
