#!/usr/bin/env bash
# Stop the private SLURM test cluster started by up.sh (same DJFLOW_STATE).
#
# 1. scancel every job of this cluster and wait (<= 10 s) for them to leave the
#    node (slurmstepd survives daemon kills and ignores SIGTERM otherwise);
# 2. SIGTERM slurmd + slurmctld by PID file, SIGKILL after 15 s (zombies = dead);
# 3. stop munged (unless --keep-munge).
# Idempotent: succeeds when nothing is running. State, logs and config are kept.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/../.." && pwd)
D=${DJFLOW_STATE:-$REPO/.state}/slurm
CONF=$D/etc/slurm.conf
SOCK=$D/munge/munge.sock
export SLURM_CONF=$CONF
keep_munge=0
[[ ${1:-} == --keep-munge ]] && keep_munge=1

log() { printf 'slurm-down: %s\n' "$*" >&2; }

# shellcheck source=SCRIPTDIR/lib.sh
. "$SCRIPT_DIR/lib.sh"

# stop NAME PIDFILE PATTERN: SIGTERM, wait 15 s, SIGKILL.
stop() {
    local pid i
    pid=$(daemon_pid "$1" "$2" "$3") || { rm -f "$2"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do gone "$pid" && break; sleep 0.1; done
    if ! gone "$pid"; then
        log "$1 (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do gone "$pid" && break; sleep 0.1; done
    fi
    rm -f "$2"
}

if [[ -f $CONF ]] && daemon_pid slurmctld "$D/run/slurmctld.pid" "$CONF" >/dev/null; then
    mapfile -t jobs < <(squeue -h -o %F 2>/dev/null | sort -u)
    if ((${#jobs[@]})); then
        log "cancelling ${#jobs[@]} job(s)"
        scancel "${jobs[@]}" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
fi

stop slurmd "$D/run/slurmd.pid" "$CONF"
stop slurmctld "$D/run/slurmctld.pid" "$CONF"
((keep_munge)) || stop munged "$D/run/munged.pid" "$SOCK"
exit 0
