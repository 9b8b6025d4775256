import { field } from '../util/json.js';
import { GlpiError } from '../errors/index.js';
import type { GlpiItem } from './types.js';

/**
 * Reading GLPI's successful answers: each shape the client relies on is checked here, and an
 * answer of another shape is a GLPI_UNEXPECTED_RESPONSE naming the endpoint, never a crash later.
 */

export function asRecord(value: unknown, endpoint: string, status: number): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw unexpectedAnswer(endpoint, status, 'not an object');
  return value as Record<string, unknown>;
}

export function asItem(value: unknown, endpoint: string, status: number): GlpiItem {
  const record = asRecord(value, endpoint, status);
  if (typeof record.id !== 'number') throw unexpectedAnswer(endpoint, status, 'an item without id');
  return record as GlpiItem;
}

export function asItemList(value: unknown, endpoint: string, status: number): GlpiItem[] {
  if (!Array.isArray(value)) throw unexpectedAnswer(endpoint, status, 'not a list');
  return value.map((entry: unknown) => asItem(entry, endpoint, status));
}

export function createdId(value: unknown, endpoint: string, status: number): number {
  const id = field(value, 'id');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw unexpectedAnswer(endpoint, status, 'a creation result without id');
  }
  return id;
}

export function unexpectedAnswer(endpoint: string, status: number, what: string): GlpiError {
  return new GlpiError('GLPI_UNEXPECTED_RESPONSE', `GLPI ${endpoint} answered ${status} with ${what}`, { endpoint, status });
}

/** The first per-file error of a Document upload's `upload_result`, if GLPI refused a file. */
export function uploadFailure(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  for (const files of Object.values(result)) {
    for (const file of Array.isArray(files) ? files : []) {
      const error = field(file, 'error');
      if (typeof error === 'string' && error !== '') return error;
    }
  }
  return undefined;
}

/** `Content-Range: 0-99/250` of a list page. */
export function parseContentRange(header: string | string[] | undefined): { start: number; end: number; total: number } | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^\s*(\d+)-(-?\d+)\/(\d+)\s*$/.exec(value);
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) };
}

/** `filename*=utf-8''...` (RFC 6266) when present, else `filename="..."`; undefined without either. */
export function dispositionFilename(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const extended = /filename\*\s*=\s*(?:utf-8|UTF-8)''([^;]+)/.exec(value);
  if (extended?.[1] !== undefined) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/.exec(value);
  return plain === null ? undefined : (plain[1] ?? plain[2] ?? '').trim();
}
