/**
 * Public API of the GLPI simulator (GLPI 10.0.3 or 11.0.8 behaviour) (test support and `npm run glpi-sim`). Client, sync, ops and
 * bench tests code against this; the implementation lives beside it (server.ts and friends).
 */

/** The GLPI behaviours the simulator knows, as observed on these real versions. */
export const SIM_GLPI_VERSIONS = ['10.0.3', '11.0.8'] as const;
export type SimGlpiVersion = (typeof SIM_GLPI_VERSIONS)[number];

export type SimProfile = 'super-admin' | 'self-service';

export interface SimUserToken {
  /** GLPI users.id the token logs in as. */
  userId: number;
  profile: SimProfile;
}

export interface GlpiSimulatorOptions {
  /** Which GLPI to behave like (tokens, text storage, links, messages). Default '10.0.3'. */
  version?: SimGlpiVersion;
  /** App-Token the API client requires; null/undefined = the API client has none (App-Token optional). */
  appToken?: string | null;
  /** user_token -> user. Default: 'admin-user-token' -> user 2 "glpi" super-admin, 'selfservice-user-token' -> user 5 "post-only" self-service. */
  userTokens?: Record<string, SimUserToken>;
  /** Latency added to every answer, ms. */
  latencyMs?: number;
  /** Port to listen on (default 0 = random), always on 127.0.0.1. */
  port?: number;
  /** Server's local time zone offset for stored dates, minutes east of UTC (GLPI stores local time). Default 0. */
  timezoneOffsetMin?: number;
  /**
   * Added: login -> password and user for Basic / login+password initSession. Unset (default) = GLPI's
   * default `enable_api_login_credentials=0`: any credentials get ERROR_LOGIN_WITH_CREDENTIALS_DISABLED.
   */
  credentials?: Record<string, SimUserToken & { password: string }>;
}

export type SimFault = (
  | { kind: 'status'; status: 500 | 502 | 503 | 504 | 429 }
  | { kind: 'reset' }
  | { kind: 'empty200' }
  | { kind: 'php-fatal' }
  | { kind: 'hang' }
) & {
  /**
   * Added: apply the fault after GLPI processed the request (the item IS created/updated, only the
   * answer is lost or broken), the case at-least-once delivery must survive. Default: before (nothing happens).
   */
  afterCommit?: boolean;
};

export interface SimCall {
  method: string;
  /** Path after /apirest.php, with ids replaced: "/Ticket/:id/ITILFollowup". */
  endpoint: string;
  /** Real path and query. */
  path: string;
  status: number;
}

export interface SimRow extends Record<string, unknown> {
  id: number;
}

export interface SimState {
  users: SimRow[];
  useremails: SimRow[];
  contacts: SimRow[];
  tickets: SimRow[];
  ticketUsers: SimRow[];
  /** In creation order. */
  followups: SimRow[];
  solutions: SimRow[];
  documents: SimRow[];
  documentItems: SimRow[];
  entities: SimRow[];
  categories: SimRow[];
  /** Added: GLPI profiles (1 Self-Service helpdesk, 4 Super-Admin central, 6 Technician central). */
  profiles: SimRow[];
  /** Added: a user's profile in an entity; push rows here to make a user a technician. */
  profileUsers: SimRow[];
  /** Open session tokens. */
  sessions: string[];
}

export interface GlpiSimulator {
  /** API base with trailing slash: "http://127.0.0.1:PORT/apirest.php/". */
  readonly url: string;
  readonly port: number;
  readonly version: SimGlpiVersion;
  readonly state: SimState;
  readonly calls: SimCall[];
  /** Calls matching a method and endpoint template, e.g. count('POST', '/Ticket/:id/ITILFollowup'). */
  count(method?: string, endpoint?: string): number;
  resetCalls(): void;
  /** Mean time from a request's arrival to its answer's last byte since the last resetCalls() (null before any): GLPI's own latency, without the client's. */
  meanResponseMs(): number | null;
  /** Followups of a ticket in the order GLPI shows them (by date, then id). */
  followupsOf(ticketId: number): SimRow[];

  setLatency(ms: number): void;
  /** The next `times` requests (any endpoint, or only those matching `endpoint`) fail this way. */
  failNext(fault: SimFault, times?: number, endpoint?: string): void;
  /** Every request fails this way until clearFaults() (a GLPI outage). */
  failAll(fault: SimFault): void;
  clearFaults(): void;
  /** Invalidate every open session (PHP session GC): next call gets 401 ERROR_SESSION_TOKEN_INVALID. */
  expireSessions(): void;
  setApiEnabled(enabled: boolean): void;
  /** Simulate the API client IP filter refusing the caller (400 ERROR_NOT_ALLOWED_IP). */
  setIpAllowed(allowed: boolean): void;
  /** Give or take a right from a profile, e.g. setRight('self-service', 'User', 'create', true). */
  setRight(profile: SimProfile, itemtype: string, right: 'read' | 'create' | 'update' | 'delete', allowed: boolean): void;

  close(): Promise<void>;
}
