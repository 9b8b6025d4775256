import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so it does not share an event loop with the server
 * it measures. Every request is a distinct Chatwoot delivery (new X-Chatwoot-Delivery, new
 * message id), signed like Chatwoot signs, so neither dedupe nor caching short-circuits it.
 *
 * argv[2]: JSON { url, connections, durationS, secret, template (path of a message_created JSON) }
 * stdout: one JSON line with the autocannon summary.
 */
interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  secret: string;
  template: string;
  conversations?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const template = JSON.parse(readFileSync(options.template, 'utf8')) as Record<string, unknown> & { conversation: Record<string, unknown> };
// A run-unique base keeps ids distinct across runs that share a Redis.
// Millisecond base x 1000: the warm-up and the measured run (separate processes, seconds apart)
// never reuse a message id, which the bridge would rightly answer as a duplicate.
let messageId = Date.now() * 1000;
const conversations = options.conversations ?? 50;

function nextBody(): string {
  messageId += 1;
  template.id = messageId;
  template.content = `bench message ${messageId}`;
  template.conversation.id = 1_000 + (messageId % conversations);
  return JSON.stringify(template);
}

// The generator's own CPU over the run (it shares the machine with the server it measures).
const cpuAtStart = process.cpuUsage();
const instance = autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationS,
  requests: [
    {
      method: 'POST',
      setupRequest: (request) => {
        const body = nextBody();
        const ts = Math.floor(Date.now() / 1000);
        const signature = createHmac('sha256', options.secret).update(`${ts}.`).update(body).digest('hex');
        return {
          ...request,
          body,
          headers: {
            'content-type': 'application/json',
            'x-chatwoot-delivery': randomUUID(),
            'x-chatwoot-timestamp': String(ts),
            'x-chatwoot-signature': `sha256=${signature}`,
          },
        };
      },
    },
  ],
});

instance.on('done', (result) => {
  const cpu = process.cpuUsage(cpuAtStart);
  process.stdout.write(
    `${JSON.stringify({
      requests: result.requests.total,
      requestsPerS: result.requests.average,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: result.statusCodeStats,
      durationS: result.duration,
      loaderCpuUsPerRequest: result.requests.total === 0 ? null : Math.round((cpu.user + cpu.system) / result.requests.total),
    })}\n`,
  );
});
