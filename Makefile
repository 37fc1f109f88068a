# matchcast — the two commands: `make demo` (live system) and `make test`.
SHELL := /bin/bash
PNPM  := $(shell command -v pnpm 2>/dev/null)

.PHONY: deps test-tools build demo test bench bench-users bench-user-streams bench-bus bench-memory bench-storm bench-user-cap bench-ceiling bench-notification-keys migrate token clean test-compose

# Installs pnpm (through npm) when missing, then the workspace's locked dependencies.
deps:
	@command -v pnpm >/dev/null 2>&1 || npm install -g pnpm@9.15.9
	@pnpm install --frozen-lockfile --prefer-offline

# The browser test (tests/e2e/scoreboard-page.test.ts) needs Chromium: Debian's package, installed
# when missing. Only `make test` needs it, so `make deps` (and so `make demo`) does not install it.
test-tools:
	@scripts/ensure-test-tools.sh

# tsc -b compiles the workspace; the gateway's `bundle` makes public/matchcast-client.js (the
# page's copy of @matchcast/client, generated and not committed).
build: deps
	@pnpm exec tsc -b
	@pnpm --filter @matchcast/gateway run --silent bundle

# `make demo FEED=http`: the crawler polls a local provider (football-data v4 format) over HTTP
# instead of running the simulator (DEMO_FEED=http does the same).
demo: build
	@$(if $(FEED),DEMO_FEED=$(FEED) )node scripts/dist/demo.js

# Every tier (jest projects: unit, integration, e2e, chaos, deploy, fuzz); one tier: pnpm test:<tier>.
test: build test-tools
	@pnpm exec jest $(JEST_ARGS)

# docker-compose.yml for real on this machine's Docker engine (installed and started when missing;
# images built without a registry): health, a live update through the edge, the Redis drill.
# docs/deploy.md says what it proves and what only the hosted workflow does. Extra jest arguments: JEST_ARGS.
test-compose: build
	@scripts/test-compose.sh $(JEST_ARGS)

bench: build
	@node bench/dist/run.js $(BENCH_ARGS)

# The user half: notification fan-out to 10k/100k followers and the notification API under load.
bench-users: build
	@node bench/dist/users.js $(BENCH_ARGS)

# A gateway's memory and bus traffic as users grow (docs/benchmarks.md, "User streams").
bench-user-streams: build
	@node bench/dist/user-streams-memory.js $(BENCH_ARGS)

# Memory per idle connection beside the frame-once floor, with the heap broken down by kind.
bench-memory: build
	@node bench/dist/connection-memory.js $(BENCH_ARGS)

# One Redis as gateways are added: broadcast vs. sharded bus channels (docs/scaling.md).
bench-bus: build
	@node bench/dist/bus-fanout.js $(BENCH_ARGS)

# A gateway SIGKILLed under 10,000 clients: how fast its clients resume on another, at what database cost
# (docs/benchmarks.md, "Reconnect storm"); e.g. BENCH_ARGS="--clients 5000".
bench-storm: build
	@node bench/dist/storm.js $(BENCH_ARGS)

# What WS_MAX_CONNECTIONS_PER_USER adds to an upgrade: none, per process, across the gateways in Redis, Redis unreachable.
bench-user-cap: build
	@node bench/dist/user-cap.js $(BENCH_ARGS)

# The highest commit rate the NOTIFY path sustains at p99 <= 50 ms, and the outbox trigger's
# Postgres CPU per commit (docs/benchmarks.md, "NOTIFY path ceiling").
bench-ceiling: build
	@node bench/dist/ceiling.js $(BENCH_ARGS)

# What keeping a deleted notification's idempotency key (026) costs the notification writes
# (docs/benchmarks.md, "Notification keys").
bench-notification-keys: build
	@node bench/dist/notification-keys.js $(BENCH_ARGS)

migrate: build
	@node packages/db/dist/cli.js

# `make token USER=alice ROLES=admin,service [TTL=3600]`: an HS256 token for trying the API and the
# sockets by hand (secret: AUTH_JWT_SECRET, else the one `make demo` wrote). USER must be given
# here: make would otherwise take the login name from the environment.
token:
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make token USER=<id> [ROLES=admin,service] [TTL=seconds]" >&2; exit 2; fi
	@test -f packages/auth/dist/cli.js || pnpm exec tsc -b
	@node packages/auth/dist/cli.js "$(USER)" "$(ROLES)" "$(TTL)"

clean:
	@pnpm exec tsc -b --clean
