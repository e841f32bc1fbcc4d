# syntax=docker/dockerfile:1
#
# One image for every etaserve target: the command picks the shape
# (`start --target gateway|predictor|geo|store|pipeline|all`, `train`, `models promote ...`).
# Build:   docker build -t etaserve:dev .      (from node:20-bookworm-slim)
#          npm run image:build                 (podman, from a debootstrap Debian + Node 20 from npm; no image pull)
# Run:     docker run --read-only --tmpfs /tmp -v etaserve-data:/data -p 8080:8080 etaserve:dev
#
# BASE_IMAGE is any Debian bookworm with Node 20 in /usr/local (node, and for the build stage npm and the headers in
# /usr/local/include/node). BUILD_IMAGE and RUNTIME_IMAGE default to it; scripts/image-build.sh passes a runtime base
# with the node binary only and a build base that adds npm and the headers.
# Pin the base by digest in CI (node:20-bookworm-slim@sha256:...) so a rebuild is reproducible.
ARG BASE_IMAGE=node:20-bookworm-slim
ARG BUILD_IMAGE=${BASE_IMAGE}
ARG RUNTIME_IMAGE=${BASE_IMAGE}

# ---------------------------------------------------------------------------------------------------------------
# build: install every dependency, compile TypeScript, then drop the dev dependencies.
FROM ${BUILD_IMAGE} AS build

# better-sqlite3 compiles from source (no download of a prebuilt binary), so the toolchain is needed here and only
# here. tini comes from Debian as a static binary that the runtime stage copies, so the runtime needs no apt at all.
# The step is skipped for a build base that already carries them (an offline build from a local base).
RUN if ! command -v python3 >/dev/null || ! command -v make >/dev/null || ! command -v g++ >/dev/null \
      || [ ! -x /usr/bin/tini-static ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3 make g++ tini \
      && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app

# Dependencies first, so that a source change does not reinstall them. `--ignore-scripts` skips the root `prepare`
# (tsc, and the sources are not copied yet) and every dependency's install script; the one native module is then
# built explicitly, from source, so nothing is fetched from outside the npm registry.
# Optional offline install from a mounted npm cache (scripts/build-image.sh --npm-cache); unset by default.
ARG npm_config_cache
ARG npm_config_offline
# A machine whose egress re-signs TLS needs its CA for npm: scripts/image-build.sh mounts the host's
# NODE_EXTRA_CA_CERTS file into the build (a build volume, never a layer) and passes its path. Unset by default.
ARG NODE_EXTRA_CA_CERTS
# node-gyp compiles against the headers of the Node in the base (both bases ship them) instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && npm rebuild better-sqlite3 --build-from-source

COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
# The build compiles the server to dist/ and bundles the console into dist/console/web with vite.
RUN npm run build \
    && npm prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------------------------------------------------------
# runtime: Node, tini, the compiled program and production dependencies only. No compiler, no npm.
FROM ${RUNTIME_IMAGE} AS runtime

ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
# Where the source lives; scripts/build-image.sh passes the git remote.
ARG SOURCE=unknown
ARG RUNTIME_IMAGE
LABEL org.opencontainers.image.title="etaserve" \
      org.opencontainers.image.description="Real-time delivery ETA platform: gateway, predictor, geo, store and pipeline in one image" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="etaserve" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

# npm and corepack are never used at run time; removing them removes their CVEs from scans too.
# The user has a fixed numeric id so that Kubernetes can verify runAsNonRoot (it cannot for a user name) and the
# manifests' runAsUser/fsGroup (10001) match. /data is the only writable path; everything else can be read-only.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/include/node \
    && groupadd --system --gid 10001 etaserve \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin etaserve \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=build /usr/bin/tini-static /usr/bin/tini

WORKDIR /app
# Code is owned by root and only readable by the app user: a compromised process cannot rewrite its own program.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin

# ETASERVE_HOST: listen on every interface inside the container (the default 127.0.0.1 is unreachable from outside).
# So the image is never a demo shape: no demo key. The first start creates an admin key, keeps its hash in /data and
# prints it once (or mount one: gateway.adminKeyFile). A module of its own process serving internal routes on 0.0.0.0
# refuses to start without the internal token (platform.internalTokenFile, a mounted secret). See docs/security.md.
# ETASERVE_DATA_DIR: the volume; with `--read-only` (Docker) or readOnlyRootFilesystem (Kubernetes), only /data and
# /tmp are writable.
# MALLOC_ARENA_MAX=2: glibc's per-thread malloc arenas (libuv's pool, the model loader, GC helpers) hold tens of MB
# of RSS in an otherwise idle process; two arenas keep a predictor's memory near its heap (docs/capacity.md).
ENV NODE_ENV=production \
    ETASERVE_HOST=0.0.0.0 \
    ETASERVE_DATA_DIR=/data \
    MALLOC_ARENA_MAX=2
VOLUME ["/data"]

# gateway, predictor, store, geo, pipeline, orders
EXPOSE 8080 8100 8091 8092 8093 8094

USER 10001:10001

# For `docker run` only (Kubernetes ignores it and uses its probes). The port depends on --target, so any module's
# /healthz counts.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "Promise.any([8080,8100,8091,8092,8093].map(p=>fetch('http://127.0.0.1:'+p+'/healthz').then(r=>{if(!r.ok)throw new Error(r.status)}))).then(()=>process.exit(0),()=>process.exit(1))"]

# tini is PID 1: it forwards SIGTERM to node, which then turns unready and drains (platform.drainTimeoutMs), and it
# reaps any child process. Node as PID 1 would also drain once its handler is installed, but a SIGTERM that arrives
# before that (while a model loads at boot) would be ignored, because the kernel gives PID 1 no default signal
# action: the pod would then hang until SIGKILL at the end of its grace period.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/etaserve.js"]
CMD ["start", "--target", "all"]
