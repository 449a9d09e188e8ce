#!/usr/bin/env bash
# Run benchmark on the real single-node SLURM cluster (prints figures; never a pass/fail timing): the ephys
# sample computed (a) sequentially in one process, (b) with djflow's table-level ordering, (c) pipelined with
# workers: auto, (d) by do-it-yourself job arrays of looping workers, (e) as workflow pools; see
# scripts/bench/run_modes.py.
# Environment: BENCH_SLEEP (seconds per make(), default 0.5), BENCH_SUBJECTS (extra subjects, default 2),
# BENCH_SLOTS (workers of (d) and the cap of workers: auto, default 8). Needs scripts/test.sh's services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONDONTWRITEBYTECODE=1
.venv/dj2/bin/python scripts/bench/run_modes.py "$PWD/.build/debug/djflow" "$work"
