import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Queue } from 'bullmq';
import type { InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSyncedEvent, parseChatwootEvent } from '../../src/chatwoot/events.js';
import { sign } from '../../src/chatwoot/signature.js';
import { SYNC_QUEUE_NAME } from '../../src/queue/job.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createSyncWorker, type SyncJobDataWithFailure } from '../../src/queue/worker.js';
import { startTestApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';
import { REDIS_URL, waitFor } from '../support/redis.js';
import { startHarness } from '../sync/support.js';
import { signedHeaders } from './support.js';

/**
 * Hostile input: 20,000 malformed, truncated, oversized, wrongly typed and deeply nested bodies,
 * hostile attachments, dates, numbers and query strings, odd header combinations and replayed
 * signatures, signed (so they reach the parser) and unsigned. Every answer must be classified: 4xx
 * with a message for refused input (never a 5xx), 200 ignored / 202 queued / 200 duplicate for
 * bodies that are in fact valid; nothing is enqueued for refused ones. Then every accepted job runs
 * through the worker against the GLPI simulator: none may retry or stay behind.
 * FUZZ_CASES=<n> runs a shorter corpus locally; FUZZ_SEED=<n> another one.
 */

const CASES = Number(process.env.FUZZ_CASES ?? 20_000);
const BODY_LIMIT = 65_536; // startTestApp's BODY_LIMIT_BYTES

// Deterministic corpus: a failure names its seed and case index so it can be replayed.
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_115);
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Expect = 'ok' | 400 | 401 | 404 | 413 | 414;
interface Case {
  kind: string;
  request: InjectOptions;
  /** 'ok' = decided by the schema oracle (valid → 202/200, invalid → 400). */
  expect: Expect;
  /** The JSON value the route will see, for the oracle. */
  value?: unknown;
  /** Sent again right after with these headers (same bytes): must answer 200 duplicate. */
  replay?: Record<string, string>;
}

const templates = fixtureNames()
  .filter((n) => n !== 'README.md')
  .map((n) => loadFixture(n));

const WEIRD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -0, '', ' ', 'x'.repeat(5_000), '\u0000', '\ud800', '👾'.repeat(50), '<script>', [], [null], {}, { a: 1 },
  '2026-13-45T99:99:99Z', 'NaN', Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, '58', ['incoming'], { __proto__: { polluted: true } },
];

/** What a customer can put where Chatwoot copies it: attachment URLs, names, titles. */
const HOSTILE_URLS = [
  'https://chat.example.com/%E0%A4%A', 'http://127.0.0.1:6379/', 'http://2130706433:8088/', 'http://[::1]/', 'javascript:alert(1)',
  '"><img src=x onerror=alert(1)>', 'file:///etc/passwd', '', ' ', 'not a url', '\u0000', 'https://user:pass@host/x', `https://x.example/${'a'.repeat(2_000)}`,
  'https://chat.example.com/rails/active_storage/blobs/redirect/x/capture.png', '%', '//evil.example/x',
];
const HOSTILE_DATES: unknown[] = [
  1e20, -1e20, -1, 0, 1e308, 2 ** 31, 4_102_444_800, 1.5, 1_780_000_000, '2026-05-28T09:12:40.131Z', '2100-01-01T00:00:00Z',
  '1969-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '2026-02-30T00:00:00Z', '+275760-09-13T00:00:00.000Z', 'yesterday', null,
];
const HOSTILE_NUMBERS: unknown[] = [1e20, -1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e308, 0, '1', -0, Number.MIN_VALUE, null];
const HOSTILE_QUERIES = [
  '?token=a&token=b', '?token[]=1', '?token=%zz', '?%', `?token=${'t'.repeat(5_000)}`, '?a=1&a=2&a=3', '?__proto__=1', '?token=%00', '?token=&token=',
  '?constructor=x', '?', '?token',
];

function nested(depth: number, open: string, close: string, inner = '0'): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** Every object/array path of a value, for mutation. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const path = [...prefix, Array.isArray(value) ? Number(k) : k];
      out.push(path);
      paths(v, path, out);
    }
  }
  return out;
}

