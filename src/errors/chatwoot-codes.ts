import type { CatalogueEntry } from './types.js';

/** Codes of Chatwoot API failures (the API has no codes of its own: these name the HTTP outcome). */
export const CHATWOOT_ERROR_CODES = {
  CHATWOOT_UNAUTHORIZED: {
    disposition: 'fail',
    category: 'auth',
    advice:
      'CHATWOOT_API_TOKEN is not accepted: copy the access token of a dedicated Chatwoot administrator (Profile settings > Access token) into CHATWOOT_API_TOKEN',
  },
  CHATWOOT_FORBIDDEN: {
    disposition: 'fail',
    category: 'permission',
    advice:
      "the Chatwoot token's user may not do this: use an administrator's token (agents only see their inboxes' conversations; agent-bot tokens cannot read contacts or list messages)",
  },
  CHATWOOT_NOT_FOUND: {
    disposition: 'fail',
    category: 'not-found',
    advice:
      'Chatwoot has no such account or conversation for this token (deleted, or the token belongs to another account); check CHATWOOT_BASE_URL points at the Chatwoot root, e.g. https://app.chatwoot.com',
  },
  CHATWOOT_INVALID_REQUEST: {
    disposition: 'fail',
    category: 'invalid-request',
    advice: 'Chatwoot refused the request (see its message); a bridge bug or an unsupported Chatwoot version',
  },
  CHATWOOT_INVALID_RESPONSE: {
    disposition: 'fail',
    category: 'invalid-request',
    advice:
      'Chatwoot answered something that is not its API JSON: CHATWOOT_BASE_URL must be the Chatwoot root (https://chatwoot.example.com), without /app or /api/v1',
  },
  CHATWOOT_RATE_LIMITED: {
    disposition: 'retry',
    category: 'server',
    advice: 'Chatwoot rate-limits the bridge (HTTP 429, RACK_ATTACK_LIMIT); the bridge retries later',
  },
  CHATWOOT_SERVER_ERROR: {
    disposition: 'retry',
    category: 'server',
    advice: "Chatwoot or a proxy in front of it failed (HTTP 5xx); see Chatwoot's logs",
  },
  CHATWOOT_NETWORK_ERROR: {
    disposition: 'retry',
    category: 'network',
    advice: "Chatwoot could not be reached: check CHATWOOT_BASE_URL's host and port, DNS and firewalls",
  },
  CHATWOOT_TLS_ERROR: {
    disposition: 'retry',
    category: 'network',
    advice: "Chatwoot's TLS certificate was refused: fix it, or give Node the CA with NODE_EXTRA_CA_CERTS",
  },
  CHATWOOT_TIMEOUT: {
    disposition: 'retry',
    category: 'network',
    advice: 'Chatwoot did not answer in time; check its load',
  },
  CHATWOOT_ACCOUNT_UNKNOWN: {
    disposition: 'fail',
    category: 'invalid-request',
    advice:
      'the bridge could not tell which Chatwoot account is meant: give the token of a user that belongs to exactly one account (resync also takes --account N)',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ChatwootCode = keyof typeof CHATWOOT_ERROR_CODES;
