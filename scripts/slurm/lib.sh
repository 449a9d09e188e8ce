# shellcheck shell=bash
# Helpers shared by up.sh and down.sh (sourced, not executed).

# daemon_pid NAME PIDFILE PATTERN: print the PID of the live (non-zombie) daemon
# whose argv[0] is NAME and one of whose arguments is PATTERN or ends in =PATTERN (our conf or
# socket path, so other clusters on this machine are never matched). Tries the
# PID file first, then scans /proc (PID file lost or overwritten). rc 1 if none.
daemon_pid() {
    local name=$1 pidfile=$2 pattern=$3 pid
    if [[ -s $pidfile ]]; then
        pid=$(<"$pidfile"); pid=${pid//[^0-9]/}
        if [[ -n $pid ]] && _is_daemon "$pid" "$name" "$pattern"; then
            printf '%s\n' "$pid"; return 0
        fi
    fi
    for pid in /proc/[0-9]*; do
        pid=${pid#/proc/}
        if _is_daemon "$pid" "$name" "$pattern"; then
            printf '%s\n' "$pid" 2>/dev/null >"$pidfile" || true
            printf '%s\n' "$pid"; return 0
        fi
    done
    return 1
}

_is_daemon() {   # _is_daemon PID NAME PATTERN: an argument is PATTERN or ends in =PATTERN
    local -a argv
    local a
    gone "$1" && return 1
    mapfile -d '' -t argv 2>/dev/null <"/proc/$1/cmdline" || return 1
    ((${#argv[@]})) && [[ ${argv[0]##*/} == "$2" ]] || return 1
    for a in "${argv[@]:1}"; do
        [[ $a == "$3" || $a == *"=$3" ]] && return 0
    done
    return 1
}

gone() {   # gone PID: process absent or zombie (PID 1 may reap lazily)
    local stat
    { IFS= read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
    stat=${stat##*) }          # comm may contain spaces; state follows ") "
    [[ ${stat:0:1} == Z || ${stat:0:1} == X ]]
}
