# syntax=docker/dockerfile:1
# One image for every role: the command picks it (`serve`, `worker --queues …`, or any `keel`
# command), so the API, both worker groups and a one-off `keel eval` run exactly the same bytes.
#
# Pin the base by digest in the deploying registry (node:24-bookworm-slim@sha256:…); this machine
# cannot resolve digests, so the tag is given here. Every stage uses the same base so the native
# parts of node_modules (sqlite-vec's binary) match the runtime's libc and architecture.
ARG NODE_IMAGE=node:24-bookworm-slim

# Build with dev dependencies: tsc, tsc-alias and the esbuild bundle (dist/bundle).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies only, installed on their own rather than pruned from the build stage,
# so nothing a dev tool left in node_modules reaches the image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# tini is PID 1: it reaps zombies and forwards SIGTERM, so Keel's graceful shutdown runs in the
# container. Its version comes with the base image's Debian release, which the digest pins.
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The heap follows the container's memory limit (85% of it; Node 24 reads the cgroup limit), so a
# pod's `resources.limits.memory` is the one number to change. NODE_COMPILE_CACHE and the data dir
# are the only places written at run time: Kubernetes mounts emptyDirs there and keeps the root
# filesystem read-only.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size-percentage=85 \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache \
    KEEL_DATA_DIR=/data \
    PORT=3000 \
    KEEL_WORKER_PORT=3001
COPY --from=prod-deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/dist/bundle ./dist/bundle
COPY --from=build --chown=node:node /app/samples ./samples
RUN mkdir -p /data && chown node:node /data
# uid 1000 (`node` in the base image); Kubernetes checks runAsNonRoot against this numeric user.
USER 1000:1000
# 3000: the API (`serve`); 3001: a worker's /health and /metrics (`worker`).
EXPOSE 3000 3001
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/bundle/apps/cli/src/main.js"]
CMD ["serve"]
