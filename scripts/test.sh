#!/usr/bin/env bash
# The README's test command: installs everything the tests need (Debian packages, Python venvs with
# DataJoint 2.3.5 and 0.14.10), builds djflow, and runs every test:
#   swift test                      compiler: diagnostics, plan rules, goldens, determinism, quoting
#   tests/cli     (pytest)          the djflow command: exit codes, --check, atomic output, shellcheck
#   tests/runner  (pytest, 2 venvs) the populate runner against real MariaDB + DataJoint 2.3.5 and 0.14.10
#   tests/airflow (pytest, 2 venvs) generated DAGs on real Airflow 3.3.2 and 2.11.2: one-process DagBag of
#                                   every sample against the plan, dag.test() runs of the ephys sample on MariaDB
#   tests/e2e     (pytest)          the ephys sample on a real single-node SLURM cluster
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
scripts/deps.sh

step "python environments"
scripts/venv.sh
scripts/venvs/airflow.sh

step "build"
swift build
export DJFLOW_BIN=$PWD/.build/debug/djflow

step "services: MariaDB and SLURM"
scripts/db/up.sh >/dev/null
scripts/slurm/up.sh >/dev/null
if [[ ${CI:-} == true ]]; then
  trap 'scripts/slurm/down.sh >/dev/null 2>&1 || true; scripts/db/down.sh >/dev/null 2>&1 || true' EXIT
fi

export PYTHONDONTWRITEBYTECODE=1
step "runner on DataJoint 0.14.10"
.venv/dj014/bin/python -m pytest -q -p no:cacheprovider tests/runner
step "runner on DataJoint 2.3.5"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider tests/runner
step "command line"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider tests/cli
step "Airflow 3.3.2: DagBag and dag.test() of the generated DAGs"
.venv/airflow3/bin/python -m pytest -q -p no:cacheprovider tests/airflow
step "Airflow 2.11.2: DagBag and dag.test() of the generated DAGs"
.venv/airflow2/bin/python -m pytest -q -p no:cacheprovider tests/airflow
step "end to end on SLURM"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider tests/e2e
step "compiler (swift test)"
swift test 2>&1 | tail -n 25
test "${PIPESTATUS[0]}" -eq 0
