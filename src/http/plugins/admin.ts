import { Ajv } from 'ajv';
import type { Queue } from 'bullmq';
import type { FastifyError, FastifyPluginAsync, FastifySchemaValidationError } from 'fastify';
import { DEFAULTS } from '../../config/defaults.js';
import { listFailed, queueStatus, replay, type ReplaySelector } from '../../ops/queue-ops.js';
import type { SyncJobData } from '../../sync/job.js';
import { adminAuth } from '../admin-auth.js';

interface AdminOptions {
  /** ADMIN_TOKEN. Unset: the admin routes answer 403 (replay must never be open to anyone). */
  adminToken: string | undefined;
  queue: Queue<SyncJobData>;
  hookIds: readonly string[];
}

const failedQuery = {
  type: 'object',
  properties: { hook: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULTS.failedListLimit } },
} as const;
const replayBody = {
  type: 'object',
  properties: { jobId: { type: 'string' }, hookId: { type: 'string' }, all: { type: 'boolean' } },
} as const;
const replayQuery = {
  type: 'object',
  properties: { job: { type: 'string' }, hook: { type: 'string' }, all: { type: 'string' } },
} as const;

const ONE_SELECTOR = 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}';
const NOT_AN_OBJECT = 'the body must be a JSON object';

/** Content types whose body is read as JSON: curl's `-d` sends form-urlencoded unless told otherwise. */
const JSON_BODY_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded'];

/**
 * GET /admin/failed[?hook=ID&limit=N], POST /admin/replay {"jobId"|"hookId"|"all":true},
 * GET /admin/status, behind the ADMIN_TOKEN (onRequest). Bodies are parsed by Fastify and checked
 * by the route schemas; an empty body is `{}` so that `?all=true` alone still selects.
 */
export const adminRoutes: FastifyPluginAsync<AdminOptions> = async (app, options) => {
  const { queue, hookIds } = options;
  app.addHook('onRequest', adminAuth(options.adminToken, { openWhenUnset: false }));

  // Fastify's default validator coerces types, which would make {"all": 1} or {"all": "true"} a
  // replay of everything and {"jobId": 123} a string: bodies are checked as they are; query strings
  // (all text) keep Fastify's coercion. Compiled when the routes register, not per request.
  const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: true, allErrors: false });
  const queryAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));

  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(JSON_BODY_TYPES, { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    void parseJson(req, text, done);
  });

  // Fastify's own 400s (a body that is not JSON, a schema refusal whose message the route's
  // schemaErrorFormatter wrote) in the admin routes' answer shape; anything else goes on to the
  // app's error handler.
  app.setErrorHandler((error: FastifyError, _req, reply) => {
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return reply.code(400).send({ error: 'bad_request', message: NOT_AN_OBJECT });
    if (error.validation !== undefined) return reply.code(400).send({ error: 'bad_request', message: error.message });
    throw error;
  });

  app.get<{ Querystring: { hook?: string; limit: number } }>(
    '/admin/failed',
    {
      schema: { querystring: failedQuery },
      schemaErrorFormatter: (errors: FastifySchemaValidationError[]) =>
        new Error(errors.some((e) => e.instancePath.startsWith('/hook')) ? 'hook must be given once' : 'limit must be an integer from 1 to 10000'),
    },
    async (req, reply) => {
      const { hook, limit } = req.query;
      if (hook !== undefined && !hookIds.includes(hook)) return reply.code(404).send({ error: 'not_found', message: `no hook "${hook}"` });
      return listFailed(queue, { hookId: hook, limit });
    },
  );

  app.post<{ Body: { jobId?: string; hookId?: string; all?: boolean } | undefined; Querystring: { job?: string; hook?: string; all?: string } }>(
    '/admin/replay',
    {
      schema: { body: replayBody, querystring: replayQuery },
      schemaErrorFormatter: (errors: FastifySchemaValidationError[], dataVar: string) =>
        new Error(dataVar === 'body' && errors.some((e) => e.instancePath === '') ? NOT_AN_OBJECT : ONE_SELECTOR),
    },
    async (req, reply) => {
      const body = req.body ?? {};
      const jobId = body.jobId ?? req.query.job;
      const hookId = body.hookId ?? req.query.hook;
      const all = body.all === true || req.query.all === 'true';
      if ([jobId !== undefined, hookId !== undefined, all].filter(Boolean).length !== 1) return reply.code(400).send({ error: 'bad_request', message: ONE_SELECTOR });
      if (hookId !== undefined && !hookIds.includes(hookId)) return reply.code(404).send({ error: 'not_found', message: `no hook "${hookId}"` });
      const selector: ReplaySelector = jobId !== undefined ? { jobId } : hookId !== undefined ? { hookId } : { all: true };
      const result = await replay(queue, selector);
      if (jobId !== undefined && result.replayed.length === 0) {
        return reply.code(result.skipped[0]?.reason === 'no such job' ? 404 : 409).send({ error: 'not_replayed', ...result });
      }
      return result;
    },
  );

  app.get('/admin/status', async () => queueStatus(queue, [...hookIds]));
};
