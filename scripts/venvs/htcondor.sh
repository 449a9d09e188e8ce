#!/usr/bin/env bash
# Create .venv/htcondor (idempotent): htcondor==24.12.24 + pytest, from integration/requirements-htcondor.txt.
# A stamp file holds the hash of the requirements and the interpreter version; a match means nothing to do.
# No HTCondor daemons: the wheel ships the submit-language library only (see README, HTCondor).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
req="$REPO/integration/requirements-htcondor.txt"
venv="$REPO/.venv/htcondor"
want="$( { cat "$req"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.djflow-stamp"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
start=$(date +%s)
rm -f "$stamp"
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" >"$venv.pip.log" 2>&1 \
    || { echo "venvs/htcondor.sh: pip install failed:" >&2; tail -n 30 "$venv.pip.log" >&2; exit 1; }
"$venv/bin/python" -c 'import htcondor; htcondor.Submit("executable = /bin/true\nqueue\n")' \
    || { echo "venvs/htcondor.sh: htcondor does not import" >&2; exit 1; }
echo "$want" >"$stamp"
echo "venvs/htcondor.sh: htcondor ready in $(( $(date +%s) - start )) s" >&2
