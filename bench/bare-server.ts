import Fastify from 'fastify';

/**
 * The ceiling for the ingest benchmark: Fastify with the same raw-body handling as the bridge,
 * parsing the JSON and answering 202, and nothing else (no signature, no Redis, no logs).
 */
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/webhooks/chatwoot/:hookId', async (req, reply) => {
  const payload = JSON.parse((req.body as Buffer).toString('utf8')) as { id?: unknown };
  return reply.code(202).send({ status: 'queued', id: String(payload.id) });
});
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`bare server listening at ${address}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
