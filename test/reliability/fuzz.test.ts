import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSyncedEvent, parseChatwootEvent } from '../../src/chatwoot/events.js';
import { sign } from '../../src/chatwoot/signature.js';
import { startTestApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';
import { waitFor } from '../support/redis.js';
import { signedHeaders } from './support.js';

/**
 * Hostile input: thousands of malformed, truncated, oversized, wrongly typed and deeply nested
 * bodies with odd header combinations, signed (so they reach the parser) and unsigned. Every
 * answer must be classified: 4xx with a message for refused input, 200 ignored / 202 queued /
 * 200 duplicate for bodies that are in fact valid; nothing is enqueued for refused ones.
 */

const CASES = 3_000;
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
}

const templates = fixtureNames()
  .filter((n) => n !== 'README.md')
  .map((n) => loadFixture(n));

const WEIRD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -0, '', ' ', 'x'.repeat(5_000), '\u0000', '\ud800', '👾'.repeat(50), '<script>', [], [null], {}, { a: 1 },
  '2026-13-45T99:99:99Z', 'NaN', Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, '58', ['incoming'], { __proto__: { polluted: true } },
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

function buildCorpus(count: number): Case[] {
  const rand = prng(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const int = (n: number) => Math.floor(rand() * n);
  let messageId = 5_000_000;
  const fresh = () => {
    const t = structuredClone(pick(templates)) as Record<string, unknown>;
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
      return signed('deep nesting', text, 400);
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

  return Array.from({ length: count }, () => pick(generators)());
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

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    t = await startTestApp();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await t?.close();
  });

  it(`classifies ${CASES} malformed, truncated, oversized, mistyped and nested requests, enqueues only valid ones, and keeps memory flat`, async () => {
    const corpus = buildCorpus(CASES);
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

    const half = Math.floor(CASES / 2);
    // Warm-up (JIT, pools) before the first measurement.
    await run(corpus.slice(0, 200), 0);
    gc();
    const heapAfterWarmup = process.memoryUsage().heapUsed;
    await run(corpus.slice(200, half), 200);
    t.logLines.length = 0; // the captured log is the test's own buffer, not the app's memory
    gc();
    const heapAfterFirstHalf = process.memoryUsage().heapUsed;
    await run(corpus.slice(half), half);
    t.logLines.length = 0;
    gc();
    const heapAfterSecondHalf = process.memoryUsage().heapUsed;

    expect(problems.slice(0, 20)).toEqual([]);
    expect(unhandled).toEqual([]);
    // Every kind of case was exercised, and both refused and accepted answers happened.
    expect(Object.keys(tally).some((k) => k.endsWith('-> 202'))).toBe(true);
    expect(Object.keys(tally).some((k) => k.startsWith('deep nesting -> 400'))).toBe(true);
    expect(Object.keys(tally).some((k) => k.startsWith('oversized -> 413'))).toBe(true);

    // Nothing enqueued for refused requests: the queue holds exactly the accepted jobs.
    const jobs = await t.queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    expect(new Set(jobs.map((j) => j.id))).toEqual(acceptedIds);
    expect(jobs.length).toBe(acceptedIds.size);
    expect(await t.spool.size()).toBe(0);

    // Flat memory: a leak per request would show as growth over the second 1,500 requests. The
    // bound is generous (GC timing, lazy pools); a real leak of even 10 KB per request breaks it.
    const growthMiB = (heapAfterSecondHalf - heapAfterFirstHalf) / 1024 / 1024;
    expect(growthMiB, `heap ${(heapAfterWarmup / 2 ** 20).toFixed(1)} -> ${(heapAfterFirstHalf / 2 ** 20).toFixed(1)} -> ${(heapAfterSecondHalf / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(15);
  });

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
