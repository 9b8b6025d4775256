import { afterEach, describe, expect, it } from 'vitest';
import { buildSearchQuery, cellValues, digitsInOrder, exactMatch, rowId } from '../../src/glpi/search.js';
import { decodeEntities } from '../../src/util/html.js';
import { clientFor, createMockGlpi, withSession, type MockGlpi } from './mock-glpi.js';

let mock: MockGlpi | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

/** What GLPI's Search::makeTextSearchValue does with a `contains` value (SQL LIKE pattern). */
function glpiLikePattern(value: string): string {
  let val = value.replace(/_/g, '\\_').trim();
  if (val === '^' ) return '%';
  if (val === '' || val === '^$' || val === '$') return '';
  val = val.startsWith('^') ? val.slice(1).trimStart() : `%${val}`;
  val = val.endsWith('$') ? val.slice(0, -1).trimEnd() : `${val}%`;
  return val;
}

/** MySQL LIKE (case-insensitive collation), enough to check what a pattern matches. */
function likeMatches(pattern: string, text: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      re += (pattern[i + 1] as string).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      i += 1;
    } else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is').test(text);
}

describe('exact match values', () => {
  it('anchors the value with ^...$ so GLPI drops its leading and trailing wildcards', () => {
    expect(exactMatch(' john.doe@example.com ')).toBe('^john.doe@example.com$');
    expect(glpiLikePattern(exactMatch('john.doe@example.com'))).toBe('john.doe@example.com');
  });

  it.each([
    ['john+tag@example.com', 'johnXtag@example.com'],
    ['a.b@example.com', 'aXb@example.com'],
    ['(x)[y]{z}*?|^$@example.com', 'x@example.com'],
    ['snake_case@example.com', 'snakeXcase@example.com'],
    ['null', ''],
    ['^caret@example.com', 'caret@example.com'],
    ['dollar$', 'dollar'],
  ])('takes regex and LIKE special characters in %s literally', (value, lookalike) => {
    const pattern = glpiLikePattern(exactMatch(value));
    expect(likeMatches(pattern, value)).toBe(true);
    expect(likeMatches(pattern, lookalike)).toBe(false);
    expect(likeMatches(pattern, `x${value}`)).toBe(false);
    expect(likeMatches(pattern, `${value}x`)).toBe(false);
  });

  it("turns &, < and > into wildcards (GLPI 10 stores them encoded), still matching the value as stored by either version", () => {
    const value = 'o<b>&co@example.com';
    expect(exactMatch(value)).toBe('^o%b%%co@example.com$');
    const pattern = glpiLikePattern(exactMatch(value));
    expect(likeMatches(pattern, value)).toBe(true);
    expect(likeMatches(pattern, 'o&#60;b&#62;&#38;co@example.com')).toBe(true);
  });

  it('does not backslash-escape regex characters, which LIKE would then look for', () => {
    expect(exactMatch('a.b+c@example.com')).not.toContain('\\');
  });

  it('builds a digits-in-order pattern that matches the ways people write one phone number', () => {
    const pattern = glpiLikePattern(digitsInOrder('612345678'));
    for (const written of ['+33 6 12 34 56 78', '06.12.34.56.78', '0033612345678', '+33 (0)6-12-34-56-78', '0612345678']) {
      expect(likeMatches(pattern, written)).toBe(true);
    }
    expect(likeMatches(pattern, '06 12 34 56 79')).toBe(false);
    expect(() => digitsInOrder('abc')).toThrow(/at least one digit/);
  });
});