function setPath(root: unknown, path: (string | number)[], value: unknown, remove: boolean): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    node = node[key] as Record<string | number, unknown>;
    if (node === null || typeof node !== 'object') return; // an earlier mutation replaced a parent
  }
  const last = path[path.length - 1] as string | number;
  if (remove) delete node[last];
  else node[last] = value;
}

/** The corpus, generated lazily in order (a seed and an index still name each case). */
function* corpusOf(count: number): Generator<Case> {
  const rand = prng(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const int = (n: number) => Math.floor(rand() * n);
  let messageId = 5_000_000;
  const fresh = () => {
    const t = structuredClone<Record<string, unknown>>(pick(templates));
    // Distinct ids, so content dedupe does not turn a valid body into a duplicate.
    if (typeof t.id === 'number') t.id = (messageId += 1);
    return t;
  };
  const signed = (kind: string, body: string | Buffer, expect: Expect, _value?: unknown, extra: Record<string, string> = {}): Case => ({
    kind,
    expect,
    // The oracle reads exactly what the route will parse (JSON drops undefined, turns -0 into 0...).
    value: expect === 'ok' ? JSON.parse(body.toString()) : undefined,
    request: { method: 'POST', url: '/webhooks/chatwoot/acme', headers: { ...signedHeaders(TEST_SECRET, body), ...extra }, payload: body },
  });

  const signedValue = (kind: string, value: unknown): Case => {
    const body = JSON.stringify(value);
    return Buffer.byteLength(body) > BODY_LIMIT ? signed('oversized', body, 413) : signed(kind, body, 'ok', value);
  };
  const attachmentTemplate = loadFixture('message_created.attachment');

  const generators: (() => Case)[] = [
    // Not JSON at all.
    () => {
      const bytes = Buffer.from(Array.from({ length: 1 + int(400) }, () => int(256)));
      return signed('random bytes', bytes, 400);
    },
    // Truncated valid bodies: a proper prefix of a JSON object is never JSON.
    () => {
      const text = JSON.stringify(fresh());
      return signed('truncated', text.slice(0, int(text.length - 1)), 400);
    },
    () => signed('empty body', '', 400),
    () => signed('BOM then JSON', `\ufeff${JSON.stringify(fresh())}`, 400),
    () => signed('invalid UTF-8 in a string', Buffer.concat([Buffer.from('{"event":"message_created","content":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), 400, null),
    // JSON that is not an object, or has no usable event name.
    () => {
      const value = pick<unknown>([null, 1, 'message_created', [], [fresh()], true]);
      return signed('not an object', JSON.stringify(value), 400);
    },
    () => {
      const t = fresh();
      t.event = pick<unknown>([undefined, null, 1, '', ['message_created'], { name: 'message_created' }]);
      return signed('bad event name', JSON.stringify(t), 400);
    },
    () => {
      const t = fresh();
      t.event = pick(['message_deleted', 'conversation_typing_off', 'x'.repeat(2_000), 'Message_Created', 'constructor', '__proto__']);
      return signed('unknown event', JSON.stringify(t), 'ok', t);
    },
    // Wrongly typed / missing fields somewhere in a real payload: the schema oracle classifies.
    () => {
      const t = fresh();
      const all = paths(t).filter((p) => p[0] !== 'event');
      for (let i = 0, n = 1 + int(3); i < n && all.length > 0; i += 1) setPath(t, pick(all), pick(WEIRD_VALUES), rand() < 0.25);
      return signed('mutated field', JSON.stringify(t), 'ok', t);
    },
    // Prototype keys and duplicated keys (JSON.parse keeps the last).
    () => {
      const t = fresh();
      const text = JSON.stringify(t).replace(/^\{/, '{"__proto__":{"event":"x","polluted":1},"constructor":{"prototype":{"polluted":1}},');
      return signed('prototype keys', text, 'ok', JSON.parse(text));
    },
    () => {
      const t = fresh();
      const text = JSON.stringify(t).replace(/^\{/, '{"event":"conversation_typing_on","id":"dup",');
      return signed('duplicated keys', text, 'ok', JSON.parse(text));
    },
    // Deeply nested: over the depth cap anywhere is a 400; within it, the schema decides.
    () => {
      const [open, close] = pick([['[', ']'], ['{"a":', '}']] as const);
      // Deep, but within BODY_LIMIT_BYTES so the depth check (not the size limit) is what refuses it.
      const depth = 65 + int(Math.floor((BODY_LIMIT - 4_000) / (open.length + close.length)) - 65);
      const where = pick(['content_attributes_extra', 'content_attributes', 'conversation']);
      const text = JSON.stringify(fresh()).replace(/^\{/, `{"${where}":${nested(depth, open, close)},`);
      // A large template plus the nesting may still pass the size limit: then that answers first.
      return signed('deep nesting', text, Buffer.byteLength(text) > BODY_LIMIT ? 413 : 400);
    },
    () => {
      const depth = 1 + int(40);
      const text = JSON.stringify(fresh()).replace(/^\{/, `{"extra":${nested(depth, '[', ']')},`);
      return signed('shallow nesting', text, 'ok', JSON.parse(text));
    },
    () => signed('deep array body', nested(200_000 + int(10_000), '[', ']').slice(0, BODY_LIMIT - 10), 400),
    // Oversized (over BODY_LIMIT_BYTES) and large-but-allowed strings.
    () => {
      const t = fresh();
      t.content = 'y'.repeat(BODY_LIMIT + int(200_000));
      return signed('oversized', JSON.stringify(t), 413);
    },
    () => {
      const t = fresh();
      t.content = pick(['z', '\u202e', '🙂', '\\', '"']).repeat(1 + int(8_000));
      return signed('large content', JSON.stringify(t), 'ok', t);
    },
    // Header combinations on a valid body.
    () => {
      const body = JSON.stringify(fresh());
      const good = signedHeaders(TEST_SECRET, body);
      const ts = good['x-chatwoot-timestamp'] as string;
      const variants: Record<string, string | undefined>[] = [
        { 'x-chatwoot-signature': undefined },
        { 'x-chatwoot-timestamp': undefined },
        { 'x-chatwoot-signature': '' },
        { 'x-chatwoot-signature': (good['x-chatwoot-signature'] as string).slice(7) },
        { 'x-chatwoot-signature': `sha1=${(good['x-chatwoot-signature'] as string).slice(7)}` },
        { 'x-chatwoot-signature': `${good['x-chatwoot-signature'] as string}00` },
        { 'x-chatwoot-signature': `sha256=${'g'.repeat(64)}` },
        { 'x-chatwoot-signature': sign('wrong-secret', ts, body) },
        { 'x-chatwoot-signature': sign(TEST_SECRET, ts, `${body} `) },
        { 'x-chatwoot-timestamp': pick(['NaN', '-1', '1e9', '1.5', '0', '99999999999999', ' ', `${ts}abc`]) },
        { 'x-chatwoot-timestamp': String(Number(ts) - 301 - int(100_000)) },
        { 'x-chatwoot-timestamp': String(Number(ts) + 301 + int(100_000)) },
        { 'x-chatwoot-signature': 'sha256=' + 'a'.repeat(100_000) },
      ];
      const variant = pick(variants);
      const headers: Record<string, string> = { ...good };
      for (const [k, v] of Object.entries(variant)) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      return { kind: 'bad auth headers', expect: 401, request: { method: 'POST', url: '/webhooks/chatwoot/acme', headers, payload: body } };
    },
    () => {
      // Odd but harmless headers: the signature still holds, so the body decides.
      const t = fresh();
      const body = JSON.stringify(t);
      const extra = pick<Record<string, string>>([
        { 'content-type': 'text/plain' },
        { 'content-type': 'application/x-www-form-urlencoded' },
        { 'content-type': 'multipart/form-data; boundary=x' },
        { 'content-type': 'application/json; charset=latin1' },
        { 'x-chatwoot-delivery': 'a:b/c?d' },
        { 'x-chatwoot-delivery': 'é'.repeat(300) },
        { 'x-chatwoot-delivery': '' },
        { 'x-forwarded-for': '1.2.3.4, <script>' },
        { 'content-encoding': 'identity' },
        { 'x-chatwoot-signature-2': 'sha256=00' },
      ]);
      return signed('odd headers', body, 'ok', t, extra);
    },
    () => {
      // Fastify refuses path parameters over 100 characters before routing: 414 URI Too Long.
      const body = JSON.stringify(fresh());
      return { kind: 'overlong hook id', expect: 414, request: { method: 'POST', url: `/webhooks/chatwoot/${'a'.repeat(101 + int(3_000))}`, headers: signedHeaders(TEST_SECRET, body), payload: body } };
    },
    // Attachments: hostile URLs, types, sizes, up to a hundred per message.
    () => {
      const t = structuredClone(attachmentTemplate);
      t.id = messageId += 1;
      const count = pick([0, 1, 3, 20, 100]);
      const attachment = (i: number) => ({
        id: pick<unknown>([i, -1, 1e20, 'x']),
        file_type: pick<unknown>(['image', 'file', 'location', 'fallback', 'audio', 'video', 'x', '', null]),
        data_url: pick<unknown>(HOSTILE_URLS),
        thumb_url: pick<unknown>(HOSTILE_URLS),
        file_size: pick<unknown>(HOSTILE_NUMBERS),
        extension: pick<unknown>([null, 'png', '../../x', '<b>']),
        content_type: pick<unknown>([null, 'text/html', 'image/png; x', 'application/x-msdownload']),
        fallback_title: pick<unknown>([null, '<b>x</b>', '"><script>', 'x'.repeat(300)]),
        coordinates_lat: pick<unknown>([null, 48.85, 1e308, -91]),
        coordinates_long: pick<unknown>([null, 2.35, -1e308]),
      });
      t.attachments = Array.from({ length: count }, (_, i) => attachment(i));
      const conversation = t.conversation as { messages?: { attachments?: unknown[] }[] } | undefined;
      const pushed = conversation?.messages?.[0];
      if (pushed !== undefined && rand() < 0.5) pushed.attachments = Array.from({ length: Math.min(count, 5) }, (_, i) => attachment(i));
      return signedValue('hostile attachments', t);
    },
    // Dates anywhere a date lives: out of range, negative, not dates at all.
    () => {
      const t = fresh();
      const dated = paths(t).filter((p) => /(_at|_until)$/.test(String(p[p.length - 1])));
      for (let i = 0, n = 1 + int(3); i < n && dated.length > 0; i += 1) setPath(t, pick(dated), pick(HOSTILE_DATES), false);
      return signedValue('hostile dates', t);
    },
    // Ids and numbers: huge, negative, fractional, strings; and 1e400 (Infinity once parsed).
    () => {
      const t = fresh();
      const numeric = paths(t).filter((p) => /(^id|_id|_size|priority)$/.test(String(p[p.length - 1])));
      for (let i = 0, n = 1 + int(3); i < n && numeric.length > 0; i += 1) setPath(t, pick(numeric), pick(HOSTILE_NUMBERS), false);
      const text = rand() < 0.3 ? JSON.stringify(t).replace(/"id":[^,}\]]+/, `"id":${pick(['1e400', '-1e400', '1e20', '123456789012345678901234567890'])}`) : JSON.stringify(t);
      return signed(text.length > BODY_LIMIT ? 'oversized' : 'hostile numbers', text, text.length > BODY_LIMIT ? 413 : 'ok');
    },
    // Query strings on a correctly signed body: a repeated token is refused, anything else is noise.
    () => {
      const t = fresh();
      const body = JSON.stringify(t);
      const query = pick(HOSTILE_QUERIES);
      const repeated = (query.match(/(^|[?&])token=/g) ?? []).length > 1;
      return {
        kind: 'hostile query',
        expect: repeated ? 400 : 'ok',
        value: JSON.parse(body),
        request: { method: 'POST', url: `/webhooks/chatwoot/acme${query}`, headers: signedHeaders(TEST_SECRET, body), payload: body },
      };
    },
    // The same signed bytes again under a new or no delivery id: a duplicate, never a second job.
    () => {
      const t = fresh();
      const body = JSON.stringify(t);
      const headers = signedHeaders(TEST_SECRET, body);
      const again: Record<string, string> = { ...headers, 'x-chatwoot-delivery': `replayed-${int(1e9)}` };
      if (rand() < 0.5) delete again['x-chatwoot-delivery'];
      return { kind: 'replayed signature', expect: 'ok', value: JSON.parse(body), replay: again, request: { method: 'POST', url: '/webhooks/chatwoot/acme', headers, payload: body } };
    },
    // Unsigned bodies of every kind: always 401, never parsed.
    () => {
      const body = pick([JSON.stringify(fresh()), '{', '', nested(5_000, '[', ']'), 'null']);
      return { kind: 'unsigned', expect: 401, request: { method: 'POST', url: `/webhooks/chatwoot/acme${pick(['', '?token=', '?token=abc', '?token[]=1&token=2'])}`, headers: { 'content-type': 'application/json' }, payload: body } };
    },
    // Unknown hooks, including hostile ids.
    () => {
      const hook = pick(['nope', '..%2F..%2Fetc', '%00', 'ACME', '%F0%9F%91%BE', 'acme%20']);
      const body = JSON.stringify(fresh());
      return { kind: 'unknown hook', expect: 404, request: { method: 'POST', url: `/webhooks/chatwoot/${hook}`, headers: signedHeaders(TEST_SECRET, body), payload: body } };
    },
  ];

  for (let i = 0; i < count; i += 1) yield pick(generators)();
}

type Outcome = { status: 'queued' | 'duplicate' | 'ignored'; id?: string };

/** What the contract says for a signed JSON body the route can parse. */
function oracle(value: unknown): 'accepted' | 'ignored' | 400 {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 400;
  const event = (value as { event?: unknown }).event;
  if (typeof event !== 'string' || event === '') return 400;
  if (!isSyncedEvent(event)) return 'ignored';
  return parseChatwootEvent(value).ok ? 'accepted' : 400;
}

const exposeGc = (): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
};

describe('hostile input to the webhook route', () => {
  let t: TestApp;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  let inspect: Queue<SyncJobData>;
  let inspectConnection: Redis;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    t = await startTestApp();
    inspectConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    inspect = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: inspectConnection, prefix: t.keys.bullPrefix });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await inspect?.close();
    inspectConnection?.disconnect();
    await t?.close();
  });

  it(`classifies ${CASES} malformed, truncated, oversized, mistyped and nested requests, enqueues only valid ones, and keeps memory flat`, async () => {
    const corpus = corpusOf(CASES);
    const take = (n: number): Case[] => Array.from({ length: n }, () => corpus.next().value as Case);
    const acceptedIds = new Set<string>();
    const problems: string[] = [];
    const tally: Record<string, number> = {};
    const gc = exposeGc();

    const run = async (cases: Case[], offset: number) => {
      for (const [i, c] of cases.entries()) {
        const res = await t.app.inject(c.request);
        const where = `case ${offset + i} (${c.kind}, seed ${SEED})`;
        tally[`${c.kind} -> ${res.statusCode}`] = (tally[`${c.kind} -> ${res.statusCode}`] ?? 0) + 1;
        let body: Record<string, unknown>;
        try {
          body = res.json<Record<string, unknown>>();
        } catch {
          problems.push(`${where}: answer is not JSON: ${res.statusCode} ${res.body.slice(0, 100)}`);
          continue;
        }
        const expected = c.expect === 'ok' ? oracle(c.value) : c.expect;
        if (res.statusCode >= 400) {
          if (typeof body.message !== 'string' || body.message.length < 5 || typeof body.error !== 'string') {
            problems.push(`${where}: ${res.statusCode} without a clear message: ${res.body.slice(0, 200)}`);
          }
          if (res.statusCode !== expected) problems.push(`${where}: expected ${String(expected)}, got ${res.statusCode}: ${res.body.slice(0, 200)}`);
          continue;
        }
        const outcome = body as Outcome;
        // Spooled (Redis too slow to answer on a busy machine): still accepted, just not deduped yet.
        const spooled = outcome.status === 'queued' && (body as { spooled?: boolean }).spooled === true;
        if (c.replay !== undefined && res.statusCode === 202) {
          const again = await t.app.inject({ ...c.request, headers: c.replay });
          const second = again.json<Outcome & { spooled?: boolean }>();
          if (second.spooled === true || spooled) {
            if (typeof second.id === 'string') acceptedIds.add(second.id);
          } else if (!(again.statusCode === 200 && second.status === 'duplicate')) {
            problems.push(`${where}: replayed signed bytes answered ${again.statusCode} ${again.body.slice(0, 200)}`);
          }
        }
        if (res.statusCode >= 500) problems.push(`${where}: ${res.statusCode}`);
        if (expected === 'ignored' && !(res.statusCode === 200 && outcome.status === 'ignored')) {
          problems.push(`${where}: expected 200 ignored, got ${res.statusCode} ${res.body.slice(0, 200)}`);
        } else if (expected === 'accepted') {
          if (res.statusCode === 202 && outcome.status === 'queued' && typeof outcome.id === 'string') acceptedIds.add(outcome.id);
          else if (!(res.statusCode === 200 && outcome.status === 'duplicate')) problems.push(`${where}: expected 202/200 duplicate, got ${res.statusCode} ${res.body.slice(0, 200)}`);
        } else if (typeof expected === 'number') {
          problems.push(`${where}: expected ${expected}, got ${res.statusCode} ${res.body.slice(0, 200)}`);
        }
      }
    };

    // In chunks, so the corpus is never all in memory at once.
    const runChunked = async (from: number, to: number) => {
      for (let at = from; at < to; at += 500) await run(take(Math.min(500, to - at)), at);
    };
    const half = Math.floor(CASES / 2);
    // Warm-up (JIT, pools) before the first measurement.
    await runChunked(0, 200);
    gc();
    const heapAfterWarmup = process.memoryUsage().heapUsed;
    await runChunked(200, half);
    t.logLines.length = 0; // the captured log is the test's own buffer, not the app's memory
    gc();
    const heapAfterFirstHalf = process.memoryUsage().heapUsed;
    await runChunked(half, CASES);
    t.logLines.length = 0;
    gc();
    const heapAfterSecondHalf = process.memoryUsage().heapUsed;

    expect(problems.slice(0, 20)).toEqual([]);
    expect(unhandled).toEqual([]);
    // Every kind of case was exercised, and both refused and accepted answers happened.
    expect(Object.keys(tally).some((k) => k.endsWith('-> 202'))).toBe(true);
    expect(Object.keys(tally).some((k) => k.startsWith('deep nesting -> 400'))).toBe(true);
    expect(Object.keys(tally).some((k) => k.startsWith('oversized -> 413'))).toBe(true);

    // Nothing enqueued for refused requests: the queue holds exactly the accepted jobs. Listed over
    // a connection of its own: the producer's has a 2 s command timeout, too short for thousands.
    // Spooled ones first go to the queue (bounded: the drain is retried at most 100 times).
    // Bounded by progress, not by speed: on a busy machine each drain may time out part-way (the
    // producer's short command timeout); it gives up only when the spool stopped shrinking for 60 s.
    {
      let fewest = Number.POSITIVE_INFINITY;
      let idlePolls = 0;
      for (;;) {
        const left = await t.ingest.drainSpool().catch(() => Number.POSITIVE_INFINITY);
        if (left === 0) break;
        idlePolls = left < fewest ? 0 : idlePolls + 1;
        fewest = Math.min(fewest, left);
        if (idlePolls >= 120) throw new Error(`the disk spool stopped draining with ${fewest} event(s) left`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    const jobs = await inspect.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    expect(new Set(jobs.map((j) => j.id))).toEqual(acceptedIds);
    expect(jobs.length).toBe(acceptedIds.size);
    expect(await t.spool.size()).toBe(0);

    // Flat memory: a leak per request would show as growth over the second half of the requests. The
    // bound is generous (GC timing, lazy pools); a real leak of even 10 KB per request breaks it.
    const growthMiB = (heapAfterSecondHalf - heapAfterFirstHalf) / 1024 / 1024;
    expect(growthMiB, `heap ${(heapAfterWarmup / 2 ** 20).toFixed(1)} -> ${(heapAfterFirstHalf / 2 ** 20).toFixed(1)} -> ${(heapAfterSecondHalf / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(15);

    // Every accepted job through the real worker and the GLPI simulator: each one completes or
    // fails for good at its first attempt (a permanent code, replayable); none retries or stays.
    const h = await startHarness();
    const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = createSyncWorker({
      connection: workerConnection,
      prefix: t.prefix,
      concurrency: 8,
      processor: h.makeProcessor({ keys: t.keys }),
      logger: pino({ level: 'silent' }),
      metrics: h.metrics,
      lockRetryDelayMs: 20,
      closeTimeoutMs: 5_000,
    });
    // Counted as they happen: the queue keeps only the last 1,000 completed jobs.
    let completed = 0;
    worker.worker.on('completed', () => void (completed += 1));
    try {
      await worker.start();
      // Bounded by progress, not by speed: it gives up only when no job settled for a whole minute.
      let settled = -1;
      let idlePolls = 0;
      for (;;) {
        const counts = await inspect.getJobCounts('waiting', 'active', 'prioritized', 'failed');
        const firstTries = (await inspect.getDelayed()).filter((j) => j.attemptsMade === 0).length;
        if ((counts.waiting ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0) + firstTries === 0) break;
        const now = completed + (counts.failed ?? 0);
        idlePolls = now === settled ? idlePolls + 1 : 0;
        settled = now;
        if (idlePolls >= 120) throw new Error(`no accepted job settled for 60 s (${JSON.stringify(counts)})`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const retrying = await inspect.getDelayed();
      expect(retrying.map((j) => `${j.id}: ${j.failedReason}`).slice(0, 10)).toEqual([]);
      const failed = await inspect.getFailed();
      const notPermanent = failed.filter((j) => j.attemptsMade !== 1 || (j.data as SyncJobDataWithFailure).lastError?.disposition !== 'fail');
      expect(notPermanent.map((j) => `${j.id}: ${j.failedReason}`).slice(0, 10)).toEqual([]);
      expect(completed + failed.length).toBe(acceptedIds.size);
    } finally {
      await worker.close();
      workerConnection.disconnect();
      await h.close();
    }
    // A ceiling, not a speed requirement: 20,000 requests and their jobs take minutes on two busy
    // cores; every wait inside is bounded on its own (the worker phase by progress).
  }, 20 * 60_000);

  it('survives malformed HTTP on a real socket and still serves', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const raw = [
      'GARBAGE\r\n\r\n',
      'POST /webhooks/chatwoot/acme HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"a"',
      'POST /webhooks/chatwoot/acme HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /webhooks/chatwoot/acme HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}',
      `POST /webhooks/chatwoot/acme HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(70_000)}\r\n\r\n`,
      'POST /webhooks/chatwoot/acme HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{}',
      `POST /webhooks/chatwoot/${'%'.repeat(5_000)} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
    ];
    for (const text of raw) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        socket.setTimeout(2_000, () => socket.destroy());
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.on('data', () => socket.end());
        socket.end(text);
      });
    }
    const health = await waitFor(async () => {
      const res = await fetch(`${address}/health`).catch(() => undefined);
      return res?.status;
    }, 'health after malformed HTTP', 100);
    expect(health).toBe(200);
    expect(unhandled).toEqual([]);
  });
});
