import type { CatalogueEntry } from './types.js';

/** Advice for a missing right; also used when GLPI's message (not its code) says "permission". */
export const RIGHTS_ADVICE =
  "give the GLPI profile of the bridge's user token the rights it needs (Administration > Profiles: " +
  'Users and Contacts read/create/update, Assistance > Tickets create/update and "Add followup (all tickets)", ' +
  'Documents create), in the entity the bridge writes to, recursively';

/**
 * Every status code GLPI 10.0/11 legacy API emits (`[CODE, message]` bodies), with what a person
 * can do about it. Keys are GLPI's own codes, which are also our stable `code`s: doctor, logs and
 * /ready show the same string an admin finds in GLPI's documentation.
 */
export const GLPI_ERROR_CODES = {
  ERROR: {
    disposition: 'fail',
    category: 'invalid-request',
    advice:
      'GLPI refused the request as malformed; this points to a bridge bug or an unsupported GLPI version (supported: 10.0, 11.x)',
  },
  ERROR_NOT_ALLOWED_IP: {
    disposition: 'fail',
    category: 'access',
    advice:
      "in GLPI, Setup > General > API, add (or widen) an active API client whose IPv4 range or IPv6 address covers the bridge's address as GLPI sees it (behind a proxy: the proxy's address); an empty range allows any address",
  },
  ERROR_APP_TOKEN_PARAMETERS_MISSING: {
    disposition: 'fail',
    category: 'access',
    advice:
      "the GLPI API client matching the bridge's address requires an application token: copy it from Setup > General > API > (the API client) into GLPI_APP_TOKEN, or clear the token on that API client",
  },
  ERROR_WRONG_APP_TOKEN_PARAMETER: {
    disposition: 'fail',
    category: 'access',
    advice:
      "GLPI_APP_TOKEN does not match the API client that covers the bridge's address: regenerate or copy it in Setup > General > API > (the API client) > Application token, and check that the client's IP range covers the bridge",
  },
  ERROR_LOGIN_PARAMETERS_MISSING: {
    disposition: 'fail',
    category: 'auth',
    advice:
      'GLPI received no user token: set GLPI_USER_TOKEN; if a reverse proxy or Apache+PHP-FPM drops the Authorization header, add `SetEnvIf Authorization "(.*)" HTTP_AUTHORIZATION=$1` (Apache) or pass the header through',
  },
  ERROR_LOGIN_WITH_CREDENTIALS_DISABLED: {
    disposition: 'fail',
    category: 'auth',
    advice: 'the bridge logs in with a user token only; set GLPI_USER_TOKEN (login/password login is disabled in GLPI)',
  },
  ERROR_GLPI_LOGIN_USER_TOKEN: {
    disposition: 'fail',
    category: 'auth',
    advice:
      'GLPI_USER_TOKEN is not accepted: in GLPI open the user (My settings or Administration > Users) and regenerate the "API token" (remote access key), check the user is active, and that Setup > General > API "Enable login with external token" is on; duplicate logins also cause this',
  },
  ERROR_GLPI_LOGIN: {
    disposition: 'fail',
    category: 'auth',
    advice: 'GLPI refused the login; use a user token (GLPI_USER_TOKEN) of an active user',
  },
  ERROR_SESSION_TOKEN_MISSING: {
    disposition: 'fail',
    category: 'session',
    advice:
      'GLPI did not receive the Session-Token header: a proxy in front of GLPI probably strips custom headers; let Session-Token and App-Token through',
  },
  ERROR_SESSION_TOKEN_INVALID: {
    disposition: 'retry',
    category: 'session',
    advice:
      'GLPI rejected a session it had just opened: if GLPI runs on several web servers, they must share PHP session storage (or use sticky sessions), and files/_sessions must be writable',
  },
  ERROR_ITEM_NOT_FOUND: {
    disposition: 'fail',
    category: 'not-found',
    advice: 'the GLPI item does not exist (deleted or purged), or is outside the entities the token user can see',
  },
  ERROR_RIGHT_MISSING: {
    disposition: 'fail',
    category: 'permission',
    advice: RIGHTS_ADVICE,
  },
  ERROR_BAD_ARRAY: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI did not find the `input` it expects; a proxy that drops the JSON body or Content-Type header, or a bridge bug',
  },
  ERROR_METHOD_NOT_ALLOWED: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI does not support this call on this version; check the supported versions in docs/glpi.md',
  },
  ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI does not know this item type: check GLPI_API_URL points at GLPI 10.0 or 11.x apirest.php',
  },
  ERROR_RESOURCE_MISSING: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI received an empty resource path: check GLPI_API_URL (it must end with /apirest.php) and URL rewriting on the web server',
  },
  ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI does not know the parent item type of this sub-item call: check the GLPI version',
  },
  ERROR_FIELD_NOT_FOUND: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI has no such column to filter on: check the GLPI version',
  },
  ERROR_RANGE_EXCEED_TOTAL: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'a list page started after the last item (items were deleted while paging)',
  },
  ERROR_SQL: {
    disposition: 'retry',
    category: 'server',
    advice: "GLPI's database failed to answer a search; check GLPI's sql-errors.log and the database",
  },
  ERROR_UNKNOWN: {
    disposition: 'retry',
    category: 'server',
    advice: "GLPI's database failed to list items; check GLPI's sql-errors.log and the database",
  },
  ERROR_JSON_PAYLOAD_FORBIDDEN: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI refuses a body on GET; a bridge bug',
  },
  ERROR_JSON_PAYLOAD_INVALID: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI could not parse the JSON (or upload manifest) it received; a proxy altering bodies, or a bridge bug',
  },
  ERROR_UPLOAD_FILE_TOO_BIG_POST_MAX_SIZE: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: "the attachment is larger than GLPI's PHP post_max_size / upload_max_filesize; raise them in GLPI's php.ini",
  },
  ERROR_GLPI_ADD: {
    disposition: 'fail',
    category: 'invalid-request',
    advice:
      'GLPI refused to create the item (see its message: invalid e-mail, duplicate login, closed ticket...); if the message is about permission, ' +
      RIGHTS_ADVICE,
  },
  ERROR_GLPI_UPDATE: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI refused to update the item (see its message); if it is about permission, ' + RIGHTS_ADVICE,
  },
  ERROR_GLPI_DELETE: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'GLPI refused to delete the item (see its message); if it is about permission, ' + RIGHTS_ADVICE,
  },
  ERROR_GLPI_PARTIAL_ADD: {
    disposition: 'fail',
    category: 'partial',
    advice: 'some items of a bulk creation failed (listed in the message); the others were created',
  },
  ERROR_GLPI_PARTIAL_UPDATE: {
    disposition: 'fail',
    category: 'partial',
    advice: 'some items of a bulk update failed (listed in the message); the others were updated',
  },
  ERROR_GLPI_PARTIAL_DELETE: {
    disposition: 'fail',
    category: 'partial',
    advice: 'some items of a bulk deletion failed (listed in the message); the others were deleted',
  },
  ERROR_MASSIVEACTION_KEY: { disposition: 'fail', category: 'invalid-request', advice: 'unknown massive action; a bridge bug' },
  ERROR_MASSIVEACTION_NOT_FOUND: { disposition: 'fail', category: 'invalid-request', advice: 'unknown massive action; a bridge bug' },
  ERROR_MASSIVEACTION_NO_IDS: { disposition: 'fail', category: 'invalid-request', advice: 'massive action without ids; a bridge bug' },
  ERROR_NOT_DELETED: { disposition: 'fail', category: 'invalid-request', advice: 'GLPI did not delete the item' },
} as const satisfies Record<string, CatalogueEntry>;

