import { request, Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../support/app.js';
import { gate } from '../support/gate.js';

describe('HTTP shutdown', () => {
  it('answers a request that was in flight when close() began with Connection: close, so no idle socket holds the server', async () => {
    const slow = gate();
    const t = await startTestApp();
    try {
      // Runs after the app's own preClose (registration order): the request finishes mid-shutdown.
      t.app.addHook('preClose', async () => slow.release());
      await t.app.register(async (app) => {
        app.get('/slow', async () => {
          await slow.pass();
          return { ok: true };
        });
      });
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const agent = new Agent({ keepAliveTimeout: 60_000 });
      const pending = request(`${address}/slow`, { dispatcher: agent });
      await slow.reached;
      const closed = t.app.close();
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(res.headers.connection).toBe('close');
      await res.body.dump();
      await closed; // resolves because the socket was closed, not after a keep-alive timeout
      await agent.close();
    } finally {
      await t.close();
    }
  });
});
