import { afterEach, describe, expect, it } from 'vitest';
import {
  findContactByEmail,
  findContactByPhone,
  findUserByEmail,
  findUserByLogin,
  findUserByPhone,
} from '../../src/glpi/finders.js';
import { normalizePhone } from '../../src/glpi/phone.js';
import { clientFor, createMockGlpi, withSession, type MockGlpi, type MockRequest } from './mock-glpi.js';

let mock: MockGlpi | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

describe('normalizePhone', () => {
  it.each([
    ['+33 6 12 34 56 78', undefined, '+33612345678'],
    ['+33 (0)6 12 34 56 78', undefined, '+33612345678'],
    ['06.12.34.56.78', 'FR', '+33612345678'],
    ['0033 6 12 34 56 78', undefined, '+33612345678'],
    ['0033612345678', 'FR', '+33612345678'],
    ['(11) 91234-5678', 'BR', '+5511912345678'],
    ['+55 11 91234-5678', undefined, '+5511912345678'],
  ] as const)('reads %s (region %s) as %s', (raw, region, e164) => {
    expect(normalizePhone(raw, region)).toBe(e164);
  });

  it.each([['06.12.34.56.78', undefined], ['5511912345678', undefined], ['+33 12', undefined], ['', 'FR'], ['n/a', 'FR'], [null, 'FR']] as const)(
    'cannot read %s (region %s)',
    (raw, region) => {
      expect(normalizePhone(raw, region)).toBeUndefined();
    },
  );
});

