import { GLPI_ERROR_CODES, GlpiError, RIGHTS_ADVICE, isGlpiOwnCode, type CatalogueEntry, type GlpiErrorOptions } from '../errors/index.js';

/**
 * Reading GLPI's error answers (`[CODE, message]` bodies) into GlpiErrors. The codes, their
 * disposition and advice are in the error catalogue (src/errors/glpi-codes.ts).
 */

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

  if (!isGlpiOwnCode(code)) return new GlpiError(code, base, { ...options, entry: unlistedCodeEntry(status) });
  if (code === 'ERROR' && API_DISABLED_MESSAGE.test(text)) {
    return new GlpiError('GLPI_API_DISABLED', base, options);
  }
  if ((code === 'ERROR_GLPI_ADD' || code === 'ERROR_GLPI_UPDATE' || code === 'ERROR_GLPI_DELETE') && !results) {
    // Same code, but a missing create/update right is a rights problem, not bad input.
    if (PERMISSION_MESSAGE.test(text)) {
      return new GlpiError(code, base, { ...options, entry: { ...GLPI_ERROR_CODES[code], category: 'permission', advice: RIGHTS_ADVICE } });
    }
    // GLPI 10 answers an update of an id it does not have with ["ERROR_GLPI_UPDATE", null].
    if (code === 'ERROR_GLPI_UPDATE' && text === '') {
      return new GlpiError(code, base, {
        ...options,
        entry: { ...GLPI_ERROR_CODES[code], category: 'not-found', advice: 'the GLPI item does not exist (deleted or purged)' },
      });
    }
  }
  return new GlpiError(code, base, options);
}

/** A code a newer GLPI may send: retried when the answer looks like a server failure. */
function unlistedCodeEntry(status: number): CatalogueEntry {
  const retry = status >= 500 || status === 429;
  return {
    disposition: retry ? 'retry' : 'fail',
    category: retry ? 'server' : 'invalid-request',
    advice: "GLPI answered with an error code the bridge does not know; see the message and GLPI's logs",
  };
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
