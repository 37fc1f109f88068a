#!/usr/bin/env bash
# The scoreboard page is tested in a real browser: Debian's Chromium (no browser download).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser test…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
else
  echo "chromium is missing: install it (e.g. sudo apt-get install chromium) — the browser test needs it" >&2
  exit 1
fi
