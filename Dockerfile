# clientpulse as a container: `docker run … clientpulse run` from any
# scheduler (a Kubernetes CronJob, say), or `schedule` to keep its own.
# Secrets come from the environment only (AWS_*, CLIENTPULSE_SMTP_URL).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The manifest names the test binary; cargo wants its file present.
COPY tests ./tests
# `--build-arg FEATURES=ballista` adds the cluster engine and the
# `scheduler` and `executor` commands (compose.yaml builds it so).
ARG FEATURES=""
# `release-lto` (Cargo.toml) runs faster and builds slower, with more
# memory (README, "The binary to deploy"); `--build-arg PROFILE=release`
# is the quicker build.
ARG PROFILE=release-lto
RUN cargo build --profile "$PROFILE" --locked --bin clientpulse ${FEATURES:+--features "$FEATURES"} \
    && cp "target/$PROFILE/clientpulse" /src/clientpulse

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin clientpulse
WORKDIR /app
COPY --from=build /src/clientpulse /usr/local/bin/clientpulse
COPY config ./config
COPY queries ./queries
COPY report-templates ./report-templates
RUN mkdir -p /app/out && chown clientpulse /app/out
USER clientpulse
ENTRYPOINT ["clientpulse"]
CMD ["run"]
