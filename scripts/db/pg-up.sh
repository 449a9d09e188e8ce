#!/usr/bin/env bash
# Start (or reuse) a private PostgreSQL server for djflow's tests on PostgreSQL (DataJoint 2.x).
#
# Idempotent: installs Debian's postgresql (15 on Debian 12) via apt only when missing, initialises
# a data directory once (owned by the postgres user: initdb and postgres refuse to run as root),
# starts the server with pg_ctl on 127.0.0.1:${DJFLOW_PG_PORT:-5433} (no systemd, no Debian cluster
# wrapper), creates the role `djflow` with a random password and its own database `djflow` (where
# DataJoint's schemas become PostgreSQL schemas), and writes <state>/env.sh exporting DJ_HOST,
# DJ_USER, DJ_PASS, DJ_BACKEND=postgresql, DJ_DATABASE_NAME and DJ_USE_TLS=false.
# A healthy running server is reused.
#
# Authentication: TCP connections use scram-sha-256 (the password); the Unix socket, which lives in
# the state folder, uses peer authentication for the postgres OS user (administration only).
#
# State lives in ${DJFLOW_STATE:-<repo>/.state}/pg. Prints the path of env.sh.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${DJFLOW_STATE:-$REPO/.state}/pg"
PORT="${DJFLOW_PG_PORT:-5433}"
DATADIR="$STATE/data"
SOCKDIR="$STATE/run"
LOG="$STATE/postgresql.log"
PWFILE="$STATE/djflow.password"
ENVFILE="$STATE/env.sh"
ROLE=djflow
DBNAME=djflow

log() { echo "db/pg-up: $*" >&2; }

# The server binaries: Debian keeps them in /usr/lib/postgresql/<major>/bin, off PATH.
find_bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
    done
    return 1
}

# 1. Install the server package once.
if ! BINDIR="$(find_bindir)"; then
    log "installing postgresql (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    BINDIR="$(find_bindir)" || { log "postgresql installed but no server binaries under /usr/lib/postgresql"; exit 1; }
fi
# The Debian package creates and may start its own cluster (15/main on port 5432); we never use it.

as_pg() { runuser -u postgres -- "$@"; }
ready() { as_pg "$BINDIR/pg_isready" -q -h "$SOCKDIR" -p "$PORT" -d postgres >/dev/null 2>&1; }
psql_admin() { as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -d postgres "$@"; }

# 2. The state folder: the postgres user must reach it (search permission on every ancestor).
mkdir -p "$STATE"
chown postgres:postgres "$STATE"
chmod 700 "$STATE"
dir="$(dirname "$STATE")"
while [ "$dir" != "/" ]; do
    if ! as_pg test -x "$dir"; then
        log "granting search permission (o+x) on $dir so that the postgres user reaches $STATE"
        chmod o+x "$dir"
    fi
    dir="$(dirname "$dir")"
done
install -d -o postgres -g postgres -m 700 "$SOCKDIR"

# 3. Initialise the data directory once.
if [ ! -s "$DATADIR/PG_VERSION" ]; then
    log "initialising $DATADIR"
    rm -rf "$DATADIR"
    install -d -o postgres -g postgres -m 700 "$DATADIR"
    as_pg "$BINDIR/initdb" -D "$DATADIR" -U postgres --auth-host=scram-sha-256 --auth-local=peer \
        -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
        || { cat "$STATE/initdb.log" >&2; exit 1; }
fi

# 4. Start unless a healthy server (ours) is already running.
status() { as_pg "$BINDIR/pg_ctl" -D "$DATADIR" status >/dev/null 2>&1; }
if status && ! ready; then
    for _ in $(seq 1 50); do ready && break; sleep 0.1; done
    if ! ready; then
        log "server of $DATADIR running but not answering on port $PORT; restarting"
        as_pg "$BINDIR/pg_ctl" -D "$DATADIR" -m fast -w -t 60 stop >&2 || true
    fi
fi
if ! ready; then
    # A server that was just stopped may hold its port a moment longer (its threads still exiting after
    # the main one): wait up to 10 s before calling the port another process's.
    for attempt in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
        if [ "$attempt" = 100 ]; then
            log "port $PORT is already in use by another process; set DJFLOW_PG_PORT"
            exit 1
        fi
        sleep 0.1
    done
    log "starting postgres on 127.0.0.1:$PORT"
    # setsid: the server must not belong to the caller's process group (job control, test runners).
    # The log file is opened by pg_ctl as the postgres user, in the postgres-owned state folder.
    setsid runuser -u postgres -- "$BINDIR/pg_ctl" -D "$DATADIR" -l "$LOG" -w -t 60 start \
        -o "-p $PORT -k $SOCKDIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c unix_socket_permissions=0700" \
        </dev/null >/dev/null 2>&1 || true
    if ! ready; then
        log "server did not become ready; last log lines:"
        tail -n 30 "$LOG" >&2 || true
        exit 1
    fi
fi

# 5. Role, database and credentials (password generated once, kept mode 600).
if [ ! -s "$PWFILE" ]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$PWFILE")
fi
chmod 600 "$PWFILE"
PASS="$(cat "$PWFILE")"
# The password travels on stdin (a psql variable), never on a command line.
psql_admin -v role="$ROLE" -v db="$DBNAME" >/dev/null <<SQL
\\set pass '$PASS'
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN CREATEDB PASSWORD :'pass';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL

# 6. Environment file for clients.
(umask 077; cat >"$ENVFILE.tmp" <<EOF
# Generated by scripts/db/pg-up.sh; source it to reach the djflow test database on PostgreSQL.
export DJ_HOST=127.0.0.1:$PORT DJ_USER=$ROLE DJ_PASS=$PASS DJ_BACKEND=postgresql DJ_DATABASE_NAME=$DBNAME DJ_USE_TLS=false
EOF
)
mv "$ENVFILE.tmp" "$ENVFILE"
echo "$ENVFILE"
