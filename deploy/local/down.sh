#!/usr/bin/env bash
# Stops what deploy/local/up.sh started (every service, or those named).
# --purge also deletes their data (the downloaded jars stay cached); --kill
# sends SIGKILL at once instead of SIGTERM (kafka and clickhouse), as a crash
# would. --cluster stops the ClickHouse cluster instead (cluster-down.sh). It honours the same TRUYVET_LOCAL_DIR and TRUYVET_POSTGRES_DIR as
# up.sh, so it stops the instance that the same environment started.
set -euo pipefail
state=${TRUYVET_LOCAL_DIR:-$HOME/.cache/truyvet/local}
purge=false
kill=false
for a in "$@"; do
  case $a in
    --purge) purge=true ;;
    --kill) kill=true ;;
    kafka | clickhouse | postgres) ;;
    cluster | --cluster) ;;
    *) echo "usage: down.sh [kafka] [clickhouse] [postgres] [--cluster] [--purge] [--kill]" >&2; exit 2 ;;
  esac
done

stop() { # name pidfile
  local name=$1 pid=$2
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then
    local p
    p=$(cat "$pid")
    if $kill; then
      echo "down.sh: killing $name (pid $p) with SIGKILL" >&2
      kill -KILL "$p" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      rm -f "$pid"
      return
    fi
    echo "down.sh: stopping $name (pid $p)" >&2
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then
      echo "down.sh: $name did not stop in 30s; killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
  fi
  rm -f "$pid"
}

services=()
for a in "$@"; do case $a in --purge | --kill) ;; *) services+=("$a") ;; esac; done
[ ${#services[@]} -gt 0 ] || services=(kafka clickhouse postgres)
for s in "${services[@]}"; do
  case $s in
    cluster | --cluster)
      flags=()
      if $purge; then flags+=(--purge); fi
      if $kill; then flags+=(--kill); fi
      "$(dirname "$0")/cluster-down.sh" "${flags[@]}"
      continue ;;
    kafka | clickhouse) stop "$s" "$state/$s/$s.pid" ;;
    postgres)
      pgdir=$state/postgres
      if [ "$(id -u)" = 0 ]; then pgdir=${TRUYVET_POSTGRES_DIR:-/var/tmp/truyvet/postgres}; fi
      if [ -f "$pgdir/data/postmaster.pid" ]; then
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        as=()
        if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
        echo "down.sh: stopping postgres" >&2
        "${as[@]}" "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >&2 || true
      fi ;;
    *) echo "down.sh: unknown service $s" >&2; exit 2 ;;
  esac
  if $purge && [ "$s" = postgres ] && [ "$(id -u)" = 0 ]; then
    rm -rf "${TRUYVET_POSTGRES_DIR:-/var/tmp/truyvet/postgres}"
  fi
  if $purge; then
    rm -rf "${state:?}/$s/data" "$state/$s/server.log"* "$state/$s/server.err.log"* "$state/$s/stdout.log"
    echo "down.sh: purged $state/$s/data" >&2
  fi
done
