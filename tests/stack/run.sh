#!/usr/bin/env bash
# The stack test: builds the project's image and runs docker-compose.yml as an operator would
# (README.md, docs/operations.md), with whichever engine this machine has: Docker with its
# compose plugin, else podman (with the runc runtime) and podman-compose from PyPI, which this
# script installs. Official base images cannot be pulled here, so stand-ins are built under the
# same names first (base-images.sh). The checks themselves are in stack_test.py.
#
#   bash tests/stack/run.sh          # what .ci/run runs
#
# Caches (images, build cache, podman-compose) live under /var/tmp like the target directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
export FRESHTOKEN_STACK_CACHE="${FRESHTOKEN_STACK_CACHE:-/var/tmp/freshtoken-stack}"
mkdir -p "$FRESHTOKEN_STACK_CACHE"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  export ENGINE=docker
  COMPOSE="docker compose"
else
  export ENGINE=podman
  # Debian's podman; runc, since the default crun fails on setrlimit on these machines;
  # iptables for netavark's networks; debootstrap for the stand-in base images.
  missing=()
  for tool in podman:podman runc:runc iptables:iptables debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  [ -x /usr/lib/podman/netavark ] || [ -x /usr/libexec/podman/netavark ] || missing+=(netavark)
  [ -x /usr/lib/podman/aardvark-dns ] || [ -x /usr/libexec/podman/aardvark-dns ] || missing+=(aardvark-dns)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  # A configuration of our own (it replaces the system's for these commands only): runc, and
  # resource limits no higher than this machine lets a process set (podman's defaults are
  # higher, and runc then fails).
  export CONTAINERS_CONF="$FRESHTOKEN_STACK_CACHE/containers.conf"
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
  # HEALTHCHECK survives only in the docker image format (podman builds OCI by default).
  export BUILDAH_FORMAT=docker
  VENV="$FRESHTOKEN_STACK_CACHE/venv"
  [ -x "$VENV/bin/podman-compose" ] || {
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet podman-compose==1.6.0
  }
  COMPOSE="$VENV/bin/podman-compose"
fi
export COMPOSE
echo "engine: $ENGINE ($($ENGINE --version)); compose: $($COMPOSE version 2>/dev/null | tail -n 1)"

if [ "$ENGINE" = podman ]; then
  # This podman is taken to be the one of a machine that reaches no registry (as CI's): the
  # official base images are replaced by stand-ins under their names (podman stores them as
  # localhost/NAME, which its short-name lookup prefers). A Docker engine pulls the real ones.
  bash tests/stack/base-images.sh
  # Build stages of older sources pile up as dangling images (a gigabyte each): keep three days'
  # of this project's (they carry the stand-ins' label), and nobody else's.
  "$ENGINE" image prune -f --filter until=72h --filter label=freshtoken.stand-in >/dev/null
fi

# The operator's checkout: the project's files (tracked, and new ones not ignored), so the
# test never touches this checkout's .env. Modification times are kept, so the build cache
# recognises unchanged files.
CHECKOUT="$FRESHTOKEN_STACK_CACHE/checkout"
rm -rf "$CHECKOUT"
mkdir -p "$CHECKOUT"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do
    if [ -e "$file" ]; then printf '%s\0' "$file"; fi
  done |
  tar --null -T - -c | tar -x -C "$CHECKOUT"

exec python3 tests/stack/stack_test.py "$CHECKOUT"
