#!/usr/bin/env bash
# `make test-compose`: docker-compose.yml for real, on this machine's own Docker engine.
#   1. tools: Debian's docker.io, docker-compose (1.29) and debootstrap, installed when missing
#   2. the engine: the running one, else dockerd started here (and stopped again at the end)
#   3. images without a registry: scripts/compose-images.sh (cached), then the app images from
#      `pnpm deploy --prod` copies made here (deploy/compose/docker-compose.offline.yml)
#   4. `docker-compose up` of docker-compose.yml, waiting for every health check
#   5. tests/compose (jest; extra arguments go to jest, e.g. --json --outputFile=…)
#   6. the stack's containers, network and volume removed, also on failure or interrupt
# Exits 0 without testing (and says why) only when no Docker engine can run on this machine.
# Every wait is bounded. Needs `make build` first (the Makefile target does it).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's docker CLI, the engine's own: it builds with BuildKit without the buildx plugin.
export PATH=/usr/bin:/usr/sbin:$PATH DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
export COMPOSE_FILE=docker-compose.yml:deploy/compose/docker-compose.offline.yml
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-matchcast-compose-test}
SERVICES=(gateway notify-listener crawler api notifier)
work=.tmp/compose
started_dockerd=''
stack_up=''

log() { echo "test-compose: $*" >&2; }
elapsed() { echo "$((SECONDS))s"; }

cleanup() {
  local status=$?
  set +e
  if [ -n "$stack_up" ]; then
    if [ "$status" != 0 ]; then
      log "failed: the stack's state and last logs"
      timeout 60 docker-compose ps >&2
      timeout 60 docker-compose logs --no-color --tail=40 >&2
    fi
    log "removing the stack (containers, network, volume)"
    timeout 180 docker-compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || log "docker-compose down failed"
  fi
  if [ -n "$started_dockerd" ]; then
    log "stopping the dockerd started here (pid $started_dockerd)"
    kill "$started_dockerd" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
  fi
  log "done in $(elapsed) (exit $status)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ "${#missing[@]}" = 0 ] && return
  [ "$(id -u)" = 0 ] || { log "needs root to install ${missing[*]} (or install them yourself)"; exit 1; }
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${missing[@]}" >"$work/apt.log" 2>&1 \
    || { timeout 300 apt-get update -q >>"$work/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${missing[@]}" >>"$work/apt.log" 2>&1; } \
    || { tail -n 20 "$work/apt.log" >&2; log "could not install ${missing[*]}"; exit 1; }
}

# Tries dockerd with the given options; succeeds once `docker info` answers (60 s at most).
try_dockerd() {
  log "starting dockerd $*"
  setsid dockerd "$@" >"$work/dockerd.log" 2>&1 </dev/null &
  started_dockerd=$!
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$started_dockerd" 2>/dev/null || break
    sleep 0.5
  done
  kill "$started_dockerd" 2>/dev/null; wait "$started_dockerd" 2>/dev/null
  started_dockerd=''
  log "dockerd $* did not come up: $(grep -iE 'level=(error|fatal)|failed' "$work/dockerd.log" | tail -n 3)"
  return 1
}

ensure_engine() {
  if timeout 20 docker info >/dev/null 2>&1; then log "using the running Docker engine"; return; fi
  [ "$(id -u)" = 0 ] || { log "no Docker engine answers and starting one needs root"; exit 1; }
  # Without NAT rules and overlayfs if the kernel lacks them: the stack needs neither.
  try_dockerd || try_dockerd --iptables=false --storage-driver=vfs || {
    log "SKIPPED: no Docker engine can run on this machine (dockerd log: $work/dockerd.log)"
    trap - EXIT
    exit 0
  }
}

# The production copy of each service, as the Dockerfile's build stage cuts it.
app_copies() {
  for service in "${SERVICES[@]}"; do
    [ -f "services/$service/dist/main.js" ] || { log "services/$service/dist is missing: run make build first"; exit 1; }
    rm -rf "${work:?}/app/$service"
    CI=true pnpm deploy --filter "@matchcast/$service" --prod --prefer-offline "$work/app/$service" >"$work/deploy-$service.log" 2>&1 \
      || { tail -n 20 "$work/deploy-$service.log" >&2; exit 1; }
    rm -rf "$work/app/$service"/{src,test,scripts,tsconfig.json} "$work/app/$service"/*.tsbuildinfo
  done
}

await_healthy() { # seconds
  local deadline=$((SECONDS + $1)) ids unhealthy
  ids=$(docker-compose ps -q)
  while :; do
    # The one-shot steps exited 0 and every running container is healthy by its own check.
    unhealthy=$(docker inspect -f '{{.Name}} {{.State.Status}}:{{.State.ExitCode}}:{{if .State.Health}}{{.State.Health.Status}}{{end}}' $ids \
      | grep -vE ' (exited:0:.*|running:0:healthy)$' || true)
    [ -z "$unhealthy" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || { log "not healthy after $1 s: $unhealthy"; return 1; }
    sleep 2
  done
}

mkdir -p "$work"
ensure_tools
ensure_engine
log "images (cached after the first run)"
timeout 1200 scripts/compose-images.sh
log "production copies of ${SERVICES[*]} ($(elapsed))"
app_copies
edge_port=$(sed -n 's/^ *- "127\.0\.0\.1:\([0-9]*\):8080"$/\1/p' docker-compose.yml)
if ss -ltn "sport = :$edge_port" | grep -q LISTEN; then
  log "port $edge_port (the edge's, published by docker-compose.yml) is in use on this machine: stop what holds it"
  exit 1
fi
log "building the app images ($(elapsed))"
timeout 900 docker-compose build -q
stack_up=1
log "docker-compose up ($(elapsed))"
timeout 600 docker-compose up -d --no-build
await_healthy 180
log "stack healthy ($(elapsed)); running tests/compose"
MATCHCAST_COMPOSE_STACK=1 timeout 900 pnpm exec jest --selectProjects compose "$@"