/** A fake GLPI search over a few rows: `contains` as GLPI's LIKE (`%` wildcard, ^/$ anchors), OR/AND links. */
function searchRoute(rows: Record<string, unknown>[]) {
  return (req: MockRequest) => {
    const criteria: { field: string; value: string; link: string }[] = [];
    for (let i = 0; req.query.has(`criteria[${i}][field]`); i += 1) {
      criteria.push({
        field: req.query.get(`criteria[${i}][field]`) ?? '',
        value: req.query.get(`criteria[${i}][value]`) ?? '',
        link: req.query.get(`criteria[${i}][link]`) ?? 'AND',
      });
    }
    const like = (value: string, cell: unknown): boolean => {
      let v = value.trim();
      v = v.startsWith('^') ? v.slice(1) : `%${v}`;
      v = v.endsWith('$') ? v.slice(0, -1) : `${v}%`;
      const re = new RegExp(`^${v.split('%').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
      return (Array.isArray(cell) ? cell : [cell]).some((c) => typeof c === 'string' && re.test(c));
    };
    const hits = rows.filter((row) =>
      criteria.reduce<boolean>((acc, c, i) => {
        const ok = like(c.value, row[c.field]);
        if (i === 0) return ok;
        return c.link === 'OR' ? acc || ok : acc && ok;
      }, true),
    );
    const [start, end] = (req.query.get('range') ?? '0-49').split('-').map(Number) as [number, number];
    const page = hits.slice(start, end + 1);
    if (hits.length === 0) return { status: 200, json: { totalcount: 0, count: 0, 'content-range': '0--1/0' } };
    return { status: page.length < hits.length ? 206 : 200, json: { totalcount: hits.length, count: page.length, data: page } };
  };
}

describe('finders', () => {
  const users = [
    { '2': 7, '1': 'jdoe', '5': ['john.doe@example.com', 'jd@alt.example.org'], '6': '', '10': null, '11': '06.12.34.56.78' },
    { '2': 9, '1': 'jdoe2', '5': 'John.Doe@Example.com', '6': '+33 6 12 34 56 78' },
    { '2': 8, '1': 'asmith', '5': 'alice.smith@example.com', '6': '+55 11 91234-5678', '11': '' },
    { '2': 12, '1': 'other', '5': 'johnXdoe@example.com', '6': '06 12 34 56 79 00' },
  ];

  it('finds a user by any of its e-mails, case-insensitively, with one search call', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, searchRoute(users));
    const { client } = clientFor(mock);
    await expect(findUserByEmail(client, 'jd@alt.example.org')).resolves.toBe(7);
    // Two users share the address: the oldest wins, deterministically.
    await expect(findUserByEmail(client, ' JOHN.DOE@example.com ')).resolves.toBe(7);
    await expect(findUserByEmail(client, 'nobody@example.com')).resolves.toBeUndefined();
    await expect(findUserByEmail(client, 'not-an-email')).resolves.toBeUndefined();
    expect(mock.count('GET', 'search/User')).toBe(3);
    const req = mock.requests.find((r) => r.resource === 'search/User');
    expect(req?.query.get('criteria[0][field]')).toBe('5');
    expect(req?.query.get('criteria[0][value]')).toBe('^jd@alt.example.org$');
  });

  it('does not take a LIKE over-match for the address', async () => {
    mock = createMockGlpi();
    // GLPI answers a row whose address only matches the pattern, not the value.
    mock.route = withSession(mock, () => ({ status: 200, json: { totalcount: 1, count: 1, data: [{ '2': 3, '5': 'a_b@example.com' }] } }));
    const { client } = clientFor(mock);
    await expect(findUserByEmail(client, 'a%b@example.com')).resolves.toBeUndefined();
  });

  it('finds a user by phone however GLPI stores it, comparing E.164 values', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, searchRoute(users));
    const { client } = clientFor(mock);
    // Stored as "06.12.34.56.78" (user 7, mobile) and "+33 6 12 34 56 78" (user 9): both are this number.
    await expect(findUserByPhone(client, '+33612345678', 'FR')).resolves.toBe(7);
    await expect(findUserByPhone(client, '+33612345678')).resolves.toBe(7);
    await expect(findUserByPhone(client, '06 12 34 56 78', 'FR')).resolves.toBe(7);
    await expect(findUserByPhone(client, '+5511912345678', 'FR')).resolves.toBe(8);
    // Digits in order but a longer number: a candidate GLPI returns, refused after normalising.
    await expect(findUserByPhone(client, '+33612345679')).resolves.toBeUndefined();
    await expect(findUserByPhone(client, 'unknown')).resolves.toBeUndefined();
    const req = mock.requests.find((r) => r.resource === 'search/User');
    expect(req?.query.get('criteria[0][field]')).toBe('6');
    expect(req?.query.get('criteria[1][field]')).toBe('10');
    expect(req?.query.get('criteria[1][link]')).toBe('OR');
    expect(req?.query.get('criteria[2][field]')).toBe('11');
    expect(req?.query.get('criteria[0][value]')).toBe('6%1%2%3%4%5%6%7%8');
  });

  it('finds a contact by e-mail (option 6) and by phone (options 3, 4, 10)', async () => {
    const contacts = [
      { '2': 4, '6': 'c@example.com', '3': '', '4': '', '10': '+33 6 12 34 56 78' },
      { '2': 5, '6': 'd@example.com', '3': '01 23 45 67 89', '4': '', '10': '' },
    ];
    mock = createMockGlpi();
    mock.route = withSession(mock, searchRoute(contacts));
    const { client } = clientFor(mock);
    await expect(findContactByEmail(client, 'd@example.com')).resolves.toBe(5);
    await expect(findContactByPhone(client, '+33612345678')).resolves.toBe(4);
    await expect(findContactByPhone(client, '0123456789', 'FR')).resolves.toBe(5);
    const phoneReq = mock.requests.filter((r) => r.resource === 'search/Contact')[1];
    expect([0, 1, 2].map((i) => phoneReq?.query.get(`criteria[${i}][field]`))).toEqual(['3', '4', '10']);
    expect(mock.requests.find((r) => r.resource === 'search/Contact')?.query.get('criteria[0][field]')).toBe('6');
  });

  it('finds a user by login', async () => {
    mock = createMockGlpi();
    mock.route = withSession(mock, searchRoute(users));
    const { client } = clientFor(mock);
    await expect(findUserByLogin(client, 'ASMITH')).resolves.toBe(8);
    await expect(findUserByLogin(client, 'smith')).resolves.toBeUndefined();
  });

  it('looks at further pages of candidates', async () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ '2': 1000 - i, '6': `+33 6 12 34 56 78 ${i}` }));
    many.push({ '2': 5000, '6': '+33 6 12 34 56 78' });
    mock = createMockGlpi();
    mock.route = withSession(mock, searchRoute(many));
    const { client } = clientFor(mock);
    await expect(findUserByPhone(client, '+33612345678')).resolves.toBe(5000);
    expect(mock.count('GET', 'search/User')).toBe(3);
  });
});
