#!/bin/sh
# Starts redis-server with matchcast's ACL users: renders REDIS_ACL_TEMPLATE (redis-users.acl)
# into REDIS_ACL_FILE with the passwords from the environment (see the template's header),
# then execs redis-server --aclfile with the remaining arguments.
# `redis-start.sh --render-only` writes the ACL file and exits (used by the tests).
set -eu
template=${REDIS_ACL_TEMPLATE:-/etc/matchcast/redis-users.acl}
acl=${REDIS_ACL_FILE:-/data/users.acl}
umask 077
: > "$acl"
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'*) continue ;; esac
  case $line in
    *'${'*'}'*)
      var=${line#*\$\{}
      var=${var%%\}*}
      case $var in '' | *[!A-Z0-9_]*) echo "redis-start.sh: bad placeholder in $template" >&2; exit 1 ;; esac
      eval "value=\${$var:-}"
      # No password given: this user is not created.
      [ -n "$value" ] || continue
      case $value in *[!A-Za-z0-9._~-]*) echo "redis-start.sh: $var may only contain A-Z a-z 0-9 . _ ~ -" >&2; exit 1 ;; esac
      line="${line%%\$\{*}${value}${line#*\}}"
      ;;
  esac
  printf '%s\n' "$line" >> "$acl"
done < "$template"
if [ "${1:-}" = "--render-only" ]; then exit 0; fi
exec redis-server --aclfile "$acl" "$@"
