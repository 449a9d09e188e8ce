#!/usr/bin/env bash
# Fuzzes djflow's two readers with libFuzzer and AddressSanitizer (docs/FUZZING.md):
#   spec    djflow.yaml text -> diagnostics or a plan (every target's options checked)
#   python  DataJoint Python source text -> diagnostics or a graph and a plan
#
#   scripts/fuzz.sh [--inputs N] [--seconds S] [--reader spec|python|all] [--max-len BYTES]
#
# Each reader runs for N inputs (default 10000) or S seconds (both given: whichever comes first), starting
# from the seeds in Fuzz/corpus/<reader>
# plus what earlier runs kept in .build-fuzz/corpus/<reader>. An input taking more than 2 s is a hang: libFuzzer
# saves every input slower than 2 s (its clock is wall time, so a busy machine can slow an input down) and
# stops at 10 s; each saved input is replayed alone and is a hang when it still takes more than 2 s of CPU.
# Prints per reader: inputs run, time, coverage (edges of the instrumented code) and any finding: crash,
# hang, out-of-memory or sanitizer report, with the input saved under .build-fuzz/findings/<reader>/ and
# the command that replays it. Exit 0 when nothing was found, 1 otherwise.
# The fuzz build lives in .build-fuzz (ignored by git), separate from the normal .build: DJFLOW_FUZZ=1
# makes Package.swift declare the fuzz targets, so `swift build` and `swift test` never build them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

inputs="" seconds="" reader=all max_len=1024
while (( $# )); do
  case $1 in
    --inputs) inputs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --reader) reader=$2; shift 2 ;;
    --max-len) max_len=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
case $reader in
  spec|python) readers=("$reader") ;;
  all) readers=(spec python) ;;
  *) echo "fuzz.sh: --reader is spec, python or all" >&2; exit 64 ;;
esac

scratch=.build-fuzz
# Every module gets AddressSanitizer and libFuzzer's coverage; libFuzzer is linked into the fuzz targets only.
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=address
       -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table)
for r in "${readers[@]}"; do
  DJFLOW_FUZZ=1 swift build "${flags[@]}" --product "djflow-fuzz-$r" 2>&1 | grep -v "Cannot export local symbol" | grep -E "error|warning: unre" || true
  test -x "$scratch/release/djflow-fuzz-$r" || { echo "fuzz.sh: building djflow-fuzz-$r failed" >&2; exit 1; }
done

status=0
for r in "${readers[@]}"; do
  corpus=$scratch/corpus/$r findings=$scratch/findings/$r log=$scratch/fuzz-$r.log
  mkdir -p "$corpus" "$findings"
  limit=()
  [[ -n $inputs || -z $seconds ]] && limit+=(-runs="${inputs:-10000}")
  [[ -n $seconds ]] && limit+=(-max_total_time="$seconds")
  started=$(date +%s)
  set +e
  # No allocation stacks and a small quarantine while fuzzing (3x faster); a replay prints full stacks.
  ASAN_OPTIONS=detect_leaks=1:malloc_context_size=0:quarantine_size_mb=32 \
    "$scratch/release/djflow-fuzz-$r" "${limit[@]}" -timeout=10 -report_slow_units=2 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "Fuzz/corpus/$r" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - started ))
  runs=$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
  pcs=$(grep -Eo 'Loaded 1 PC tables \([0-9]+ PCs\)' "$log" | grep -Eo '[0-9]+' | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1 edges, \2 features, corpus \3 inputs/p' <<<"$last")
  edges=${cov%% *}
  percent=""
  [[ -n ${pcs:-} && -n ${edges:-} ]] && percent=" ($(awk -v e="$edges" -v p="$pcs" 'BEGIN { printf "%.1f", 100 * e / p }')% of $pcs instrumented)"
  echo "fuzz $r: ${runs:-?} inputs in ${elapsed} s, coverage ${cov:-?}${percent}"
  # Inputs slower than 2 s under load: a hang only if they are slow alone too.
  for unit in "$findings"/slow-unit-*; do
    [[ -e $unit ]] || continue
    cpu=$( { TIMEFORMAT='%3U %3S'; time timeout 20 "$scratch/release/djflow-fuzz-$r" "$unit" >/dev/null 2>&1; } 2>&1 | awk '{ print $1 + $2 }')
    if awk -v c="$cpu" 'BEGIN { exit !(c > 2) }'; then
      status=1
      echo "fuzz $r: FOUND a hang: ${cpu} s of CPU alone for $unit"
      echo "  replay: $scratch/release/djflow-fuzz-$r $unit"
    else
      echo "fuzz $r: $unit was slower than 2 s during the run but takes ${cpu} s alone (a busy machine): not a hang"
      mv "$unit" "$findings/busy-${unit##*/slow-unit-}"
    fi
  done
  if grep -q "libFuzzer: run interrupted" "$log"; then
    echo "fuzz $r: interrupted"
    status=1
  elif (( rc != 0 )); then
    status=1
    saved=$(grep -Eo "(crash|timeout|oom|leak|slow-unit)-[0-9a-f]+" "$log" | tail -n 1 || true)
    kind=$(grep -Eo "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+( [a-z-]+)?" "$log" | head -n 1 || true)
    echo "fuzz $r: FOUND ${kind:-a failure (exit $rc)}"
    grep -E "Fatal error|SUMMARY|ERROR:|ALARM" "$log" | head -n 5 | sed 's/^/  /'
    if [[ -n $saved ]]; then
      echo "  input: $findings/$saved"
      echo "  replay: DJFLOW_FUZZ=1 swift build ${flags[*]} --product djflow-fuzz-$r && $scratch/release/djflow-fuzz-$r $findings/$saved"
    fi
    echo "  log: $log"
  else
    echo "fuzz $r: no crash, hang or sanitizer report"
  fi
done
exit "$status"
