# freshtoken as a small image: `docker build -t freshtoken:local .` (or `podman build`; the
# compose file builds it too). The binary runs `serve` by default; the compose file runs `web`
# and `worker` separately.
#
# The base images are arguments, so a machine that cannot pull the official ones can name its
# own (tests/stack/base-images.sh builds stand-ins under these same names from Debian's packages).
ARG BUILDER_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- build: the release binary, with the dependency cache kept between builds ---------------
# The registry and target directory are cache mounts: after a source change only the project's
# own crates compile again (one to two minutes on two cores, not the 10 of a cold build).
FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY . .
# Offline sqlx macros (apalis) and the same settings as a developer's build: .cargo/config.toml.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p freshtoken \
    && cp target/release/freshtoken /usr/local/bin/freshtoken

# --- dashboard: the Leptos app compiled to wasm, hashed and gzipped by `cargo dashboard` ----
FROM ${BUILDER_IMAGE} AS dashboard
# Before the sources, so a source change does not download the target again.
RUN rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo dashboard /dashboard

# --- runtime: Debian slim, a non-root user, nothing else --------------------------------------
FROM ${RUNTIME_IMAGE}
# Root certificates for Instagram, webhooks and SMTP over TLS. The user's home is /data but it
# is not populated (no dotfiles in the data volume).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin freshtoken \
    && mkdir /data && chown freshtoken:freshtoken /data && chmod 0700 /data
COPY --from=build /usr/local/bin/freshtoken /usr/local/bin/freshtoken
COPY --from=dashboard /dashboard /usr/share/freshtoken/dashboard
# Labels last, so a new version does not rebuild the layers above.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="freshtoken" \
      org.opencontainers.image.description="Keeps Instagram access tokens fresh and serves them to your sites" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://example.invalid/freshtoken" \
      org.opencontainers.image.licenses="MIT"
USER freshtoken
WORKDIR /data
# /data holds the SQLite database and its key when no PostgreSQL is configured.
VOLUME ["/data"]
ENV FRESHTOKEN_BIND=0.0.0.0:8080 \
    FRESHTOKEN_DATA_DIR=/data \
    FRESHTOKEN_DASHBOARD_DIR=/usr/share/freshtoken/dashboard \
    FRESHTOKEN_LOG_FORMAT=json
EXPOSE 8080
# The start period covers a PostgreSQL that is slow to answer (freshtoken waits up to 2 minutes).
HEALTHCHECK --interval=15s --timeout=6s --start-period=150s --retries=3 \
    CMD ["freshtoken", "healthcheck"]
ENTRYPOINT ["freshtoken"]
CMD ["serve"]
