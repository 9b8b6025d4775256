import { createServer, request as httpRequest, Agent as HttpAgent, type Server } from 'node:http';

export interface CountingProxy {
  url: string;
  calls: Map<string, number>;
  /** Mean time of one GLPI call as the proxy saw it (request received to upstream response end). */
  meanMs(): number;
  reset(): void;
  close(): Promise<void>;
}

/** A pass-through HTTP proxy to `target`'s origin that counts calls by method and endpoint template. */
export async function countingProxy(target: string): Promise<CountingProxy> {
  const origin = new URL(target);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const calls = new Map<string, number>();
  let totalMs = 0;
  let count = 0;
  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const endpoint = path.replace(/^.*?apirest\.php/, '').replace(/\/\d+(?=\/|$)/g, '/:id');
    const key = `${req.method ?? 'GET'} ${endpoint}`;
    const upstream = httpRequest(
      { agent, host: origin.hostname, port: origin.port, method: req.method, path: req.url, headers: { ...req.headers, host: origin.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.once('end', () => {
          calls.set(key, (calls.get(key) ?? 0) + 1);
          totalMs += performance.now() - started;
          count += 1;
        });
      },
    );
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${origin.pathname}`,
    calls,
    meanMs: () => (count === 0 ? 0 : totalMs / count),
    reset() {
      calls.clear();
      totalMs = 0;
      count = 0;
    },
    async close() {
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
