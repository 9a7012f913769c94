# syntax=docker/dockerfile:1
#
# Container images of the liver mesh: one Dockerfile, one target per service.
#
#   docker build --target retrain -t liver-mesh/retrain:0.1.0 .
#   docker build --target predict -t liver-mesh/predict:0.1.0 .
#   docker build --target gateway -t liver-mesh/gateway:0.1.0 .   (local bridge + web UI)
#   docker build --target envoy -t liver-mesh/envoy:0.1.0 .       (Kubernetes gateway)
#
# The build context is a whitelist (.dockerignore): sources, the lockfile and the proto
# contract only, so no data, model, key or secrets file can reach a layer. Secrets reach
# the containers at run time only, from the Kubernetes Secret liver-secrets.

ARG NODE_IMAGE=node:20-bookworm-slim
# Pinned: a floating tag could change the proxy under a running mesh.
ARG ENVOY_IMAGE=envoyproxy/envoy:v1.36.2

# ---- deps: every dependency, dev ones included (the build needs tsc) -------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Toolchain for native modules when no prebuilt binary matches (better-sqlite3,
# @tensorflow/tfjs-node). It stays in the build stages; the runtime image never has it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# npm ci installs exactly the lockfile. Image builds have network access, so the optional
# @tensorflow/tfjs-node (native TensorFlow, preferred at run time) installs here; should its
# download fail, npm skips the optional package and the services run on tfjs-backend-wasm.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# ---- build: compile TypeScript, then drop the dev dependencies -------------------------
FROM deps AS build
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- web: the browser UI bundle, in its own stage so the service images never need it -----
# It also writes the page under the fixed names Envoy's routes read (gateway/web/build.ts).
FROM deps AS web
COPY . .
RUN npm run build:web -- --envoy-dir /envoy-web

# ---- runtime: what every image shares --------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: the kernel gives PID 1 no default signal actions and nobody reaps its
# orphans. The services do handle SIGTERM themselves (health NOT_SERVING, drain, exit), so
# node as PID 1 would shut down correctly too; tini adds zombie reaping and forwards every
# signal, so a second SIGTERM or a SIGINT from `docker stop`/Ctrl-C behaves as on a laptop.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
# Owned by root and not writable by the service user: the application is read-only; state
# lives in DATA_PATH / MODEL_PATH / MODEL_CACHE_PATH (volumes in Kubernetes).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Reflection serves the contract from the .proto files at run time.
COPY --from=build /app/proto ./proto
RUN mkdir -p /var/lib/liver/data /var/lib/liver/models /var/cache/liver/models \
 && chown -R 1000:1000 /var/lib/liver /var/cache/liver
# Numeric, so Kubernetes' runAsNonRoot can verify it (the image's "node" user is 1000).
USER 1000:1000
# What Kubernetes and `docker stop` send; the services answer it with a graceful drain.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]

# ---- retrain: RetrainService (SQLite, model registry, trainer worker) ------------------
FROM runtime AS retrain
ENV RETRAIN_PORT=8080 \
    RETRAIN_METRICS_PORT=9101 \
    DATA_PATH=/var/lib/liver/data \
    MODEL_PATH=/var/lib/liver/models
EXPOSE 8080 8081 9101
CMD ["node", "dist/services/retrain/main.js"]

# ---- predict: PredictService (stateless, scaled out) -----------------------------------
FROM runtime AS predict
ENV PREDICT_PORT=8000 \
    PREDICT_METRICS_PORT=9100 \
    RETRAIN_ADDR=liver-retrain:8080 \
    MODEL_CACHE_PATH=/var/cache/liver/models
EXPOSE 8000 8001 9100
# V8 flags: services/predict/predict-node-flags.ts says why (a test keeps the two equal).
CMD ["node", "--max-semi-space-size=2", "dist/services/predict/main.js"]

# ---- gateway: the Node grpc-web bridge serving the web UI, for running without Envoy ------
# (On Kubernetes, Envoy is the gateway; this image is for `docker run` next to the services.)
# Pass PREDICT_ADDRS and RETRAIN_ADDR (host:port of the services) and CORS_ORIGINS if needed.
FROM runtime AS gateway
COPY --from=web /app/gateway/web/dist ./web
ENV GATEWAY_PORT=5000 \
    GATEWAY_HOST=0.0.0.0 \
    WEB_ROOT=/app/web
EXPOSE 5000
CMD ["node", "dist/gateway/bridge/main.js"]

# ---- envoy: the Kubernetes gateway: Envoy with gateway/envoy.yaml and the built page -------
# The config and the page are part of the image, so there is one envoy.yaml in the repository
# and no build output in the manifests; a new image tag rolls the gateway pods.
FROM ${ENVOY_IMAGE} AS envoy
COPY gateway/envoy.yaml /etc/envoy/envoy.yaml
COPY --from=web /envoy-web /etc/envoy-web
EXPOSE 5000
