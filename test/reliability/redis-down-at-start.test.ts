import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { DiskSpool } from '../../src/queue/spool.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { glpiDecode, startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { testPrefix, waitFor } from '../support/redis.js';
import { messageCreatedBody, RedisChild, signedHeaders } from './support.js';

/**
 * ROLE=all (the default) started while Redis is down: the receiver must listen at once, answer
 * /health, spool webhooks (Chatwoot never retries) and say /ready 503; the worker waits for Redis
 * in the background and syncs the spooled events once Redis comes up.
 */

const SECRET = 'redis-down-at-start-secret';
// A customer writes the message: markup, a NUL and a path in it must reach GLPI as inert text.
const HOSTILE_TEXT = '</p><script>alert(1)</script> ../../etc/passwd \u0000 end';

describe('ROLE=all started with Redis down', () => {
  let redis: RedisChild;
  let sim: GlpiSimulator;
  let runtime: Runtime | undefined;
  let spoolDir: string;
  const prefix = testPrefix('downstart');

  beforeAll(async () => {
    // A private redis-server on a free port, stopped before the service starts.
    redis = await RedisChild.start();
    await redis.kill();
    sim = await startGlpiSimulator();
    spoolDir = mkdtempSync(join(tmpdir(), 'cgb-downstart-spool-'));
    const config = loadConfig({
      ROLE: 'all',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      SPOOL_DIR: spoolDir,
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url,
      GLPI_USER_TOKEN: 'admin-user-token',
      CHATWOOT_WEBHOOK_SECRET: SECRET,
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0 });
  });

  afterAll(async () => {
    await redis?.start().catch(() => undefined);
    await runtime?.close();
    await redis?.stop(); // a private server: stopping it removes every key this test made
    await sim?.close();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('listens, answers /health, spools a webhook, says /ready 503, then syncs it once Redis is up', async () => {
    const address = runtime?.address as string;
    const health = await request(`${address}/health`);
    await health.body.dump();
    expect(health.statusCode).toBe(200);

    const ready = await request(`${address}/ready`);
    expect(ready.statusCode).toBe(503);
    expect(await ready.body.json()).toMatchObject({ status: 'not_ready', redis: 'down' });

    const body = messageCreatedBody(77_001, 7_701, HOSTILE_TEXT);
    const posted = await request(`${address}/webhooks/chatwoot/acme`, {
      method: 'POST',
      headers: signedHeaders(SECRET, body, '../../../../tmp/escape-the-spool'),
      body,
    });
    expect(posted.statusCode).toBe(202);
    expect(await posted.body.json()).toMatchObject({ status: 'queued' });
    expect(await new DiskSpool(spoolDir).size()).toBe(1);
    // The delivery id chose nothing about the file's place: it is inside the spool directory.
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.json'))).toHaveLength(1);

    await redis.start();

    const ticket = await waitFor(() => sim.state.tickets[0], 'the spooled event to reach GLPI as a ticket');
    const texts = () => [ticket.content, ...sim.followupsOf(ticket.id).map((f) => f.content)].map((c) => glpiDecode(String(c)));
    const carried = await waitFor(() => texts().find((t) => t.includes('data-chatwoot-message-id="77001"')), 'the spooled message in GLPI');
    expect(carried).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(carried).not.toContain('<script>');
    await waitFor(async () => ((await new DiskSpool(spoolDir).size()) === 0 ? true : undefined), 'the spool to drain');
    const readyAfter = await waitFor(async () => {
      const res = await request(`${address}/ready`);
      await res.body.dump();
      return res.statusCode === 200 ? res.statusCode : undefined;
    }, '/ready to say 200 once Redis is up');
    expect(readyAfter).toBe(200);
    expect(sim.state.tickets).toHaveLength(1);
  });
});
