#!/usr/bin/env bash
# The README's test command: installs everything the tests need (Debian packages, Python venvs with
# DataJoint 2.3.5 and 0.14.10), builds djflow, and runs every test:
#   swift test                      compiler: diagnostics, plan rules, goldens, determinism, quoting
#   integration/cli     (pytest)          the djflow command: exit codes, --check, atomic output, shellcheck;
#                                   scripts/install.sh's static release binary run without Swift
#   integration/ci      (pytest, .venv/precommit) .pre-commit-hooks.yaml through pre-commit from PyPI, and the
#                                   run: steps of docs/ci/github-actions.yml, on a temporary pipeline repository
#   integration/runner  (pytest, 2 venvs) the populate runner against real MariaDB + DataJoint 2.3.5 and 0.14.10,
#                                   and against real PostgreSQL 15 + DataJoint 2.3.5 (--backend postgresql)
#   integration/airflow (pytest, 2 venvs) generated DAGs on real Airflow 3.3.2 and 2.11.2: one-process DagBag of
#                                   every sample against the plan, dag.test() runs of the ephys sample and the
#                                   Elements workflow (integration/elements_workflow, .venv/elements) on MariaDB
#   integration/e2e     (pytest)          the ephys sample and the Elements workflow on a real single-node SLURM cluster;
#                                   faults (test_faults.py: SIGKILL, SIGTERM, requeue, the MariaDB restarted, two
#                                   submissions at once);
#                                   the ephys sample again on PostgreSQL 15 (test_slurm_postgres.py)
#   integration/htcondor (pytest)         HTCondor target: every submit file through HTCondor 24.12's own submit
#                                   parser, DAGs read back against the plan, the ephys DAGs run node by node
#                                   from the parsed job ads against MariaDB (no HTCondor pool: see README);
#                                   the Elements workflow's DAGs the same way
#   integration/kubernetes (pytest)       Kubernetes manifests: official schemas 1.29-1.37 (kubernetes-validate
#                                   --strict), djflow's own checks, and a harness that runs every Job's
#                                   commands on the host against the real database (ephys sample, Elements workflow)
#                                   commands on the host against the real database
#   scripts/fuzz.sh                 the spec and Python readers under libFuzzer + AddressSanitizer, 15 s each
#                                   (a smoke run; docs/FUZZING.md has the long run)
#   integration/python_sources (pytest, .venv/elements) static reader on every DataJoint Element on PyPI that
#                                   declares tables (sources downloaded, never installed or imported); truth
#                                   test: element-array-ephys + element-calcium-imaging declared in MariaDB,
#                                   live reader vs static reader; the Elements workflow, live vs static
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
scripts/deps.sh

step "python environments"
scripts/venv.sh
scripts/venvs/htcondor.sh
scripts/venvs/kubernetes.sh >/dev/null
scripts/venvs/precommit.sh >/dev/null
scripts/venvs/elements.sh
scripts/venvs/element-sources.sh >/dev/null
scripts/venvs/airflow.sh

step "build"
swift build
export DJFLOW_BIN=$PWD/.build/debug/djflow

step "services: MariaDB, PostgreSQL and SLURM"
scripts/db/up.sh >/dev/null
scripts/db/pg-up.sh >/dev/null
scripts/slurm/up.sh >/dev/null
if [[ ${CI:-} == true ]]; then
  trap 'scripts/slurm/down.sh >/dev/null 2>&1 || true; scripts/db/pg-down.sh >/dev/null 2>&1 || true; scripts/db/down.sh >/dev/null 2>&1 || true' EXIT
fi

export PYTHONDONTWRITEBYTECODE=1
step "runner on DataJoint 0.14.10"
.venv/dj014/bin/python -m pytest -q -p no:cacheprovider integration/runner
step "runner on DataJoint 2.3.5"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider integration/runner
step "runner on DataJoint 2.3.5 + PostgreSQL 15"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider integration/runner --backend postgresql
step "static reader on every DataJoint Element on PyPI that declares tables"
.venv/elements/bin/python -m pytest -q -p no:cacheprovider integration/python_sources/test_elements_static.py
step "live vs static reader on the published elements (DataJoint 0.14.10)"
.venv/elements/bin/python -m pytest -q -p no:cacheprovider integration/python_sources/test_truth.py integration/python_sources/test_truth_elements_workflow.py integration/python_sources/test_truth_more.py
step "command line"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider integration/cli
step "CI integration: the pre-commit hook and the example workflow, as written"
.venv/precommit/bin/python -m pytest -q -p no:cacheprovider integration/ci
step "Airflow 3.3.2: DagBag and dag.test() of the generated DAGs"
.venv/airflow3/bin/python -m pytest -q -p no:cacheprovider integration/airflow
step "Airflow 2.11.2: DagBag and dag.test() of the generated DAGs"
.venv/airflow2/bin/python -m pytest -q -p no:cacheprovider integration/airflow
step "end to end on SLURM"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider integration/e2e --ignore=integration/e2e/test_slurm_postgres.py
step "end to end on SLURM with DataJoint 2.3.5 + PostgreSQL 15"
.venv/dj2/bin/python -m pytest -q -p no:cacheprovider integration/e2e/test_slurm_postgres.py
step "HTCondor target (HTCondor 24.12 submit parser, DAG harness)"
.venv/htcondor/bin/python -m pytest -q -p no:cacheprovider integration/htcondor
step "Kubernetes target: schemas 1.29-1.37, checks, harness on the real database"
.venv/kubernetes/bin/python -m pytest -q -p no:cacheprovider integration/kubernetes
step "fuzz smoke run: spec and Python readers, 15 s each (libFuzzer + AddressSanitizer)"
scripts/fuzz.sh --seconds 15
step "compiler (swift test)"
swift test 2>&1 | tail -n 25
test "${PIPESTATUS[0]}" -eq 0
