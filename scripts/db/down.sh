#!/usr/bin/env bash
# Stop the private MariaDB server started by scripts/db/up.sh (data is kept).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${DJFLOW_STATE:-$REPO/.state}/db"
PIDFILE="$STATE/mariadb.pid"

if [ ! -f "$PIDFILE" ]; then
    echo "db/down: not running" >&2
    exit 0
fi
PID="$(cat "$PIDFILE")"
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]; }
if alive "$PID"; then
    kill -TERM "$PID"
    for _ in $(seq 1 300); do alive "$PID" || break; sleep 0.1; done
    if alive "$PID"; then
        echo "db/down: server $PID did not stop in 30 s; sending SIGKILL" >&2
        kill -KILL "$PID" 2>/dev/null || true
    fi
    echo "db/down: stopped server $PID" >&2
else
    echo "db/down: stale pid file (process $PID gone)" >&2
fi
rm -f "$PIDFILE" "$STATE/mariadb.sock"
