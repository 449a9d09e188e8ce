#!/usr/bin/env bash
# Stop the private PostgreSQL server started by scripts/db/pg-up.sh (data is kept).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${DJFLOW_STATE:-$REPO/.state}/pg"
DATADIR="$STATE/data"

BINDIR=""
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { BINDIR="$d"; break; }
done
if [ -z "$BINDIR" ] || [ ! -s "$DATADIR/PG_VERSION" ]; then
    echo "db/pg-down: not running" >&2
    exit 0
fi
if runuser -u postgres -- "$BINDIR/pg_ctl" -D "$DATADIR" status >/dev/null 2>&1; then
    runuser -u postgres -- "$BINDIR/pg_ctl" -D "$DATADIR" -m fast -w -t 60 stop >/dev/null \
        || { echo "db/pg-down: pg_ctl stop failed" >&2; exit 1; }
    echo "db/pg-down: stopped the server of $DATADIR" >&2
else
    echo "db/pg-down: not running" >&2
fi
