#!/usr/bin/env bash
# Create the Python test environments (idempotent, fast when already done):
#   .venv/dj2    datajoint==2.3.5  + pytest + pyyaml  (integration/requirements-dj2.txt)
#   .venv/dj014  datajoint==0.14.10 + pytest + pyyaml (integration/requirements-dj014.txt)
# A stamp file inside each venv holds the hash of its requirements file (and the
# interpreter version); a matching stamp means nothing to do.
# Usage: scripts/venv.sh [dj2|dj014 ...]   (default: both)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(dj2 dj014)

for name in "${names[@]}"; do
    req="$REPO/integration/requirements-$name.txt"
    venv="$REPO/.venv/$name"
    [ -f "$req" ] || { echo "venv.sh: no $req" >&2; exit 2; }
    want="$( { cat "$req"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    stamp="$venv/.djflow-stamp"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        continue
    fi
    start=$(date +%s)
    rm -f "$stamp"
    [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" >"$venv.pip.log" 2>&1 \
        || { echo "venv.sh: pip install failed for $name:" >&2; tail -n 30 "$venv.pip.log" >&2; exit 1; }
    echo "$want" >"$stamp"
    echo "venv.sh: $name ready in $(( $(date +%s) - start )) s" >&2
done
