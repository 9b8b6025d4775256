import type { FastifyReply, FastifyRequest } from 'fastify';
import { tokenMatches } from './token.js';

/**
 * `Authorization: Bearer <token>` only: a token in the query string would land in proxy and
 * access logs (Prometheus scrapes send it with `authorization: { credentials: ... }`).
 */
function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  return /^Bearer\s+(.+)$/i.exec(header.trim())?.[1];
}

function refuse(reply: FastifyReply, status: 401 | 403, message: string) {
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="chatwoot-glpi-bridge admin"');
  return reply.code(status).send({ error: status === 401 ? 'unauthorized' : 'forbidden', message });
}

/** Whether a request presents the configured ADMIN_TOKEN as its Bearer token (false when none is configured). */
export function presentsAdminToken(adminToken: string | undefined): (req: FastifyRequest) => boolean {
  return (req) => adminToken !== undefined && tokenMatches(presentedToken(req), adminToken);
}

/** The ADMIN_TOKEN check as an onRequest hook (admin and metrics plugins): nothing is read before it. */
export function adminAuth(adminToken: string | undefined, options: { openWhenUnset: boolean }) {
  const isAdmin = presentsAdminToken(adminToken);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (adminToken === undefined) {
      if (options.openWhenUnset) return;
      return refuse(reply, 403, 'admin routes are disabled: set ADMIN_TOKEN to use them');
    }
    if (!isAdmin(req)) return refuse(reply, 401, 'send the ADMIN_TOKEN as "Authorization: Bearer <token>"');
  };
}