/** Codes the bridge gives to GLPI failures that carry no GLPI code. */
export const BRIDGE_GLPI_CODES = {
  GLPI_API_DISABLED: {
    disposition: 'fail',
    category: 'access',
    advice: 'enable the REST API in GLPI: Setup > General > API > "Enable Rest API"',
  },
  GLPI_PERMISSION_DENIED: { disposition: 'fail', category: 'permission', advice: RIGHTS_ADVICE },
  GLPI_NETWORK_ERROR: {
    disposition: 'retry',
    category: 'network',
    advice: "GLPI could not be reached: check GLPI_API_URL's host and port, DNS, and firewalls between the bridge and GLPI",
  },
  GLPI_TLS_ERROR: {
    disposition: 'retry',
    category: 'network',
    advice:
      "GLPI's TLS certificate was refused (expired, self-signed or wrong host name): fix the certificate, or give Node the CA with NODE_EXTRA_CA_CERTS",
  },
  GLPI_TIMEOUT: {
    disposition: 'retry',
    category: 'network',
    advice: 'GLPI did not answer in time; check its load and database, or raise GLPI_TIMEOUT_MS',
  },
  GLPI_SERVER_ERROR: {
    disposition: 'retry',
    category: 'server',
    advice: "GLPI or a proxy in front of it failed (HTTP 5xx); check the web server's and GLPI's php-errors.log",
  },
  GLPI_RATE_LIMITED: {
    disposition: 'retry',
    category: 'server',
    advice: 'a proxy in front of GLPI rate-limits the bridge (HTTP 429); raise the limit for the bridge or lower WORKER_CONCURRENCY',
  },
  GLPI_EMPTY_RESPONSE: {
    disposition: 'retry',
    category: 'server',
    advice: "GLPI answered with an empty body, which is how a fatal PHP error inside GLPI looks; see GLPI's files/_log/php-errors.log",
  },
  GLPI_INVALID_RESPONSE: {
    disposition: 'retry',
    category: 'server',
    advice:
      "GLPI answered something that is not the JSON its API sends (a fatal PHP error, or a proxy or login page in front of GLPI); see GLPI's files/_log/php-errors.log and check GLPI_API_URL",
  },
  GLPI_UNEXPECTED_RESPONSE: {
    disposition: 'retry',
    category: 'server',
    advice: 'GLPI answered JSON of an unexpected shape; check GLPI_API_URL points at GLPI 10.0 or 11.x apirest.php',
  },
  GLPI_REDIRECTED: {
    disposition: 'fail',
    category: 'access',
    advice: 'GLPI_API_URL redirects (e.g. http:// to https://, or a different path); set it to the final address',
  },
  GLPI_HTTP_NOT_FOUND: {
    disposition: 'fail',
    category: 'access',
    advice: "the web server has nothing at this address: GLPI_API_URL must end with GLPI's /apirest.php (e.g. https://glpi.example.com/apirest.php)",
  },
  GLPI_HTTP_ERROR: {
    disposition: 'fail',
    category: 'access',
    advice: 'something in front of GLPI (proxy, web server authentication, WAF) refused the request; check its configuration and GLPI_API_URL',
  },
  GLPI_UPLOAD_FAILED: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: "GLPI did not store the file (type not allowed in Setup > Dropdowns > Document types, or too big for PHP's upload_max_filesize)",
  },
  GLPI_INVALID_ARGUMENT: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'the bridge built an invalid GLPI request; a bridge bug',
  },
} as const satisfies Record<string, CatalogueEntry>;

/** A code a GlpiError may carry: GLPI's own or one of the bridge's GLPI_* codes. */
export type GlpiCode = keyof typeof GLPI_ERROR_CODES | keyof typeof BRIDGE_GLPI_CODES;

/** One of GLPI's own codes (from a `[CODE, message]` answer) that the catalogue lists. */
export function isGlpiOwnCode(code: string): code is keyof typeof GLPI_ERROR_CODES {
  return Object.hasOwn(GLPI_ERROR_CODES, code);
}
