import { BridgeError, type BridgeErrorOptions } from './bridge-error.js';
import type { GlpiCode } from './glpi-codes.js';
import type { CatalogueEntry } from './types.js';

export interface GlpiErrorOptions extends Omit<BridgeErrorOptions, 'advice'> {
  /** Endpoint template, e.g. "POST /Ticket/:id/ITILFollowup". */
  endpoint?: string;
  /** GLPI's own message (translated text), secrets scrubbed. */
  glpiMessage?: string;
  /** Per-item results of a bulk request (`id: false` = failed), in input order. */
  results?: { id: number | false; message: string }[];
}

/**
 * Every failure of the GLPI client. `code` is GLPI's status code when GLPI gave one, otherwise a
 * `GLPI_*` code of the bridge (src/errors/glpi-codes.ts).
 */
export class GlpiError extends BridgeError {
  readonly endpoint: string | undefined;
  readonly glpiMessage: string | undefined;
  readonly results: { id: number | false; message: string }[] | undefined;

  constructor(code: GlpiCode, message: string, options?: GlpiErrorOptions);
  /** A GLPI code the catalogue does not list (a newer GLPI): the caller says what it means. */
  constructor(code: string, message: string, options: GlpiErrorOptions & { entry: CatalogueEntry });
  constructor(code: string, message: string, options: GlpiErrorOptions = {}) {
    const { endpoint, glpiMessage, results, ...rest } = options;
    // GlpiError's overloads give BridgeError's guarantee (a listed code or an entry); BridgeError
    // resolves the entry. The cast only selects BridgeError's first overload.
    super(code as GlpiCode, message, rest);
    this.name = 'GlpiError';
    this.endpoint = endpoint;
    this.glpiMessage = glpiMessage;
    this.results = results;
  }
}

export function isGlpiError(err: unknown, code?: GlpiCode): err is GlpiError {
  return err instanceof GlpiError && (code === undefined || err.code === code);
}

/**
 * The item is gone (404 ERROR_ITEM_NOT_FOUND, or the 400 ERROR_GLPI_UPDATE with an empty message
 * GLPI 10 gives for an unknown id): the sync forgets the stored id and resolves it again.
 */
export function isGlpiNotFound(err: unknown): boolean {
  return err instanceof GlpiError && err.category === 'not-found';
}
