import { FormData, Response } from 'undici';
import { GlpiError } from '../errors/index.js';
import type { GlpiInput, ItemType, UploadFile } from './types.js';

/** Building what the client sends: ids checked, sub-items linked to their parent, uploads encoded. */

/** Sub-items linked to their parent by itemtype + items_id rather than a `<parent>s_id` column. */
const POLYMORPHIC_CHILDREN = new Set<ItemType>(['ITILFollowup', 'ITILSolution', 'Document_Item']);

export function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new GlpiError('GLPI_INVALID_ARGUMENT', `invalid GLPI id ${String(id)}`);
  }
  return id;
}

/** GLPI's foreign key for an itemtype: Ticket -> tickets_id, Entity -> entities_id. */
function foreignKeyFor(itemtype: ItemType): string {
  const lower = itemtype.toLowerCase();
  return lower.endsWith('y') ? `${lower.slice(0, -1)}ies_id` : `${lower}s_id`;
}

/** Input of a sub-item with its parent link filled from the URL's parent (the URL wins). */
export function withParentLink(parent: ItemType, parentId: number, subtype: ItemType, input: GlpiInput): GlpiInput {
  if (POLYMORPHIC_CHILDREN.has(subtype)) return { ...input, itemtype: parent, items_id: parentId };
  return { ...input, [foreignKeyFor(parent)]: parentId };
}

/**
 * GLPI's Document upload body: an `uploadManifest` form field holding the JSON input, then the
 * file as `filename[0]`, encoded by undici's own FormData. The manifest must stay a plain field
 * (a Blob would become a file GLPI does not read). Quotes, backslashes and line breaks in the
 * file name and type are replaced, so the part headers carry what the manifest says.
 */
export async function encodeDocumentUpload(manifest: unknown, file: UploadFile): Promise<{ contentType: string; data: Uint8Array }> {
  const headerSafe = (s: string) => s.replace(/[\r\n"\\]/g, '_');
  const form = new FormData();
  form.append('uploadManifest', JSON.stringify(manifest));
  form.append('filename[0]', new Blob([file.data], { type: headerSafe(file.contentType) || 'application/octet-stream' }), headerSafe(file.filename));
  const encoded = new Response(form);
  const contentType = encoded.headers.get('content-type');
  if (contentType === null) throw new GlpiError('GLPI_INVALID_ARGUMENT', 'multipart encoding produced no content type');
  return { contentType, data: new Uint8Array(await encoded.arrayBuffer()) };
}
