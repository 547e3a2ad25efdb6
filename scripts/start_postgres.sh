#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the quota tests and benchmark, and prints the URL.
#
#   eval "$(scripts/start_postgres.sh)"      # exports VIDGEN_TEST_POSTGRES_URL
#   scripts/start_postgres.sh --stop         # stops it
#
# Installs Debian's `postgresql` with apt-get when no server binaries are found. Run as root, the server
# runs as the `postgres` user; run as anyone else, as that user. It listens on 127.0.0.1 only (port
# $VIDGEN_PG_PORT, default 55432) and keeps its data in $VIDGEN_PG_DIR (default /tmp/vidgen-pg, or
# /tmp/vidgen-pg-$USER when not root). Running it again while the server is up just prints the URL.
# Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail

PORT="${VIDGEN_PG_PORT:-55432}"
IS_ROOT=$([[ "$(id -u)" == "0" ]] && echo 1 || echo 0)
if [[ "$IS_ROOT" == 1 ]]; then DEFAULT_ROOT=/tmp/vidgen-pg; else DEFAULT_ROOT="/tmp/vidgen-pg-$(id -un)"; fi
DATA_ROOT="${VIDGEN_PG_DIR:-$DEFAULT_ROOT}"
DB_NAME="${VIDGEN_PG_DB:-vidgen_test}"
DB_USER="${VIDGEN_PG_USER:-vidgen}"
DB_PASSWORD="${VIDGEN_PG_PASSWORD:-vidgen}"
PGDATA="$DATA_ROOT/data"
LOG="$DATA_ROOT/server.log"

log() { echo "start_postgres: $*" >&2; }

find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

SERVER_USER=$([[ "$IS_ROOT" == 1 ]] && echo postgres || id -un)

as_postgres() {
  if [[ "$IS_ROOT" != 1 ]]; then "$@"
  elif command -v runuser >/dev/null; then runuser -u postgres -- "$@"
  else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  fi
}

BINDIR=$(find_bindir || true)
if [[ -z "$BINDIR" ]]; then
  log "installing Debian postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=$([[ "$IS_ROOT" == 1 ]] || echo sudo)
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq postgresql >&2
  BINDIR=$(find_bindir)
fi

if [[ "${1:-}" == "--stop" ]]; then
  as_postgres "$BINDIR/pg_ctl" -D "$PGDATA" -m fast stop >&2 || true
  exit 0
fi

mkdir -p "$DATA_ROOT"
[[ "$IS_ROOT" == 1 ]] && chown postgres:postgres "$DATA_ROOT"
chmod 700 "$DATA_ROOT"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  log "initdb in $PGDATA"
  as_postgres "$BINDIR/initdb" -D "$PGDATA" -U "$SERVER_USER" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >&2
fi

if ! as_postgres "$BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  log "starting server on 127.0.0.1:$PORT"
  as_postgres "$BINDIR/pg_ctl" -D "$PGDATA" -l "$LOG" -w -t 60 start \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DATA_ROOT -c max_connections=300" >&2
fi

psql_admin() { as_postgres "$BINDIR/psql" -h "$DATA_ROOT" -p "$PORT" -U "$SERVER_USER" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" ]]; then
  psql_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" >&2
fi
if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]]; then
  psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2
fi

URL="postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
log "ready: $URL"
echo "export VIDGEN_TEST_POSTGRES_URL='$URL'"