describe('search query', () => {
  it('builds PHP bracket criteria, always displays option 2 first, and always sends a range', () => {
    const params = buildSearchQuery({
      criteria: [
        { field: 6, searchtype: 'contains', value: '1%2' },
        { field: 10, searchtype: 'contains', value: '1%2', link: 'OR' },
      ],
      forcedisplay: [6, 2, 10],
    });
    expect([...params.entries()]).toEqual([
      ['criteria[0][field]', '6'],
      ['criteria[0][searchtype]', 'contains'],
      ['criteria[0][value]', '1%2'],
      ['criteria[1][link]', 'OR'],
      ['criteria[1][field]', '10'],
      ['criteria[1][searchtype]', 'contains'],
      ['criteria[1][value]', '1%2'],
      ['forcedisplay[0]', '2'],
      ['forcedisplay[1]', '6'],
      ['forcedisplay[2]', '10'],
      ['range', '0-49'],
    ]);
  });

  it('URL-encodes values so + and % reach GLPI intact', () => {
    const query = buildSearchQuery({ criteria: [{ field: 5, searchtype: 'contains', value: '^a+b%c@x.com$' }] }).toString();
    expect(new URLSearchParams(query).get('criteria[0][value]')).toBe('^a+b%c@x.com$');
    expect(query).toContain('%2B');
  });

  it('rejects invalid fields and ranges', () => {
    expect(() => buildSearchQuery({ criteria: [{ field: 0, searchtype: 'contains', value: 'x' }] })).toThrow();
    expect(() => buildSearchQuery({ criteria: [], range: [5, 2] })).toThrow();
  });
});

describe('search results', () => {
  it('returns no rows when GLPI answers zero hits without a data key', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({
      status: 200,
      json: { totalcount: 0, count: 0, sort: ['1'], order: ['ASC'], 'content-range': '0--1/0' },
    }));
    const { client } = clientFor(mock);
    await expect(
      client.search('User', { criteria: [{ field: 5, searchtype: 'contains', value: exactMatch('nobody@example.com') }] }),
    ).resolves.toEqual({ totalcount: 0, rows: [] });
    const req = mock.requests.find((r) => r.resource === 'search/User');
    expect(req?.query.get('criteria[0][value]')).toBe('^nobody@example.com$');
    expect(req?.query.get('forcedisplay[0]')).toBe('2');
    expect(req?.query.get('range')).toBe('0-49');
  });

  it('returns a partial page (206) with the total, and multi-valued cells as arrays', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({
      status: 206,
      json: {
        totalcount: 4,
        count: 2,
        data: [
          { '1': 'jdoe', '2': 7, '5': ['john.doe@example.com', 'jd@alt.example.org'] },
          { '1': 'asmith', '2': 8, '5': 'alice.smith@example.com' },
        ],
        'content-range': '0-1/4',
      },
      headers: { 'content-range': '0-1/4' },
    }));
    const { client } = clientFor(mock);
    const result = await client.search('User', { criteria: [], forcedisplay: [5], range: [0, 1] });
    expect(result.totalcount).toBe(4);
    expect(result.rows).toHaveLength(2);
    expect(result.rows[0]?.['5']).toEqual(['john.doe@example.com', 'jd@alt.example.org']);
  });

  it('returns an empty page past the end instead of failing', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 400, json: ['ERROR_RANGE_EXCEED_TOTAL', 'Provided range exceed total count of data: 4'] }));
    const { client } = clientFor(mock);
    await expect(client.search('Ticket', { criteria: [], range: [50, 99] })).resolves.toEqual({ totalcount: 4, rows: [] });
  });

  it('fails on a search answer GLPI does not send', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, () => ({ status: 200, json: [1, 2] }));
    const { client } = clientFor(mock);
    await expect(client.search('User', { criteria: [] })).rejects.toMatchObject({ code: 'GLPI_UNEXPECTED_RESPONSE', transient: true });
  });

  it('reads cells and ids the way GLPI writes them', () => {
    expect(cellValues(['a@x.com', '', null, 'b@x.com'])).toEqual(['a@x.com', 'b@x.com']);
    // Cells arrive decoded for the GLPI version (the client's job): no second decoding here.
    expect(cellValues(' A &amp; B ')).toEqual(['A &amp; B']);
    expect(cellValues(undefined)).toEqual([]);
    expect(rowId({ '2': 7 })).toBe(7);
    expect(rowId({ '2': '8' })).toBe(8);
    expect(rowId({ '2': 'x' })).toBeUndefined();
    expect(decodeEntities('&#60;p&#62;x &lt; y&#x21;&bogus;')).toBe('<p>x < y!&bogus;');
  });
});
