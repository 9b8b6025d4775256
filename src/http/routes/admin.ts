import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { listFailed, queueStatus, replay, type ReplaySelector } from '../../ops/queue-ops.js';
import type { SyncJobData } from '../../sync/job.js';
import { tokenMatches } from '../token.js';

export interface AdminRouteDeps {
  /** ADMIN_TOKEN. Unset: the admin routes answer 403 (replay must never be open to anyone). */
  adminToken: string | undefined;
  queue: Queue<SyncJobData>;
  hookIds: readonly string[];
}

/**
 * `Authorization: Bearer <token>` only: a token in the query string would land in proxy and
 * access logs (Prometheus scrapes send it with `authorization: { credentials: ... }`).
 */
export function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  return /^Bearer\s+(.+)$/i.exec(header.trim())?.[1];
}

function refuse(reply: FastifyReply, status: 401 | 403, message: string) {
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="chatwoot-glpi-bridge admin"');
  return reply.code(status).send({ error: status === 401 ? 'unauthorized' : 'forbidden', message });
}

/** The admin token check as an onRequest hook (also used by the metrics route). */
export function adminAuth(adminToken: string | undefined, options: { openWhenUnset: boolean }) {
  const check = adminToken === undefined ? undefined : (given: string | undefined) => tokenMatches(given, adminToken);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (check === undefined) {
      if (options.openWhenUnset) return;
      return refuse(reply, 403, 'admin routes are disabled: set ADMIN_TOKEN to use them');
    }
    if (!check(presentedToken(req))) return refuse(reply, 401, 'send the ADMIN_TOKEN as "Authorization: Bearer <token>"');
  };
}

function parseBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body === 'object' && !Buffer.isBuffer(body) && !Array.isArray(body)) return body as Record<string, unknown>;
  // buildApp keeps bodies as raw Buffers (the webhook signature needs the bytes).
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (text.trim() === '') return {};
  const json = JSON.parse(text) as unknown;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
  return json as Record<string, unknown>;
}

/**
 * GET /admin/failed[?hook=ID&limit=N], POST /admin/replay {"jobId"|"hookId"|"all":true},
 * GET /admin/status. Register with `app.register(adminRoutes(deps))`.
 */
export function adminRoutes(deps: AdminRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', adminAuth(deps.adminToken, { openWhenUnset: false }));

    app.get<{ Querystring: { hook?: string; limit?: string } }>('/admin/failed', async (req, reply) => {
      const { hook, limit } = req.query;
      if (hook !== undefined && !deps.hookIds.includes(hook)) return reply.code(404).send({ error: 'not_found', message: `no hook "${hook}"` });
      const max = limit === undefined ? 100 : Number(limit);
      if (!Number.isInteger(max) || max <= 0 || max > 10_000) return reply.code(400).send({ error: 'bad_request', message: 'limit must be an integer from 1 to 10000' });
      return listFailed(deps.queue, { hookId: hook, limit: max });
    });

    app.post('/admin/replay', async (req, reply) => {
      let body: Record<string, unknown>;
      try {
        body = parseBody(req.body);
      } catch {
        return reply.code(400).send({ error: 'bad_request', message: 'the body must be a JSON object' });
      }
      const query = req.query as Record<string, unknown>;
      const jobId = body.jobId ?? query.job;
      const hookId = body.hookId ?? query.hook;
      const all = body.all === true || query.all === 'true';
      const given = [jobId !== undefined, hookId !== undefined, all].filter(Boolean).length;
      if (given !== 1 || (jobId !== undefined && typeof jobId !== 'string') || (hookId !== undefined && typeof hookId !== 'string')) {
        return reply.code(400).send({ error: 'bad_request', message: 'give exactly one of {"jobId": "..."}, {"hookId": "..."}, {"all": true}' });
      }
      if (typeof hookId === 'string' && !deps.hookIds.includes(hookId)) return reply.code(404).send({ error: 'not_found', message: `no hook "${hookId}"` });
      const selector: ReplaySelector = typeof jobId === 'string' ? { jobId } : typeof hookId === 'string' ? { hookId } : { all: true };
      const result = await replay(deps.queue, selector);
      if (typeof jobId === 'string' && result.replayed.length === 0) {
        return reply.code(result.skipped[0]?.reason === 'no such job' ? 404 : 409).send({ error: 'not_replayed', ...result });
      }
      return result;
    });

    app.get('/admin/status', async () => queueStatus(deps.queue, [...deps.hookIds]));
  };
}
