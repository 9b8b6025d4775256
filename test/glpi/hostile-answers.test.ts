import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, MockAgent, type Dispatcher } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GlpiError } from '../../src/errors/index.js';
import { dispositionFilename } from '../../src/glpi/answers.js';
import { GlpiTransport } from '../../src/glpi/transport.js';
import type { GlpiCallObserver } from '../../src/glpi/types.js';
import { BASE_PATH, ORIGIN, hookConfig } from './mock-glpi.js';

/** Answers a GLPI should not give, or a hostile one would: the transport stays typed and bounded. */

const TOKEN = 'session-token-0123456789';
const LIMITS = { maxBytes: 1_000, deadlineMs: 5_000 };

let agent: MockAgent;
let observed: Parameters<GlpiCallObserver>[0][];

function transport(dispatcher: Dispatcher = agent, baseUrl = `${ORIGIN}${BASE_PATH}`): GlpiTransport {
  return new GlpiTransport(hookConfig({ baseUrl }), {
    dispatcher,
    observer: (call) => observed.push(call),
    sessionToken: () => TOKEN,
  });
}

async function thrownBy(promise: Promise<unknown>): Promise<GlpiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GlpiError);
  return err as GlpiError;
}

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  observed = [];
});

afterEach(async () => {
  await agent.close();
});

describe('an error code the catalogue does not list (a newer GLPI)', () => {
  it.each([
    [400, 'fail', 'invalid-request'],
    [404, 'fail', 'invalid-request'],
    [429, 'retry', 'server'],
    [500, 'retry', 'server'],
    [503, 'retry', 'server'],
  ] as const)('answered %i: %s (%s), keeping GLPI\'s code and message', async (status, disposition, category) => {
    agent
      .get(ORIGIN)
      .intercept({ path: `${BASE_PATH}Ticket`, method: 'POST' })
      .reply(status, JSON.stringify(['ERROR_NEW_IN_GLPI_12', `refused with ${TOKEN}`]), { headers: { 'content-type': 'application/json' } });
    const err = await thrownBy(
      transport().exchange({ method: 'POST', path: 'Ticket', endpoint: 'POST /Ticket', json: { input: {} } }, { kind: 'session', token: TOKEN }),
    );
    expect(err).toMatchObject({ code: 'ERROR_NEW_IN_GLPI_12', status, disposition, category, endpoint: 'POST /Ticket' });
    expect(err.advice).toMatch(/does not know/);
    expect(err.message).not.toContain(TOKEN);
    expect(observed).toEqual([expect.objectContaining({ endpoint: 'POST /Ticket', status })]);
  });
});

describe('a document download', () => {
  const path = `${BASE_PATH}Document/7`;

  it.each([
    ['declared above the limit', { 'content-length': '5000000' }, 'x'.repeat(10), 5_000_000],
    ['undeclared, and longer than the limit', {}, 'x'.repeat(LIMITS.maxBytes + 1), undefined],
  ])('%s is too large, its name kept, its body not kept', async (_name, headers, body, bytes) => {
    agent
      .get(ORIGIN)
      .intercept({ path, method: 'GET' })
      .reply(200, body, { headers: { ...headers, 'content-type': 'application/pdf', 'content-disposition': 'attachment; filename="report.pdf"' } });
    const result = await transport().download('Document/7', 'GET /Document/:id', TOKEN, LIMITS);
    expect(result).toEqual({ kind: 'too-large', bytes, filename: 'report.pdf' });
    expect(observed).toEqual([expect.objectContaining({ endpoint: 'GET /Document/:id', status: 200 })]);
  });

  it('an error body on the download is decoded like any GLPI error, observed once', async () => {
    agent.get(ORIGIN).intercept({ path, method: 'GET' }).reply(503, JSON.stringify(['ERROR_NEW_IN_GLPI_12', 'later']));
    const err = await thrownBy(transport().download('Document/7', 'GET /Document/:id', TOKEN, LIMITS));
    expect(err).toMatchObject({ code: 'ERROR_NEW_IN_GLPI_12', disposition: 'retry' });
    expect(observed).toEqual([expect.objectContaining({ status: 503 })]);
  });

  describe('observed once the file is read', () => {
    let server: Server;
    let baseUrl: string;
    const BODY_DELAY_MS = 200;

    beforeEach(async () => {
      server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        setTimeout(() => res.end('the file'), BODY_DELAY_MS);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apirest.php/`;
    });

    afterEach(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('the duration covers the body, not only the headers', async () => {
      const dispatcher = new Agent();
      try {
        const result = await transport(dispatcher, baseUrl).download('Document/7', 'GET /Document/:id', TOKEN, LIMITS);
        expect(result).toMatchObject({ kind: 'file', contentType: 'text/plain' });
        expect(observed).toHaveLength(1);
        // Timers may fire a little early on a busy machine: a loose bound.
        expect(observed[0]?.durationMs).toBeGreaterThanOrEqual(BODY_DELAY_MS * 0.75);
      } finally {
        await dispatcher.close();
      }
    });
  });
});

describe("a download's file name", () => {
  it.each([
    ['a valid extended name', "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", 'résumé.pdf'],
    ['a malformed extended name, then a plain one', "attachment; filename*=UTF-8''%E0%A4%A; filename=\"fallback.pdf\"", 'fallback.pdf'],
    ['a plain name, then a malformed extended one', "attachment; filename=\"fallback.pdf\"; filename*=utf-8''%E0%A4%A", 'fallback.pdf'],
    ['a malformed extended name alone', "attachment; filename*=UTF-8''%E0%A4%A", undefined],
    ['a truncated escape', "attachment; filename*=UTF-8''report%2", undefined],
    ['no name', 'attachment', undefined],
  ])('%s', (_name, header, expected) => {
    expect(dispositionFilename(header)).toBe(expected);
  });
});
