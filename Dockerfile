# syntax=docker/dockerfile:1
# freshtoken as a small image: `docker build -t freshtoken .` (docker compose builds it too).
# The binary runs `serve` by default; the compose file runs `web` and `worker` separately.

# --- build: the release binary, with the dependency cache kept between builds ---------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# Offline sqlx macros (apalis) and the same settings as a developer's build: .cargo/config.toml.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p freshtoken \
    && cp target/release/freshtoken /usr/local/bin/freshtoken

# --- dashboard: the Leptos app compiled to wasm, hashed and gzipped by `cargo dashboard` ----
FROM rust:1.95-slim-bookworm AS dashboard
WORKDIR /src
COPY . .
RUN rustup target add wasm32-unknown-unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo dashboard /dashboard

# --- runtime: Debian slim, a non-root user, nothing else --------------------------------------
FROM debian:bookworm-slim
# Root certificates for Instagram, webhooks and SMTP over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home freshtoken
COPY --from=build /usr/local/bin/freshtoken /usr/local/bin/freshtoken
COPY --from=dashboard /dashboard /usr/share/freshtoken/dashboard
USER freshtoken
WORKDIR /data
# /data holds the SQLite database and its key when no PostgreSQL is configured.
VOLUME ["/data"]
ENV FRESHTOKEN_BIND=0.0.0.0:8080 \
    FRESHTOKEN_DATA_DIR=/data \
    FRESHTOKEN_DASHBOARD_DIR=/usr/share/freshtoken/dashboard \
    FRESHTOKEN_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD ["freshtoken", "healthcheck"]
ENTRYPOINT ["freshtoken"]
CMD ["serve"]
