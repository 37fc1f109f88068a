# matchcast — the two commands: `make demo` (live system) and `make test`.
SHELL := /bin/bash
PNPM  := $(shell command -v pnpm 2>/dev/null)

.PHONY: deps build demo test bench migrate clean

# Installs pnpm (through npm) when missing, then the workspace's locked dependencies.
deps:
	@command -v pnpm >/dev/null 2>&1 || npm install -g pnpm@9.15.9
	@pnpm install --frozen-lockfile --prefer-offline

build: deps
	@pnpm exec tsc -b

demo: build
	@node scripts/dist/demo.js

test: build
	@scripts/ensure-chromium.sh
	@pnpm exec jest $(JEST_ARGS)

bench: build
	@node bench/dist/run.js $(BENCH_ARGS)

migrate: build
	@node packages/db/dist/cli.js

clean:
	@pnpm exec tsc -b --clean
