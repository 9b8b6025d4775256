import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChatwootEvent, type ChatwootEvent } from '../../../src/chatwoot/events.js';
import { redisKeys } from '../../../src/redis/keys.js';
import { writeBackKeys } from '../../../src/sync/chatwoot-account.js';
import { createWriteBack } from '../../../src/sync/chatwoot-to-glpi/write-back.js';
import { createEchoCheck } from '../../../src/sync/glpi-to-chatwoot/echo.js';
import { G2cRecords } from '../../../src/sync/glpi-to-chatwoot/records.js';
import { isItemMarkerOf, isItemSourceIdOf, isNoteSourceIdOf, itemMarker, itemSourceId, noteSourceId } from '../../../src/sync/markers.js';
import { deletePrefix, testPrefix, testRedis } from '../../support/redis.js';
import { hookConfig, messageEvent } from '../support.js';

function event(type: 'incoming' | 'outgoing', extra: Record<string, unknown>): ChatwootEvent {
  const parsed = parseChatwootEvent({ ...messageEvent({ id: 58 }, { id: 9_001, type, content: 'hello', createdAt: '2026-12-01T12:00:00.000Z' }), ...extra });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.event;
}

/** The connection with its EXISTS commands counted, and how many were awaiting their reply at once at most. */
function countingExists(redis: Redis): { redis: Redis; calls: () => number; mostInFlight: () => number } {
  let calls = 0;
  let inFlight = 0;
  let most = 0;
  const wrapped = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop !== 'exists') return Reflect.get(target, prop, receiver) as unknown;
      return async (...keys: string[]) => {
        calls += 1;
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await target.exists(...keys);
        } finally {
          inFlight -= 1;
        }
      };
    },
  });
  return { redis: wrapped, calls: () => calls, mostInFlight: () => most };
}

