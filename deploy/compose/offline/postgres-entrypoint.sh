#!/bin/sh
# The official postgres image's start-up, for the stand-in: as root, hand PGDATA to the postgres
# user and re-run as it. On first boot: initdb with POSTGRES_USER / POSTGRES_PASSWORD, then create
# POSTGRES_DB through a temporary server that listens on the Unix socket only (as the official
# image does, so a health check must probe TCP to see the real server), then run the server on
# every address with password authentication. Any other command (psql, pg_isready) runs as is.
set -eu
case ${1:-} in '' | -*) ;; *) exec "$@" ;; esac
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256
  rm -f "$pwfile"
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start
  if [ "$db" != postgres ]; then
    echo 'CREATE DATABASE :"db"' | psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -v db="$db" -f -
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
