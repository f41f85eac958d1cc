#!/usr/bin/env bash
# Stand-ins for the official base images the Dockerfile and docker-compose.yml name, built from
# Debian's packages under the same names, for machines that reach Debian's archive but no
# container registry. An image already in the engine's store is kept (delete it to rebuild).
# How they differ from the official images: docs/testing.md#the-stack-test.
#
#   tests/stack/base-images.sh            # with podman (run.sh calls it for podman only)
set -euo pipefail
cd "$(dirname "$0")"

ENGINE="${ENGINE:-podman}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
CACHE="${FRESHTOKEN_STACK_CACHE:-/var/tmp/freshtoken-stack}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Stand-ins carry a label with a digest of this script and stand-ins/: an image built from older
# definitions is built again.
STAMP="$( (cat base-images.sh stand-ins/*/*; rustc --version) | sha256sum | cut -c1-16)"
have() {
  [ "$("$ENGINE" image inspect --format '{{index .Config.Labels "freshtoken.stand-in"}}' "$1" 2>/dev/null)" = "$STAMP" ]
}
rebuilt=0
note() { printf '  stand-in %s\n' "$*"; rebuilt=1; }

# debian:bookworm-slim: a minbase debootstrap, imported as a single layer.
if ! have "debian:$SUITE-slim"; then
  note "debian:$SUITE-slim (debootstrap --variant=minbase)"
  command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  rootfs="$CACHE/rootfs-$SUITE"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  $SUDO debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
  # As in the official slim image: Debian's security archive; apt keeps no package caches or
  # lists in a layer and fetches no translations; dpkg leaves out documentation (but copyright
  # files), manuals and translations, and those of the packages already there go.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/lintian/*
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES
  # This machine's own certificate authorities (a TLS-inspecting egress proxy's, say), which an
  # image built here must trust to reach crates.io; an official image built elsewhere needs none.
  # Images that install ca-certificates (the builder, the runtime) pick them up.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . |
    "$ENGINE" import --change 'CMD ["bash"]' --change "LABEL freshtoken.stand-in=$STAMP" \
      - "debian:$SUITE-slim" >/dev/null 2>&1
  rm -rf "$rootfs"
fi

# rust:1.95-slim-bookworm: that Debian with gcc and this machine's own Rust toolchain (the only
# one to be had here), laid out as in the official image (RUSTUP_HOME, CARGO_HOME, PATH).
RUST_TAG="rust:1.95-slim-$SUITE"
if ! have "$RUST_TAG"; then
  toolchain="$(rustc --print sysroot)"
  note "$RUST_TAG (toolchain $(basename "$toolchain"))"
  "$ENGINE" build --quiet --label "freshtoken.stand-in=$STAMP" --tag "$RUST_TAG" \
    --volume "$toolchain:/host/toolchain:ro" \
    --volume "$(command -v rustup):/host/rustup:ro" \
    --build-arg "TOOLCHAIN=$(basename "$toolchain")" \
    stand-ins/rust >/dev/null
fi

# postgres:16-bookworm: Debian's PostgreSQL (15 in bookworm) behind an entrypoint that does what
# the official one does with POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, including the
# socket-only server it runs while a new volume is initialised.
if ! have "postgres:16-$SUITE"; then
  note "postgres:16-$SUITE (Debian's postgresql-15)"
  "$ENGINE" build --quiet --label "freshtoken.stand-in=$STAMP" --tag "postgres:16-$SUITE" stand-ins/postgres >/dev/null
fi

# nginx:stable: Debian's nginx behind an entrypoint with the official one's templates
# (/etc/nginx/templates/*.template, environment variables substituted) and local resolvers
# (NGINX_ENTRYPOINT_LOCAL_RESOLVERS).
if ! have "nginx:stable"; then
  note "nginx:stable (Debian's nginx)"
  "$ENGINE" build --quiet --label "freshtoken.stand-in=$STAMP" --tag "nginx:stable" stand-ins/nginx >/dev/null
fi

# What a rebuild replaced (an older stand-in, the build stages made from it) is of no more use.
if [ "$rebuilt" = 1 ]; then
  "$ENGINE" image prune -f --filter label=freshtoken.stand-in >/dev/null
fi
