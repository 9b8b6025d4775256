# syntax=docker/dockerfile:1
# One image, two roles: ROLE=api (HTTP receiver), ROLE=worker (sync), ROLE=all (both, the default).

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    SPOOL_DIR=/var/lib/chatwoot-glpi-bridge/spool
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node docker/entrypoint.sh ./docker/entrypoint.sh
# The spool keeps accepted webhooks while Redis is away: give it a volume in production.
RUN mkdir -p /var/lib/chatwoot-glpi-bridge/spool && chown -R node:node /var/lib/chatwoot-glpi-bridge
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The entrypoint forwards SIGTERM to node (graceful shutdown) and, on a configuration error
# (exit 78), says so once and holds instead of being restarted forever by the restart policy.
ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]
CMD ["node", "dist/server.js"]
