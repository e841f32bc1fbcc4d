#!/usr/bin/env bash
# Optional: build the etaserve image without a Docker engine, with buildah (rootless-friendly: chroot isolation and
# the vfs storage driver need no daemon, no overlay mounts and no user namespaces). Nothing is pulled: the bases
# must already be in local containers-storage (see docs/deploy.md, "Building the image offline").
#
#   scripts/build-image.sh [--tag etaserve:dev] [--base IMAGE] [--build-base IMAGE] [--base-rootfs rootfs.tar]
#                          [--npm-cache DIR]
#
#   --base IMAGE        runtime base already in local storage (default node:20-bookworm-slim)
#   --build-base IMAGE  build-stage base (default: the runtime base). Offline, use one that already has python3,
#                       make, g++ and tini, or the Dockerfile's apt-get step needs the network.
#   --base-rootfs TAR   make the base first, FROM scratch, out of a root filesystem tarball that contains Node 20
#                       (tagged localhost/etaserve-base:20 and used for both stages).
#   --npm-cache DIR     a populated npm cache (`npm ci` run once with --cache DIR on a connected machine); the build
#                       then installs from it with --offline.
set -euo pipefail

tag="etaserve:dev"
base="node:20-bookworm-slim"
build_base=""
rootfs=""
npm_cache=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    --build-base) build_base="$2"; shift 2 ;;
    --base-rootfs) rootfs="$2"; shift 2 ;;
    --npm-cache) npm_cache="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if ! command -v buildah >/dev/null; then
  echo "buildah is not installed (apt-get install buildah). Without it, build with Docker: docker build -t $tag ." >&2
  exit 2
fi

cd "$(dirname "$0")/.."
common=(--storage-driver vfs)

if [[ -n "$rootfs" ]]; then
  # A base image from a local root filesystem: FROM scratch + the tarball, no registry involved.
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
  cp "$rootfs" "$ctx/rootfs.tar"
  printf 'FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n' > "$ctx/Containerfile"
  buildah "${common[@]}" bud --isolation chroot --pull=never -t localhost/etaserve-base:20 -f "$ctx/Containerfile" "$ctx"
  base="localhost/etaserve-base:20"
fi
build_base="${build_base:-$base}"

args=(
  --isolation chroot
  --pull=never
  --format docker # keeps HEALTHCHECK, which the OCI image format drops
  --build-arg "BUILD_IMAGE=$build_base"
  --build-arg "RUNTIME_IMAGE=$base"
  --build-arg "VERSION=$(node -p 'require("./package.json").version' 2>/dev/null || echo 0.0.0-dev)"
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  --build-arg "SOURCE=$(git remote get-url origin 2>/dev/null || echo unknown)"
  -t "$tag"
)
if [[ -n "$npm_cache" ]]; then
  # npm reads npm_config_* from the environment; build args are in the environment of RUN steps.
  args+=(--volume "$(cd "$npm_cache" && pwd):/npm-cache:z" --build-arg npm_config_cache=/npm-cache --build-arg npm_config_offline=true)
fi

buildah "${common[@]}" bud "${args[@]}" -f Dockerfile .
echo "built $tag (buildah --storage-driver vfs images; push with: buildah --storage-driver vfs push $tag docker://REGISTRY/etaserve:TAG)"
