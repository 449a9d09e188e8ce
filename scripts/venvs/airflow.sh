#!/usr/bin/env bash
# Create the Airflow test environments (idempotent, fast when already done):
#   .venv/airflow3   apache-airflow==3.3.2  + pytest + pymysql  (integration/requirements-airflow3.txt)
#   .venv/airflow2   apache-airflow==2.11.2 + pytest + pymysql  (integration/requirements-airflow2.txt)
# Every transitive version is pinned by integration/constraints-airflow<N>.txt (a pip freeze of a working
# install), so installs are reproducible. A stamp file inside each venv holds the hash of both files and
# of the interpreter version; a matching stamp means nothing to do. Prints the install time.
# Usage: scripts/venvs/airflow.sh [airflow3|airflow2 ...]   (default: both)
#        scripts/venvs/airflow.sh --freeze NAME   rewrite integration/constraints-NAME.txt from the venv
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"

if [[ ${1-} == --freeze ]]; then
    name=${2:?usage: airflow.sh --freeze NAME}
    { echo "# pip freeze of .venv/$name (scripts/venvs/airflow.sh --freeze $name); constraints for its install"
      "$REPO/.venv/$name/bin/python" -m pip freeze --exclude-editable | LC_ALL=C sort; } >"$REPO/integration/constraints-$name.txt"
    exit 0
fi

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(airflow3 airflow2)

for name in "${names[@]}"; do
    req="$REPO/integration/requirements-$name.txt"
    constraints="$REPO/integration/constraints-$name.txt"
    venv="$REPO/.venv/$name"
    [ -f "$req" ] || { echo "airflow.sh: no $req" >&2; exit 2; }
    pins=()
    [ -f "$constraints" ] && pins=(-c "$constraints")
    want="$( { cat "$req"; [ -f "$constraints" ] && cat "$constraints"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    stamp="$venv/.djflow-stamp"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        continue
    fi
    start=$(date +%s)
    rm -f "$stamp"
    [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
    # pip compiles bytecode on install (Airflow starts ~2 s faster per process with .pyc files present).
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" ${pins[@]+"${pins[@]}"} \
        >"$venv.pip.log" 2>&1 \
        || { echo "airflow.sh: pip install failed for $name:" >&2; tail -n 30 "$venv.pip.log" >&2; exit 1; }
    echo "$want" >"$stamp"
    echo "airflow.sh: $name ready in $(( $(date +%s) - start )) s" >&2
done
