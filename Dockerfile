# One recipe for every matchcast image; the service is a build argument. Needs BuildKit (Docker's
# default builder since 23.0; DOCKER_BUILDKIT=1 on 20.10) and no `# syntax` image, so an engine
# without a registry builds it too. From the repository root:
#   docker build --build-arg SERVICE=gateway --build-arg HEALTH_PORT_VAR=OPS_PORT --build-arg HEALTH_PORT=8083 -t matchcast-gateway .
#   docker build --build-arg SERVICE=notify-listener --build-arg HEALTH_PORT_VAR=LISTENER_PORT --build-arg HEALTH_PORT=8081 -t matchcast-notify-listener .
#   docker build --build-arg SERVICE=crawler --build-arg HEALTH_PORT_VAR=CRAWLER_PORT --build-arg HEALTH_PORT=8082 -t matchcast-crawler .
#   docker build --build-arg SERVICE=api --build-arg HEALTH_PORT_VAR=OPS_PORT --build-arg HEALTH_PORT=8091 -t matchcast-api .
#   docker build --build-arg SERVICE=notifier --build-arg HEALTH_PORT_VAR=OPS_PORT --build-arg HEALTH_PORT=8092 -t matchcast-notifier .
#   docker build --build-arg SERVICE=chaos --target job                                       -t matchcast-chaos .
# Without registry access (scripts/test-compose.sh): make the production copy outside Docker
# (`pnpm deploy --filter @matchcast/<service> --prod <dir>`), give that directory as the build
# context with --build-arg APP_SOURCE=prebuilt, and a local Node 22 image as NODE_IMAGE.
ARG NODE_IMAGE=node:22-slim
# Where the runtime's /out comes from: `build` (below, from the registry) or `prebuilt` (the context).
ARG APP_SOURCE=build

# ---- build: install the workspace, compile, bundle (the gateway page's client library), and cut a
#      production-only copy of the package (devDependencies such as esbuild stay behind) ----
FROM ${NODE_IMAGE} AS build
ARG SERVICE
ENV CI=true npm_config_store_dir=/pnpm-store
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=<gateway|notify-listener|crawler|api|notifier|chaos> is required" >&2; exit 1; }
RUN npm install -g pnpm@9.15.9 && npm cache clean --force
WORKDIR /src
COPY . .
# Only this service and the workspace packages it depends on (plus the root's TypeScript).
RUN --mount=type=cache,id=matchcast-pnpm,target=/pnpm-store \
    pnpm install --frozen-lockfile --filter "@matchcast/${SERVICE}..." --filter matchcast \
 && pnpm exec tsc -b "services/${SERVICE}" \
 && pnpm --filter "@matchcast/${SERVICE}" run --if-present bundle \
 && pnpm deploy --filter "@matchcast/${SERVICE}" --prod /out \
 && rm -rf /out/src /out/test /out/scripts /out/tsconfig.json /out/*.tsbuildinfo

# ---- prebuilt: the build context is already such a production copy, made outside Docker ----
FROM scratch AS prebuilt
COPY . /out

# ---- app: the production copy chosen by APP_SOURCE (BuildKit builds only that stage) ----
FROM ${APP_SOURCE} AS app

# ---- runtime: Node 22 LTS, production dependencies only, non-root ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the app user: the process never writes its own code.
COPY --from=app /out ./
# uid/gid 1000 is the image's "node" user; numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000

# ---- job: a batch program (the chaos runbook runner): no port, no HEALTHCHECK ----
FROM runtime AS job
ENTRYPOINT ["node", "dist/main.js"]
CMD ["--list"]

# ---- service (the default target): a long-running server with /healthz on its ops port ----
FROM runtime AS service
ARG HEALTH_PORT_VAR=PORT
ARG HEALTH_PORT=8080
# The health port is whatever the service's own port variable says at run time, else its default.
ENV MATCHCAST_HEALTH_PORT_VAR=${HEALTH_PORT_VAR} MATCHCAST_HEALTH_PORT=${HEALTH_PORT}
EXPOSE ${HEALTH_PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env[process.env.MATCHCAST_HEALTH_PORT_VAR] || process.env.MATCHCAST_HEALTH_PORT) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
