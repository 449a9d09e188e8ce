#!/usr/bin/env bash
# Benchmarks (prints figures; never a pass/fail timing): djflow compile and plan on the samples and on
# synthetic 300- and 1,000-table pipelines, and a synthetic Python package (300 tables in 20 files) read
# by the static reader; median of several runs (each includes process start). The binary is built as
# scripts/install.sh builds it, what users run: release, with the Swift runtime linked in statically (a
# process starts in about 7 ms instead of 12 ms with the runtime's shared libraries).
#
#   scripts/bench.sh [--scale]   (--scale: only the 1,000- and 10,000-table part at the end)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scale_only=false
[[ ${1-} == --scale ]] && scale_only=true
flags=(-c release --static-swift-stdlib --product djflow)  # as scripts/install.sh builds it
swift build "${flags[@]}" >/dev/null
bin=$(swift build "${flags[@]}" --show-bin-path)/djflow
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/bench/synthetic.py 300 "$work/s300.yaml"
python3 scripts/bench/synthetic.py 1000 "$work/s1000.yaml"
python3 scripts/bench/synthetic_python.py 300 20 "$work/py300"

measure() {  # measure LABEL RUNS COMMAND...
  local label=$1 runs=$2; shift 2
  python3 - "$label" "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
label, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL); times.append(time.perf_counter() - t)
print(f"{label:<44} median {statistics.median(times) * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms   ({runs} runs)")
PY
}

echo "djflow benchmarks (release build as installed, $(nproc) cores)"
if ! $scale_only; then
measure "compile ephys --target slurm" 20 "$bin" compile Samples/ephys/djflow.yaml --target slurm --out "$work/out1"
measure "compile tutorial --target slurm" 20 "$bin" compile Samples/tutorial/djflow.yaml --target slurm --out "$work/out2"
measure "plan synthetic 300 tables" 10 "$bin" plan "$work/s300.yaml" --format json
measure "compile synthetic 300 tables --target slurm" 10 "$bin" compile "$work/s300.yaml" --target slurm --out "$work/out3"
measure "plan synthetic 1000 tables" 5 "$bin" plan "$work/s1000.yaml" --format json
measure "compile synthetic 1000 tables --target slurm" 5 "$bin" compile "$work/s1000.yaml" --target slurm --out "$work/out4"
measure "compile --check synthetic 1000 tables" 5 "$bin" compile "$work/s1000.yaml" --target slurm --out "$work/out4" --check
measure "read Python: 300 tables in 20 files (import)" 20 "$bin" import --format json "$work/py300/synth/*.py"
measure "plan Python-sourced 300 tables" 20 "$bin" plan "$work/py300/djflow.yaml" --format json
measure "compile Python-sourced 300 tables --target slurm" 10 "$bin" compile "$work/py300/djflow.yaml" --target slurm --out "$work/out5"
"$bin" plan "$work/py300/djflow.yaml" --format text | head -n 1
echo "files for 1000 tables: $(find "$work/out4" -type f | wc -l), $(du -sh "$work/out4" | cut -f1)"
fi

# Scale: 1,000 and 10,000 tables, every target (the Kubernetes one needs an image and a secret), with the
# peak memory of each run (its own rusage) and the size of what it writes. The output goes to a RAM file
# system when there is one (/dev/shm), so the figures are the compiler's own work; a disk adds its write
# time (the last line: 10,000 tables for every target, about 180 MB, written to a disk folder).
scale=$work
if [[ -d /dev/shm && -w /dev/shm ]]; then
  scale=$(mktemp -d /dev/shm/djflow-bench.XXXXXX)
  trap 'rm -rf "$work" "$scale"' EXIT
fi
echo "scale output in $scale ($(stat -f -c %T "$scale"))"
python3 scripts/bench/synthetic.py 1000 "$scale/c1000.yaml" --containers
python3 scripts/bench/synthetic.py 10000 "$scale/c10000.yaml" --containers
peak() {  # peak LABEL COMMAND...: median and best wall time of 5 runs, and the largest peak resident memory
  python3 - "$@" <<'PY'
import os, statistics, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
times, peak = [], 0
for _ in range(5):
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    times.append(time.perf_counter() - t)
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    peak = max(peak, usage.ru_maxrss)
print(f"{label:<44} median {statistics.median(times):6.3f} s   min {min(times):6.3f} s   peak {peak / 1024:5.0f} MB")
PY
}
for n in 1000 10000; do
  peak "plan $n tables" "$bin" plan "$scale/c$n.yaml"
  peak "plan $n tables --format json" "$bin" plan "$scale/c$n.yaml" --format json
  peak "validate $n tables" "$bin" validate "$scale/c$n.yaml"
  for target in slurm htcondor kubernetes airflow all; do
    rm -rf "$scale/c$n-$target"
    peak "compile $n tables --target $target" "$bin" compile "$scale/c$n.yaml" --target "$target" --out "$scale/c$n-$target"
  done
  peak "compile --check $n tables --target all" "$bin" compile "$scale/c$n.yaml" --target all --out "$scale/c$n-all" --check
  echo "output of $n tables, every target: $(find "$scale/c$n-all" -type f | wc -l) files, $(du -sh "$scale/c$n-all" | cut -f1)"
done
rm -rf "$work/disk-all"
peak "compile 10000 tables --target all, on disk" "$bin" compile "$scale/c10000.yaml" --target all --out "$work/disk-all"
