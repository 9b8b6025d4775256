/**
 * The contract between the GLPI client (src/glpi/client.ts) and its users (sync engine, doctor).
 * Everything here is plain data; no undici types leak out. All methods throw GlpiError
 * (src/errors/glpi-error.ts, a BridgeError) with a stable `code`, a `disposition` and `advice`.
 */

export type ItemType =
  | 'User'
  | 'UserEmail'
  | 'Contact'
  | 'Ticket'
  | 'Ticket_User'
  | 'ITILFollowup'
  | 'ITILSolution'
  | 'Document'
  | 'Document_Item'
  | 'Entity'
  | 'ITILCategory'
  | 'Profile'
  | 'Profile_User'
  | 'Webhook';

export type GlpiInput = Record<string, unknown>;
export type GlpiItem = Record<string, unknown> & { id: number };

export interface SearchCriterion {
  /** Search option id (User: 1 login, 5 email, 6 phone, 10 phone2, 11 mobile; Contact: 6 email, 3/4/10 phones; Ticket: 21 content). */
  field: number;
  searchtype: 'contains' | 'equals' | 'notequals' | 'lessthan' | 'morethan' | 'under' | 'notunder';
  value: string | number;
  link?: 'AND' | 'OR' | 'AND NOT' | 'OR NOT';
}

export interface SearchOptions {
  criteria: SearchCriterion[];
  /** Option ids to return; 2 (id) is always added. */
  forcedisplay?: number[];
  /** Inclusive range, GLPI style: [start, end]. Default [0, 49]. */
  range?: [number, number];
  /** Sort keys, first decides (`sort[0]=19&sort[1]=2`); ascending unless `order` says DESC. */
  sort?: number[];
  order?: 'ASC' | 'DESC';
}

export interface SearchResult {
  totalcount: number;
  /** One row per hit, keyed by option id as a string ("2", "5"...). Multi-valued cells are arrays. */
  rows: Record<string, unknown>[];
}

export interface UploadFile {
  filename: string;
  contentType: string;
  data: Uint8Array;
}

/** Options of GLPI's list endpoint (`GET /:itemtype`): searchText values are LIKE patterns, `^`/`$` anchor. */
export interface ListPageOptions {
  searchText?: Record<string, string>;
  /** A column of the itemtype's table. */
  sort?: string;
  order?: 'ASC' | 'DESC';
  range: [number, number];
}

/** A document's bytes as GLPI serves them, or why they were not read. */
export type DocumentDownload =
  | { kind: 'file'; data: Buffer; contentType: string | undefined; filename: string | undefined }
  | { kind: 'too-large'; bytes: number | undefined; filename: string | undefined };

/** Counted and timed per endpoint for metrics: endpoint is a template like "POST /Ticket/:id/ITILFollowup". */
export interface GlpiCallObserver {
  (call: { endpoint: string; status: number | 'network-error'; durationMs: number }): void;
}

export interface GlpiClient {
  readonly hookId: string;
  /** Cached session, created on first use; concurrent callers share one initSession. */
  ensureSession(): Promise<void>;
  /** GLPI's version ("11.0.8") learned when the session opened; undefined before, or when GLPI did not tell. */
  readonly glpiVersion: string | undefined;
  killSession(): Promise<void>;

  getItem(itemtype: ItemType, id: number): Promise<GlpiItem>;
  /** GET /:itemtype/:id/:subtype, all pages. */
  getSubItems(itemtype: ItemType, id: number, subtype: ItemType): Promise<GlpiItem[]>;
  /** GET /:itemtype, all pages (e.g. GLPI 11's Webhooks, for doctor). */
  listItems(itemtype: ItemType): Promise<GlpiItem[]>;
  addItem(itemtype: ItemType, input: GlpiInput): Promise<{ id: number }>;
  /** Bulk create; fails with GlpiError if any item failed (its message names which). */
  addItems(itemtype: ItemType, inputs: GlpiInput[]): Promise<{ id: number }[]>;
  /** POST /:itemtype/:id/:subtype (e.g. /Ticket/12/ITILFollowup). */
  addSubItem(itemtype: ItemType, id: number, subtype: ItemType, input: GlpiInput): Promise<{ id: number }>;
  updateItem(itemtype: ItemType, id: number, input: GlpiInput): Promise<void>;
  search(itemtype: ItemType, options: SearchOptions): Promise<SearchResult>;
  /**
   * One page of GET /:itemtype (e.g. the newest Document_Items of followups); total from
   * Content-Range, or, without the header, one more than the rows seen after a full page.
   */
  listPage(itemtype: ItemType, options: ListPageOptions): Promise<{ items: GlpiItem[]; total: number }>;
  /**
   * GET /Document/:id with `Accept: application/octet-stream`: the file, read up to `maxBytes`
   * (a larger one is cut off and reported, not read). `deadlineMs` bounds the whole download;
   * `signal` (the job's) aborts it.
   */
  downloadDocument(id: number, limits: { maxBytes: number; deadlineMs: number; signal?: AbortSignal }): Promise<DocumentDownload>;
  /** Multipart upload (`uploadManifest` + `filename[0]`); returns the Document id. */
  uploadDocument(file: UploadFile, input: GlpiInput): Promise<{ id: number }>;

  /** For doctor. */
  getMyEntities(): Promise<{ id: number; name: string }[]>;
  getActiveProfile(): Promise<Record<string, unknown>>;
  getFullSession(): Promise<Record<string, unknown>>;
}
