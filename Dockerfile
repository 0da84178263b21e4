# One image for every role: the command picks it (`serve`, later `worker`, or any `keel` command).
# Multi-stage: build with dev dependencies, ship the bundle with production dependencies only.
# Pin the base by digest in the deploying registry (node:24-bookworm-slim@sha256:…); this machine
# cannot resolve digests, so the tag is given here.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# tini reaps zombies and forwards SIGTERM, so Keel's graceful shutdown runs in the container.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    KEEL_DATA_DIR=/data \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist/bundle ./dist/bundle
COPY --from=build --chown=node:node /app/samples ./samples
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/bundle/apps/cli/src/main.js"]
CMD ["serve"]
