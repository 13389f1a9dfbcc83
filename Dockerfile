# syntax=docker/dockerfile:1
# One image for every process of a deployment (SPEC §2):
#   ROLE=api (default), ROLE=worker:  node dist/src/main/start.js   (the CMD)
#   migrations (one-shot):            node dist/src/db/migrate.cli.js
# Debian slim, not Alpine: the Temporal worker's native core bridge needs glibc.
# Node.js 24 (LTS): the line .ci/run also tests (npm run test:node24, the same version); 20 is end-of-life.
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-bookworm-slim AS base
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Production dependencies only, installed on their own so the runtime stage copies nothing else.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# Compile TypeScript to dist/ and bundle the workflows once (dist/workflow-bundle.js), so that
# workers start without webpack.
FROM base AS build
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.mjs scripts/
COPY src src
COPY workflows workflows
COPY activities activities
COPY migrations migrations
COPY deploy/temporal/dynamicconfig.yaml deploy/temporal/
# The web console (SPEC §10): Vite builds web/ into web/dist, which the API serves at /.
COPY web web
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ROLE=api \
    PORT=3005 \
    METRICS_PORT=9464
WORKDIR /app
# Code and dependencies stay owned by root: the service user can read them, not change them.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
COPY package.json ./
# The image's own non-root user (node, uid 1000).
USER 1000:1000
# 3005: the API (ROLE=api); 9464: a worker's /metrics and /health (ROLE=worker).
EXPOSE 3005 9464
# /health of this container's role: the API's, or the worker's own endpoint.
HEALTHCHECK --interval=15s --timeout=8s --start-period=60s --retries=3 \
  CMD ["node", "dist/src/main/healthcheck.cli.js"]
# SIGTERM drains in-flight requests and deliveries (give the container a stop grace period above
# the worker's 30 s).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main/start.js"]
