#!/usr/bin/env bash
# Programs the tests drive for real, from Debian (no downloads): Chromium for the page tests,
# nginx for the compose edge's routing test (tests/deploy/routes.test.ts), promtool (Debian's
# prometheus package) for the chart's alert rules (tests/deploy/alerts.test.ts).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the tests…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
  # Debian may start the services it just installed; the tests run their own nginx on free ports
  # and need only promtool, not a Prometheus server.
  if [[ " ${missing[*]} " == *" nginx-light "* ]]; then service nginx stop >/dev/null 2>&1 || true; fi
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    service prometheus stop >/dev/null 2>&1 || true
    service prometheus-node-exporter stop >/dev/null 2>&1 || true
  fi
else
  echo "missing ${missing[*]}: install them (e.g. sudo apt-get install ${missing[*]}) — the tests drive them" >&2
  exit 1
fi
