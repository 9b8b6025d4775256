import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { redisKeys } from '../src/redis/keys.js';
import { createSyncQueue } from '../src/queue/producer.js';
import { startRuntime, type Runtime } from '../src/runtime.js';
import { loadFixture } from './support/fixtures.js';
import { startGlpiSimulator, type GlpiSimulator } from './support/glpi-simulator/index.js';
import { testRedis, waitFor } from './support/redis.js';
import { serviceTestEnv } from './support/service-env.js';
import { signedHeaders } from './support/signed-webhook.js';

const SECRET = 'runtime-attachments-secret';

/**
 * Shutdown while a job downloads a file that trickles a byte every 2 s for ten minutes, with a
 * download deadline and a worker grace period of ten minutes each: the service still stops at
 * once, and the job goes back to the queue (not failed, not completed with a wrong refusal).
 */
describe('shutdown never waits on an attachment download', () => {
  let sim: GlpiSimulator;
  let runtime: Runtime | undefined;
  let service: ReturnType<typeof serviceTestEnv> | undefined;
  let chatwoot: Server;
  let downloads = 0;
  const timers = new Set<NodeJS.Timeout>();

  beforeAll(async () => {
    chatwoot = createServer((_req, res) => {
      downloads += 1;
      res.writeHead(200, { 'content-type': 'image/png' });
      const timer = setInterval(() => res.write('x'), 2_000);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => chatwoot.listen(0, '127.0.0.1', resolve));
    sim = await startGlpiSimulator();
    service = serviceTestEnv('rtattach', { url: sim.url });
    const config = loadConfig({
      ...service.env,
      CHATWOOT_WEBHOOK_SECRET: SECRET,
      CHATWOOT_BASE_URL: `http://127.0.0.1:${(chatwoot.address() as AddressInfo).port}`,
      ATTACHMENT_TIMEOUT_MS: '600000',
      ATTACHMENT_JOB_BUDGET_MS: '600000',
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0, worker: { closeTimeoutMs: 600_000, lockRetryDelayMs: 60_000 } });
  });

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    chatwoot?.closeAllConnections();
    await new Promise((resolve) => chatwoot?.close(resolve));
    await sim?.close();
    await service?.removeState();
  });

  it('closes at once and hands the job back', async () => {
    const fixture = loadFixture<Record<string, unknown>>('message_created.attachment');
    const [attachment] = fixture.attachments as Record<string, unknown>[];
    const port = (chatwoot.address() as AddressInfo).port;
    const body = JSON.stringify({ ...fixture, attachments: [{ ...attachment, data_url: `http://127.0.0.1:${port}/rails/active_storage/blobs/redirect/x/slow.png` }] });
    const res = await request(`${runtime!.address}/webhooks/chatwoot/default`, {
      method: 'POST',
      headers: signedHeaders(SECRET, body),
      body,
    });
    await res.body.dump();
    expect(res.statusCode).toBe(202);
    await waitFor(() => (downloads > 0 ? true : undefined), 'the download to start', 600, 50);

    // Hang guard only: without the fix this waits for the ten-minute grace period.
    const closed = await Promise.race([
      runtime!.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 30_000).unref()),
    ]);
    runtime = undefined;
    expect(closed).toBe('closed');

    const redis = testRedis();
    const queue = createSyncQueue(redis, redisKeys(service!.prefix));
    try {
      const counts = await queue.getJobCounts('active', 'completed', 'failed', 'delayed', 'waiting');
      expect(counts).toMatchObject({ active: 0, completed: 0, failed: 0 });
      expect((counts.delayed ?? 0) + (counts.waiting ?? 0)).toBe(1);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    expect(downloads).toBe(1);
  }, 60_000);
});
