#!/usr/bin/env bash
# A throwaway PostgreSQL for tests/integration/test_postgres.py (Debian's postgresql package).
#   eval "$(bash scripts/pg_test_server.sh start)"   # exports LEXDORA_TEST_POSTGRES_URL
#   bash scripts/pg_test_server.sh stop
set -euo pipefail
DIR=${LEXDORA_PG_DIR:-/tmp/lexdora-pg}
PORT=${LEXDORA_PG_PORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "PostgreSQL not installed: apt-get install -y postgresql" >&2; exit 1; }
# PostgreSQL refuses to run as root; run it as the package's postgres user then.
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case "${1:-start}" in
  start)
    mkdir -p "$DIR"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
    [ -f "$DIR/data/PG_VERSION" ] || as_pg "$BIN/initdb -D $DIR/data -A trust -U postgres" >"$DIR/initdb.log" 2>&1
    as_pg "$BIN/pg_ctl -D $DIR/data -o '-k $DIR -p $PORT -c listen_addresses=127.0.0.1' -l $DIR/server.log -w status" \
      >/dev/null 2>&1 || as_pg "$BIN/pg_ctl -D $DIR/data -o '-k $DIR -p $PORT -c listen_addresses=127.0.0.1' -l $DIR/server.log -w start" >&2
    "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='lexdora_test'" \
      | grep -q 1 || "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres lexdora_test
    echo "export LEXDORA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/lexdora_test" ;;
  stop)
    as_pg "$BIN/pg_ctl -D $DIR/data -m fast -w stop" >&2 ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
