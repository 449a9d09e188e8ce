#!/usr/bin/env bash
# Create .venv/elements for the truth test (idempotent, a no-op when the stamp matches):
# element-array-ephys and element-calcium-imaging from PyPI with DataJoint 0.14.10
# (integration/requirements-elements.txt says why that line).
# The stamp holds the hash of the requirements file and the interpreter version.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
req="$REPO/integration/requirements-elements.txt"
venv="$REPO/.venv/elements"
want="$( { cat "$req"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.djflow-stamp"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
start=$(date +%s)
rm -f "$stamp"
mkdir -p "$REPO/.venv"
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" >"$venv.pip.log" 2>&1 \
    || { echo "elements.sh: pip install failed:" >&2; tail -n 30 "$venv.pip.log" >&2; exit 1; }
echo "$want" >"$stamp"
echo "elements.sh: .venv/elements ready in $(( $(date +%s) - start )) s" >&2
