#!/usr/bin/env bash
# Benchmark (prints figures; never a pass/fail timing): how long Airflow takes to import the generated DAG
# files, for the largest sample (ephys) and for synthetic 1,000-table pipelines (8 workflows; and all in
# one workflow). Airflow's own budget is dagbag_import_timeout = 30 s per file; djflow's goal is < 1 s.
# "cold" is the first DAG file parsed by a fresh process that already imported airflow (operator modules
# still to load); "warm" is the median of 5 re-parses (what the DAG processor pays on every re-parse).
# Usage: scripts/bench-airflow.sh [airflow3|airflow2 ...]   (default: every Airflow venv present)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${DJFLOW_BIN:-$PWD/.build/debug/djflow}
[[ -x $bin ]] || { swift build >/dev/null; bin=$PWD/.build/debug/djflow; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 scripts/bench/synthetic.py 1000 "$work/s1000.yaml"
python3 -c 'import sys; sys.path.insert(0, "scripts/bench"); import synthetic; synthetic.main(1000, sys.argv[1], gate_every=1000)' "$work/s1000-one.yaml"
"$bin" compile Samples/ephys/djflow.yaml --target airflow --out "$work/ephys" >/dev/null
"$bin" compile "$work/s1000.yaml" --target airflow --out "$work/s1000" >/dev/null
"$bin" compile "$work/s1000-one.yaml" --target airflow --out "$work/s1000-one" >/dev/null

venvs=("$@")
if (( ${#venvs[@]} == 0 )); then
  for name in airflow3 airflow2; do [[ -x .venv/$name/bin/python ]] && venvs+=("$name"); done
fi
(( ${#venvs[@]} )) || { echo "bench-airflow: no Airflow venv; run scripts/venvs/airflow.sh" >&2; exit 2; }

for name in "${venvs[@]}"; do
  for case in ephys s1000 s1000-one; do
    AIRFLOW_HOME="$work/home" AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR PYTHONWARNINGS=ignore \
      ".venv/$name/bin/python" - "$work/$case/airflow" "$case" <<'PY'
import glob, os, statistics, sys, time
folder, label = sys.argv[1], sys.argv[2]
t = time.perf_counter()
import airflow
import_airflow = time.perf_counter() - t
try:
    from airflow.dag_processing.dagbag import DagBag
    def parse(path): return DagBag(dag_folder=path)
except ImportError:
    from airflow.models.dagbag import DagBag
    def parse(path): return DagBag(path, include_examples=False)
files = sorted(glob.glob(os.path.join(folder, "w*.py")), key=os.path.getsize, reverse=True)
biggest = files[0]
t = time.perf_counter(); bag = parse(biggest); cold = time.perf_counter() - t
assert not bag.import_errors, bag.import_errors
dag = next(iter(bag.dags.values()))
warm = []
for _ in range(5):
    t = time.perf_counter(); parse(biggest); warm.append(time.perf_counter() - t)
t = time.perf_counter(); whole = parse(folder); total = time.perf_counter() - t
assert not whole.import_errors and len(whole.dags) == len(files)
print("airflow %-7s %-9s %d DAG files; largest %-26s %4d tasks %5.0f KB: cold %6.3f s, warm %6.3f s; all files %6.3f s (import airflow %.2f s)"
      % (airflow.__version__, label, len(files), os.path.basename(biggest), len(dag.tasks), os.path.getsize(biggest) / 1024,
         cold, statistics.median(warm), total, import_airflow))
PY
  done
done
