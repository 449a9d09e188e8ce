#!/usr/bin/env bash
# Create .venv/precommit for the CI integration tests (integration/ci) (idempotent, fast when already done):
# pre-commit 4.7.0 (from PyPI), PyYAML, pytest, pinned in
# integration/requirements-precommit.txt. A stamp file in the venv holds the hash of that file and the
# interpreter version; a matching stamp means nothing to do. Prints the venv's python. Its own venv, so the
# shared test venvs are never rebuilt for it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
req="$REPO/integration/requirements-precommit.txt"
venv="$REPO/.venv/precommit"
want="$( { cat "$req"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.djflow-stamp"
if ! { [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }; then
    start=$(date +%s)
    rm -f "$stamp"
    [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" >"$venv.pip.log" 2>&1 \
        || { echo "venvs/precommit.sh: pip install failed:" >&2; tail -n 30 "$venv.pip.log" >&2; exit 1; }
    "$venv/bin/pre-commit" --version >/dev/null \
        || { echo "venvs/precommit.sh: pre-commit does not run" >&2; exit 1; }
    echo "$want" >"$stamp"
    echo "venvs/precommit.sh: ready in $(( $(date +%s) - start )) s" >&2
fi
echo "$venv/bin/python"
