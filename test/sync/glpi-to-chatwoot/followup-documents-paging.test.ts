import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { followupDocumentIndex } from '../../../src/sync/glpi-to-chatwoot/followup-documents.js';
import { clientFor, createMockGlpi, withSession, type MockGlpi } from '../../glpi/mock-glpi.js';

let mock: MockGlpi | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

describe('followup documents when GLPI sends no Content-Range', () => {
  it("reads past a full first page and finds an older followup's documents", async () => {
    const pageSize = DEFAULTS.glpiToChatwoot.documentLinkPageSize;
    // One link per followup, newest first: followup 1000 down to 1000 - (1.5 pages) + 1.
    const links = Array.from({ length: pageSize * 1.5 }, (_, i) => ({ id: 5000 + i, itemtype: 'ITILFollowup', items_id: 1000 - i, documents_id: 9000 + i }));
    mock = createMockGlpi();
    mock.route = withSession(mock, (req) => {
      if (req.resource !== 'Document_Item') return undefined;
      const [start, end] = (req.query.get('range') ?? '').split('-').map(Number) as [number, number];
      return { status: 200, json: links.slice(start, end + 1) };
    });
    const { client } = clientFor(mock);
    const index = followupDocumentIndex(client, { logger: pino({ level: 'silent' }) });
    const older = links.at(-10)!;

    await expect(index.of(older.items_id, older.items_id)).resolves.toEqual([older.documents_id]);
    expect(mock.count('GET', 'Document_Item')).toBe(2);
    expect(mock.requests.filter((r) => r.resource.startsWith('ITILFollowup/'))).toHaveLength(0);
  });
});