describe("the runtime's one echo check, for both directions", () => {
  let redis: Redis;
  let prefix: string;
  const hook = hookConfig('http://127.0.0.1:9/apirest.php/');

  beforeAll(() => {
    redis = testRedis();
    prefix = testPrefix('echo');
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  function check() {
    const counted = countingExists(redis);
    const writeBack = createWriteBack({ redis: counted.redis, keyPrefix: prefix, clientFor: () => undefined });
    return { ...counted, isOwnEcho: createEchoCheck(writeBack, counted.redis, redisKeys(prefix)) };
  }

  it('looks both records up in one round trip for a private note, one lookup for a public message', async () => {
    const note = check();
    expect(await note.isOwnEcho(event('outgoing', { id: 7_001, private: true }), hook)).toBe(false);
    expect(note.calls()).toBe(2);
    expect(note.mostInFlight()).toBe(2);

    const reply = check();
    expect(await reply.isOwnEcho(event('outgoing', { id: 7_002 }), hook)).toBe(false);
    expect(reply.calls()).toBe(1);
  });

  it('knows a message the bridge posted from GLPI by its marker in content_attributes or source_id, for this hook only', async () => {
    const { isOwnEcho, calls } = check();
    expect(await isOwnEcho(event('outgoing', { content_attributes: { glpi_bridge: `${hook.id}:ticket:12:f34` } }), hook)).toBe(true);
    expect(await isOwnEcho(event('outgoing', { source_id: `cgb-glpi:${hook.id}:ticket:12:s3` }), hook)).toBe(true);
    // Pure checks: no Redis for a marked echo.
    expect(calls()).toBe(0);
    expect(await isOwnEcho(event('outgoing', { content_attributes: { glpi_bridge: 'other:ticket:12:f34' } }), hook)).toBe(false);
    // Look-alikes of an agent's message are not echoes.
    expect(await isOwnEcho(event('outgoing', { source_id: `cgb-glpi:${hook.id}:ticket:12` }), hook)).toBe(false);
    expect(await isOwnEcho(event('outgoing', { content_attributes: { glpi_bridge: `${hook.id}:ticket:12:f34:x` } }), hook)).toBe(false);
  });

  it("never drops a customer's incoming message that carries the marker and a recorded id", async () => {
    await new G2cRecords(redis, redisKeys(prefix), hook.id).markPosted(13, 'f35', 7_201);
    const hostile = event('incoming', { id: 7_201, source_id: `cgb-glpi:${hook.id}:ticket:12:f34`, content_attributes: { glpi_bridge: `${hook.id}:ticket:12:f34` } });
    expect(await check().isOwnEcho(hostile, hook)).toBe(false);
    // The same id on an outgoing message whose source_id a channel replaced: the recorded id says echo.
    expect(await check().isOwnEcho(event('outgoing', { id: 7_201, source_id: 'wamid.HBgLMzM2MTIzNDU2Nzg' }), hook)).toBe(true);
  });

  it("knows the write-back's note and the GLPI direction's message by their stored ids, for this hook only", async () => {
    await redis.set(writeBackKeys(prefix).note(hook.id, 7_101), '12');
    await new G2cRecords(redis, redisKeys(prefix), hook.id).markPosted(12, 'f34', 7_102);
    const { isOwnEcho } = check();
    expect(await isOwnEcho(event('outgoing', { id: 7_101, private: true }), hook)).toBe(true);
    expect(await isOwnEcho(event('outgoing', { id: 7_102 }), hook)).toBe(true);
    expect(await isOwnEcho(event('outgoing', { id: 7_102, private: true }), hook)).toBe(true);
    // The note id counts for private notes only, as the write-back's own check says.
    expect(await isOwnEcho(event('outgoing', { id: 7_101 }), hook)).toBe(false);
    expect(await isOwnEcho(event('outgoing', { id: 7_101, private: true }), { ...hook, id: 'other' })).toBe(false);
  });

  it("never takes a customer's message imitating either marker, in source_id, attributes or content, for an echo", async () => {
    const note = noteSourceId(hook.id, 12);
    const item = itemMarker(hook.id, 12, 'f34');
    const { isOwnEcho, calls } = check();
    for (const imitation of [note, itemSourceId(item)]) {
      const hostile = event('incoming', { source_id: imitation, content: `${note} ${item}`, content_attributes: { glpi_bridge: item } });
      expect(await isOwnEcho(hostile, hook), imitation).toBe(false);
      expect(await isOwnEcho(event('incoming', { source_id: imitation, private: true }), hook), `private ${imitation}`).toBe(false);
    }
    // The markers in an agent's text are only text: not an echo either.
    expect(await isOwnEcho(event('outgoing', { private: true, content: note, source_id: null }), hook)).toBe(false);
    expect(await isOwnEcho(event('outgoing', { content: itemSourceId(item), source_id: null }), hook)).toBe(false);
    expect(calls()).toBe(3); // the two outgoing messages' stored ids: 2 for the note, 1 for the reply
  });

  it('needs no Redis for a marker, and none for a message a customer wrote', async () => {
    const marked = check();
    expect(await marked.isOwnEcho(event('outgoing', { private: true, source_id: `cgb-glpi:${hook.id}:ticket:12` }), hook)).toBe(true);
    expect(await marked.isOwnEcho(event('outgoing', { content_attributes: { glpi_bridge: `${hook.id}:ticket:12:f34` } }), hook)).toBe(true);
    expect(marked.calls()).toBe(0);

    const incoming = check();
    expect(await incoming.isOwnEcho(event('incoming', { id: 7_101 }), hook)).toBe(false);
    expect(incoming.calls()).toBe(0);
  });
});

describe('the source_id markers of both directions (markers.ts)', () => {
  it('reads back what it writes, for the hook that wrote it', () => {
    expect(noteSourceId('acme', 12)).toBe('cgb-glpi:acme:ticket:12');
    expect(itemSourceId(itemMarker('acme', 12, 's3'))).toBe('cgb-glpi:acme:ticket:12:s3');
    expect(isNoteSourceIdOf(noteSourceId('acme', 12), 'acme')).toBe(true);
    expect(isItemMarkerOf(itemMarker('acme', 12, 'f34'), 'acme')).toBe(true);
    expect(isItemSourceIdOf(itemSourceId(itemMarker('acme', 12, 'f34')), 'acme')).toBe(true);
  });

  it('tells the two shapes apart, and takes no look-alike for either', () => {
    const note = noteSourceId('acme', 12);
    const item = itemSourceId(itemMarker('acme', 12, 'f34'));
    expect(isNoteSourceIdOf(item, 'acme')).toBe(false);
    expect(isItemSourceIdOf(note, 'acme')).toBe(false);
    for (const lookAlike of [
      'cgb-glpi:acme',
      'cgb-glpi:acme:ticket:',
      'cgb-glpi:acme:ticket:12x',
      'cgb-glpi:acme-2:ticket:12',
      'cgb-glpi:x:acme:ticket:12',
      'cgb-glpi:other:ticket:1:acme:ticket:12',
      ' cgb-glpi:acme:ticket:12',
      'cgb-glpi:acme:ticket:12\n',
      'CGB-GLPI:acme:ticket:12',
      'acme:ticket:12',
    ]) {
      expect(isNoteSourceIdOf(lookAlike, 'acme'), lookAlike).toBe(false);
      expect(isItemSourceIdOf(`${lookAlike}:f34`, 'acme'), `${lookAlike}:f34`).toBe(false);
    }
    for (const lookAlike of ['acme-2:ticket:12:f34', 'x:acme:ticket:12:f34', 'acme:ticket::f34', 'acme:ticket:12:f34:x', 'acme:ticket:12:x34', 'cgb-glpi:acme:ticket:12:f34']) {
      expect(isItemMarkerOf(lookAlike, 'acme'), lookAlike).toBe(false);
    }
    expect(isItemMarkerOf({ toString: () => 'acme:ticket:12:f34' }, 'acme')).toBe(false);
    expect(isNoteSourceIdOf(null, 'acme')).toBe(false);
    expect(isItemSourceIdOf(undefined, 'acme')).toBe(false);
  });
});
