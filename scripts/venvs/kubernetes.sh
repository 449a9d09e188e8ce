#!/usr/bin/env bash
# Create .venv/kubernetes for the Kubernetes target tests (idempotent, fast when already done):
# kubernetes-validate 1.37.0 (official schemas of Kubernetes 1.25-1.37), PyYAML, pytest, pinned in
# integration/requirements-kubernetes.txt. A stamp file in the venv holds the hash of that file and the
# interpreter version; a matching stamp means nothing to do. Prints the venv's python.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
req="$REPO/integration/requirements-kubernetes.txt"
venv="$REPO/.venv/kubernetes"
want="$( { cat "$req"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.djflow-stamp"
if ! { [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }; then
    start=$(date +%s)
    rm -f "$stamp"
    [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" >"$venv.pip.log" 2>&1 \
        || { echo "venvs/kubernetes.sh: pip install failed:" >&2; tail -n 30 "$venv.pip.log" >&2; exit 1; }
    "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1 || "$venv/bin/python" -c 'import kubernetes_validate' \
        || { echo "venvs/kubernetes.sh: kubernetes-validate does not import" >&2; exit 1; }
    echo "$want" >"$stamp"
    echo "venvs/kubernetes.sh: ready in $(( $(date +%s) - start )) s" >&2
fi
echo "$venv/bin/python"
