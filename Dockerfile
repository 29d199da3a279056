# syntax=docker/dockerfile:1.7
# The OOSE app image: prisms, stores and the `oose` CLI (`node bin/oose.js …`).
# The build stage type-checks and compiles the sources to dist/ (tsc); the
# runtime runs that JavaScript on plain node, with the production
# dependencies only (no TypeScript loader, no compiler).

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY app ./app
COPY migrations ./migrations
RUN node scripts/build.mjs --strict

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
# A fresh named volume mounted on /data copies this directory's owner, so the
# non-root app can write there (a store's nginx then mounts it read-only).
# The access-log volume likewise: the app's, and writable by nginx's group (101).
RUN mkdir -p /data/content /var/log/oose && chown -R node:node /data && chown node:101 /var/log/oose \
 && chmod 0770 /var/log/oose
USER node
EXPOSE 5971 5972
# Liveness (GET /livez, HTTPS when the node has a certificate): a backend outage marks no node unhealthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/app/livez.js"]
CMD ["node", "dist/app/main.js"]
