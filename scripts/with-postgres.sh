#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server on a loopback port, then stop and delete it.
# Installs PostgreSQL from the OS packages when no server binaries are found (needs root or sudo).
# The command sees TAXREPORT_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
# Usage: scripts/with-postgres.sh pytest -q
set -euo pipefail

find_pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
PGBIN=$(find_pgbin || true)
if [ -z "${PGBIN}" ] || [ ! -x "${PGBIN}/initdb" ]; then
  echo "with-postgres: PostgreSQL server binaries not found; installing the OS package" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq postgresql >&2
  PGBIN=$(find_pgbin)
fi

TMP=$(mktemp -d /tmp/taxreport-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the server runs as the postgres OS user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$TMP"
  RUN=(runuser -u postgres --)
fi

cleanup() {
  "${RUN[@]}" "$PGBIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"${RUN[@]}" "$PGBIN/initdb" -D "$TMP/data" -U postgres -A trust -E UTF8 --no-locale >"$TMP/initdb.log" 2>&1 \
  || { cat "$TMP/initdb.log" >&2; exit 1; }
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w -t 60 \
  -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null \
  || { cat "$TMP/server.log" >&2; exit 1; }

export TAXREPORT_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/postgres"
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:${PORT}" >&2
set +e
"$@"
status=$?
exit $status
