#!/usr/bin/env bash
# Benchmark of `djflow status` (prints figures; never a pass/fail timing): the ephys sample after a partial
# run, and a synthetic 300-table pipeline (scripts/bench/synthetic_db.py) declared for real with 10,000
# subjects, so each of its 299 computed tables has 10,000 keys to do and a few are partly done. For the
# status reader's fast path and for DataJoint's own path (DJFLOW_STATUS_PLAIN=1), run in turn so both see
# the same load: the median and minimum wall time of `djflow status` (including Python and DataJoint
# starting) and the SQL statements sent, per table, by the reader's own count of every statement through
# DataJoint's connection (the server's global Questions counter is shared with whatever else uses the test
# server); then the fast path's seconds per phase (wall and CPU) from one run. The load average is printed
# with the figures: wall times on 2 cores shared with other work follow it.
# Needs the test database and .venv/dj2 (scripts/db/up.sh, scripts/venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build -c release >/dev/null
bin=$PWD/.build/release/djflow
py=$PWD/.venv/dj2/bin/python
envfile=$(scripts/db/up.sh)
# shellcheck disable=SC1090
source "$envfile"
export DJ_IGNORE_CONFIG_FILE=true DJ_USE_TLS=false
work=$(mktemp -d)
prefix="djflow_bench_$$_"
cleanup() {
  "$py" - "$prefix" <<'PY' || true
import os, sys
sys.path.insert(0, "integration")
import testdb
env = {k: v for k, v in os.environ.items() if k.startswith("DJ_")}
testdb.drop_schemas(env, sys.argv[1])
PY
  rm -rf "$work"
}
trap cleanup EXIT

reader() {  # reader FOLDER [ENV...]: the status reader's own account of one run (statements, phases)
  local folder=$1
  shift
  cat >"$work/python" <<SH
#!/usr/bin/env bash
set -o pipefail
"$py" "\$@" | tee "$work/reader.json"
SH
  chmod +x "$work/python"
  (cd "$folder" && env "$@" "$bin" status djflow.yaml --python "$work/python" --scheduler none >/dev/null) || true
  "$py" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["reader"]))' "$work/reader.json"
}

measure() {  # measure LABEL RUNS TABLES FOLDER
  local label=$1 runs=$2 tables=$3 folder=$4 fast plain
  fast=$(reader "$folder" DJFLOW_STATUS_PLAIN=0)
  plain=$(reader "$folder" DJFLOW_STATUS_PLAIN=1)
  "$py" - "$label" "$runs" "$tables" "$fast" "$plain" "$bin" "$py" "$folder" <<'PY'
import json, os, statistics, subprocess, sys, time
label, runs, tables, fast, plain, binary, py, folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    json.loads(sys.argv[4]), json.loads(sys.argv[5]), *sys.argv[6:]
times = {"0": [], "1": []}
for _ in range(runs):  # the fast path and DataJoint's own path in turn, so both see the same load
    for mode in times:
        t = time.perf_counter()
        subprocess.run([binary, "status", "djflow.yaml", "--python", py, "--scheduler", "none"], cwd=folder,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DJFLOW_STATUS_PLAIN=mode))
        times[mode].append(time.perf_counter() - t)
for mode, account, name in (("0", fast, "fast path"), ("1", plain, "DataJoint's own path")):
    print(f"{label + ', ' + name:<64} median {statistics.median(times[mode]):5.2f} s   "
          f"min {min(times[mode]):5.2f} s   {account['sent']} SQL statements ({account['sent'] / tables:.1f} per table)")
order = ["import datajoint", "import pipeline", "jobs tables", "key sources", "counts", "details"]
for kind, what in (("seconds", "wall"), ("cpu_seconds", "CPU")):
    phases = ", ".join(f"{k} {fast[kind][k]:.2f}" for k in order if k in fast[kind])
    server = sum(v for k, v in fast["seconds"].items() if k.endswith("(sql)"))
    print(f"    fast path, one run, {what} (s): {phases}" + (f"; waiting for the server {server:.2f}" if kind == "seconds" else ""))
print(f"    ({runs} runs each, load average {os.getloadavg()[0]:.1f})")
PY
}

echo "djflow status benchmarks (release build, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$py" - "$py" <<'PY'
import statistics, subprocess, sys, time
times = []
for _ in range(3):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "-c", "import datajoint"], stderr=subprocess.DEVNULL)
    times.append(time.perf_counter() - t)
print(f"python + import datajoint alone: median {statistics.median(times):.2f} s, min {min(times):.2f} s (3 runs)")
PY

# ephys: staged, Recording run (one key fails)
mkdir -p "$work/ephys"
sed "s/host: db.example.org:3306/host: '$DJ_HOST'/" Samples/ephys/djflow.yaml >"$work/ephys/djflow.yaml"
export PYTHONPATH=$PWD/Samples/ephys DJFLOW_SAMPLE_SCHEMA="${prefix}ephys" DJFLOW_SAMPLE_SLEEP=0
"$py" Samples/ephys/stage.py initial --with-failure >/dev/null 2>&1
"$py" Templates/runner/djflow_populate.py --module ephys_pipeline --table Recording >/dev/null 2>&1 || true
measure "status ephys (9 tables)" 5 9 "$work/ephys"

# synthetic: 300 tables, 10,000 subjects, three tables partly done
python3 scripts/bench/synthetic_db.py 300 10 "$work/synth"
export PYTHONPATH=$work/synth SYNTH_PREFIX="${prefix}s_"
t0=$(date +%s)
"$py" - <<'PY' 2>/dev/null
import datajoint as dj
dj.config["safemode"] = False
import importlib
modules = [importlib.import_module("synthdb.m%02d" % k) for k in range(10)]
modules[0].Subject.insert([(i,) for i in range(10000)])
for name in ("T0001", "T0002", "T0003"):
    table = getattr(modules[0], name)
    table().insert([dict(subject_id=i, value=1.0) for i in range(0, 10000, 3)], allow_direct_insert=True)
PY
echo "declare 300 tables and insert 10,000 subjects: $(( $(date +%s) - t0 )) s"
measure "status synthetic (300 tables, 10,000 keys)" 5 300 "$work/synth"
