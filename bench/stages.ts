import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseChatwootEvent, stripPubsubTokens } from '../src/chatwoot/events.js';
import { sign, verifySignature } from '../src/chatwoot/signature.js';
import { jsonDepth } from '../src/http/json-depth.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { jobIdFor } from '../src/queue/job.js';
import { redisKeys } from '../src/redis/keys.js';
import { type SyncJobData } from '../src/sync/job.js';
import { createSyncQueue, Ingest } from '../src/queue/producer.js';
import { DiskSpool } from '../src/queue/spool.js';
import { deletePrefix } from '../test/support/redis.js';
import { ROOT } from './proc.js';

/**
 * CPU cost of each stage of the webhook intake, in microseconds per request, each stage timed
 * alone in a loop over the bench's own signed message_created (so the figures do not depend on
 * what else the machine runs as much as requests/s do). The Redis stages are timed against
 * BENCH_REDIS_URL: one delivery at a time (claim + add, two round trips each) and 50 concurrent
 * deliveries stored by group commit, wall time per delivery.
 *
 * `node --import tsx bench/stages.ts` prints one JSON line.
 */
const SECRET = 'bench-webhook-secret-3f9a';
const body = Buffer.from(readFileSync(fileURLToPath(new URL('test/fixtures/chatwoot/message_created.incoming.json', ROOT)), 'utf8'));
const ts = Math.floor(Date.now() / 1000);
const signature = sign(SECRET, ts, body);
const text = body.toString('utf8');
const payload = JSON.parse(text) as Record<string, unknown>;

function time(what: () => unknown, iterations = 20_000): number {
  for (let i = 0; i < 2_000; i += 1) what();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) what();
  return Math.round(Number(process.hrtime.bigint() - start) / iterations / 10) / 100;
}

const nullSink = { write: () => undefined };
const logger = createLogger('info', nullSink);
const reqLog = logger.child({ reqId: 'req-1' });
const fields = { hookId: 'acme', event: 'message_created', deliveryId: '34955b4a-2c6b-4d80-9774-e86eec211ea5', jobId: 'acme.ac899d010dcb4d2f567b183b4251544a', conversationId: 1017 };

const cpu = {
  rawBodyToString: time(() => body.toString('utf8')),
  depthCheck: time(() => jsonDepth(text)),
  jsonParse: time(() => JSON.parse(text)),
  signature: time(() => verifySignature({ rawBody: body, signature, timestamp: String(ts), secrets: [SECRET], toleranceS: 300, nowMs: ts * 1000 })),
  zodParse: time(() => parseChatwootEvent(JSON.parse(text))),
  stripTokensAndJobId: time(() => [stripPubsubTokens(payload), jobIdFor('acme', fields.deliveryId)]),
  requestLoggerChild: time(() => logger.child({ reqId: 'req-1' })),
  logTwoChildrenThenLine: time(() => reqLog.child({ hookId: 'acme' }).child({ event: fields.event, deliveryId: fields.deliveryId, jobId: fields.jobId, conversationId: 1017 }).info({ durable: 'queued' }, 'webhook accepted')),
  logOneLine: time(() => reqLog.info({ ...fields, durable: 'queued' }, 'webhook accepted')),
  jobDataStringify: time(() => JSON.stringify({ ...fields, receivedAt: new Date().toISOString(), payload })),
};
cpu.zodParse = Math.round((cpu.zodParse - cpu.jsonParse) * 100) / 100;

async function redisStages(url: string) {
  const prefix = `cgbstages${Date.now()}`;
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const keys = redisKeys(prefix);
  const queue = createSyncQueue(redis, keys);
  const ingest = new Ingest({ queue, redis, keys, spool: new DiskSpool('/nonexistent-cgb-bench'), metrics: createMetrics(), logger: createLogger('silent') });
  let n = 0;
  const data = (): [SyncJobData, string[]] => {
    n += 1;
    return [{ hookId: 'acme', event: 'message_created', deliveryId: `d-${n}`, receivedAt: new Date().toISOString(), conversationId: 1, payload }, [`d-${n}`, `message:${n}`]];
  };
  try {
    for (let i = 0; i < 200; i += 1) await ingest.accept(...data());
    const one = 1_000;
    let start = process.hrtime.bigint();
    for (let i = 0; i < one; i += 1) await ingest.accept(...data());
    const sequentialUs = Number(process.hrtime.bigint() - start) / one / 1000;
    const rounds = 40;
    start = process.hrtime.bigint();
    for (let r = 0; r < rounds; r += 1) await Promise.all(Array.from({ length: 50 }, () => ingest.accept(...data())));
    const concurrentUs = Number(process.hrtime.bigint() - start) / (rounds * 50) / 1000;
    return { oneAtATimeUsPerDelivery: Math.round(sequentialUs), fiftyConcurrentUsPerDelivery: Math.round(concurrentUs) };
  } finally {
    ingest.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await deletePrefix(redis, prefix);
    await queue.close();
    redis.disconnect();
  }
}

const url = process.env.BENCH_REDIS_URL || undefined;
console.log(JSON.stringify({ usPerRequest: cpu, redis: url === undefined ? null : await redisStages(url) }));
