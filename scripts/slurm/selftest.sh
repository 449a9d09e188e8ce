#!/usr/bin/env bash
# Smoke test for the private SLURM test cluster (~10 s): starts/reuses it via
# integration/e2e/slurm_cluster.py and checks the sbatch features djflow relies on
# (arrays with %throttle, afterok + --kill-on-invalid-dep, --chdir/--output
# patterns, --requeue, --signal, --gres=gpu, partitions, byte-exact script
# arguments) and prints latencies. Leaves the cluster running; jobs and files
# go to a temp dir that is removed afterwards.
set -euo pipefail
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/../.." && pwd)
exec python3 - "$REPO" <<'PY'
import os, subprocess, sys, tempfile, time, shutil
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]) / "integration" / "e2e"))
import slurm_cluster as sc

t0 = time.monotonic()
env = sc.up()
print(f"up.sh: {time.monotonic() - t0:.2f} s")
work = Path(tempfile.mkdtemp(prefix="djflow-slurm-selftest-"))
(work / "logs").mkdir()
fails = []

def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        fails.append(msg)

def sbatch(*args, script=None, rc=0):
    cmd = ["sbatch", "--parsable", f"--chdir={work}", "--output=logs/%x_%A_%a.out", *args]
    if script:  # script path and its arguments go last
        cmd += script
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    if p.returncode != rc:
        raise SystemExit(f"sbatch {args} rc={p.returncode}: {p.stderr}")
    return p.stdout.strip().split(";")[0] if rc == 0 else p.stderr.strip()

def state(jid):
    return [(d["JobState"], d["ExitCode"]) for d in sc.final_state(jid, env=env)]

# 1. array with throttle, 2. afterok on the whole array
stamp = 'echo "$(date +%s.%N) $(sleep 0.7; date +%s.%N)" > "t_${SLURM_ARRAY_TASK_ID}"'
arr = sbatch("--job-name=arr", "--array=0-3%2", "--wrap", stamp)
dep = sbatch("--job-name=dep", f"--dependency=afterok:{arr}", "--kill-on-invalid-dep=yes",
             "--wrap", "date +%s.%N > dep_start")
# 3. failing parent -> dependent cancelled
bad = sbatch("--job-name=bad", "--wrap", "exit 1")
t_bad = time.monotonic()
bad_dep = sbatch("--job-name=baddep", f"--dependency=afterok:{bad}", "--kill-on-invalid-dep=yes",
                 "--wrap", "touch should_not_exist")
# 4./5. plain job: %a naming, --requeue, --signal
plain = sbatch("--job-name=plain", "--requeue", "--signal=B:TERM@60", "--wrap", "echo hi")
# 6. GPU gres / partitions / --gres=none
gpu = sbatch("--job-name=gpu", "--partition=gpu", "--gres=gpu:1",
             "--wrap", 'echo "CVD=${CUDA_VISIBLE_DEVICES-unset} GPU_DEVICE_ORDINAL=${GPU_DEVICE_ORDINAL-unset}"')
nog = sbatch("--job-name=nogres", "--partition=compute", "--gres=none", "--wrap", "true")
too_many = sbatch("--job-name=toomany", "--gres=gpu:5", "--wrap", "true", rc=1)
# 7. hostile argument to a batch script
hostile = "a'b\"c $(touch PWNED) `touch PWNED2` ${HOME}\n\\n\ttab ünï©ødé 🚀 {\"subject\": \"M'1\"} ; rm -rf / #"
script = work / "echo_arg.sh"
script.write_text('#!/bin/bash\nprintf "%s" "$1" > arg.out\nprintf "%s" "$#" > argc.out\n')
arg = sbatch("--job-name=hostile", script=[str(script), hostile, "second"])

sc.wait_for([arr, dep, bad, plain, gpu, nog, arg], timeout=60, env=env)
t_wait_bad = time.monotonic()
sc.wait_for([bad_dep], timeout=30, env=env)
print(f"failed parent -> dependent CANCELLED observed {time.monotonic() - t_bad:.2f} s after submit")

tasks = sc.final_state(arr, env=env)
check(sorted(d["ArrayTaskId"] for d in tasks) == ["0", "1", "2", "3"]
      and all(d["JobState"] == "COMPLETED" and d["ArrayJobId"] == arr for d in tasks),
      f"array 0-3%2 all COMPLETED: {[(d['JobId'], d['ArrayTaskId'], d['JobState']) for d in tasks]}")
spans = [tuple(map(float, (work / f"t_{i}").read_text().split())) for i in range(4)]
peak = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
check(peak <= 2, f"array throttle %2 respected (peak concurrency {peak})")
dep_start = float((work / "dep_start").read_text())
check(state(dep) == [("COMPLETED", "0:0")] and dep_start >= max(e for _, e in spans),
      f"afterok:<array> ran after all tasks: {state(dep)}")
check(state(bad) == [("FAILED", "1:0")], f"exit 1 -> FAILED 1:0: {state(bad)}")
check(state(bad_dep) == [("CANCELLED", "0:0")] and not (work / "should_not_exist").exists(),
      f"afterok on failed parent + kill-on-invalid-dep -> CANCELLED: {state(bad_dep)}")
check(state(plain) == [("COMPLETED", "0:0")], f"--requeue --signal=B:TERM@60 job COMPLETED")
logs = sorted(p.name for p in (work / "logs").iterdir())
print("     log names:", logs)
check(f"plain_{plain}_4294967294.out" in logs, "non-array job: %A = job id, %a = 4294967294")
check(all(f"arr_{arr}_{i}.out" in logs for i in range(4)), "array: %x_%A_%a -> arr_<arrayid>_<task>.out")
check(state(gpu) == [("COMPLETED", "0:0")], f"--partition=gpu --gres=gpu:1 COMPLETED: {state(gpu)}")
print("     gpu job env:", (work / f"logs/gpu_{gpu}_4294967294.out").read_text().strip())
check(state(nog) == [("COMPLETED", "0:0")], "--gres=none accepted")
check("Requested node configuration is not available" in too_many or "Invalid" in too_many,
      f"--gres=gpu:5 rejected at submit: {too_many!r}")
got = (work / "arg.out").read_bytes()
check(got == hostile.encode() and (work / "argc.out").read_text() == "2"
      and not (work / "PWNED").exists() and not (work / "PWNED2").exists(),
      "hostile script argument arrived byte-exact, nothing executed")

# 8. latency: 3-link afterok chain, submit -> all done
t = time.monotonic()
a = sbatch("--job-name=c1", "--wrap", "true")
b = sbatch("--job-name=c2", f"--dependency=afterok:{a}", "--wrap", "true")
c = sbatch("--job-name=c3", f"--dependency=afterok:{b}", "--wrap", "true")
sc.wait_for([a, b, c], timeout=60, env=env)
chain = time.monotonic() - t
check([state(j)[0][0] for j in (a, b, c)] == ["COMPLETED"] * 3, f"3-link afterok chain done in {chain:.2f} s")

# 9. throughput: 8 independent 1-s jobs
t = time.monotonic()
ids = [sbatch(f"--job-name=p{i}", "--wrap", "sleep 1") for i in range(8)]
sc.wait_for(ids, timeout=60, env=env)
print(f"     8 x 'sleep 1' jobs: all done in {time.monotonic() - t:.2f} s")

shutil.rmtree(work, ignore_errors=True)
print(f"selftest {'FAILED: ' + '; '.join(fails) if fails else 'passed'} in {time.monotonic() - t0:.1f} s")
sys.exit(1 if fails else 0)
PY
