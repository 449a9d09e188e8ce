"""Tiny helper for end-to-end tests against the private SLURM test cluster.

    from tests.e2e import slurm_cluster as sc     # or put integration/e2e on sys.path
    env = sc.up()                                 # starts/reuses the cluster
    ids = [subprocess.run(["sbatch", "--parsable", path], env=env, ...).stdout.strip()]
    sc.wait_for(ids, timeout=60, env=env)
    for task in sc.final_state(ids[0], env=env):  # one dict per (array) job
        assert task["JobState"] == "COMPLETED", task

The cluster is driven by scripts/slurm/up.sh / down.sh; state lives in
${DJFLOW_STATE:-<repo>/.state}/slurm. Stdlib only. Parse `sbatch --parsable`
output with `.split(";")[0]` if a cluster name may be appended.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UP_SH = REPO / "scripts" / "slurm" / "up.sh"
DOWN_SH = REPO / "scripts" / "slurm" / "down.sh"

#: Fields returned by final_state(); missing ones are None.
FIELDS = ("JobId", "ArrayJobId", "ArrayTaskId", "JobState", "ExitCode",
          "SubmitTime", "StartTime", "EndTime", "JobName", "Restarts")


class SlurmError(RuntimeError):
    pass


def up(timeout: float = 120) -> dict[str, str]:
    """Run up.sh (idempotent, ~0.1 s when warm) and return os.environ plus the
    variables from <state>/env.sh (SLURM_CONF, DJFLOW_SLURM_DIR)."""
    proc = subprocess.run([str(UP_SH)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SlurmError(f"up.sh failed (rc {proc.returncode}):\n{proc.stderr}")
    env_sh = proc.stdout.strip().splitlines()[-1]
    env = dict(os.environ)
    for line in Path(env_sh).read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def down() -> None:
    """Run down.sh (cancel all jobs, stop daemons)."""
    subprocess.run([str(DOWN_SH)], check=True, capture_output=True, text=True)


def wait_for(job_ids: Iterable[str | int], timeout: float = 120,
             env: Mapping[str, str] | None = None, poll: float = 0.2) -> None:
    """Block until none of job_ids is unfinished.

    A job counts as finished when squeue no longer lists it, or when it is
    PENDING with reason DependencyNeverSatisfied (it would wait forever).
    Raises TimeoutError listing the jobs still active."""
    ids = ",".join(str(j) for j in job_ids)
    if not ids:
        return
    env = dict(env) if env is not None else up()
    deadline = time.monotonic() + timeout
    active: list[str] = []
    while True:
        proc = subprocess.run(["squeue", "-h", "-j", ids, "-o", "%i %T %r"],
                              capture_output=True, text=True, env=env)
        if proc.returncode == 0:
            active = [ln for ln in proc.stdout.splitlines() if ln.strip()
                      and not (ln.split()[1:3] == ["PENDING", "DependencyNeverSatisfied"])]
            if not active:
                return
        elif "Invalid job id" in proc.stderr:
            return  # every listed id is gone (finished and purged, or never existed)
        # any other error: transient (controller busy/restarting) -> retry
        if time.monotonic() >= deadline:
            detail = "\n".join(active) or proc.stderr.strip()
            raise TimeoutError(f"jobs {ids} not finished after {timeout}s:\n{detail}")
        time.sleep(poll)


def start_requeued(job_id: str | int, env: Mapping[str, str] | None = None) -> None:
    """Let a requeued job start again soon, instead of after SLURM's requeue hold (its begin time is set
    CredExpire, 120 s, ahead). Not at once: slurmd revokes a killed job's credential and refuses every
    credential of that job made in the same second or before ("Job credential revoked", the job then ends
    FAILED without running), which is why SLURM holds requeued jobs at all. Two seconds are past it."""
    env = dict(env) if env is not None else up()
    subprocess.run(["scontrol", "update", f"jobid={job_id}", "starttime=now+2"],
                   check=True, capture_output=True, text=True, env=env)


def final_state(job_id: str | int, env: Mapping[str, str] | None = None) -> list[dict]:
    """Parse `scontrol show job -o ID`: one dict per line (an array job id gives
    one line per started task; still-pending tasks share one line whose
    ArrayTaskId is a range such as "2-3%2"). Values are strings;
    ArrayJobId/ArrayTaskId are None for plain jobs; ExitCode is
    "status:signal". Works until MinJobAge (1 h) after the job ended."""
    env = dict(env) if env is not None else up()
    proc = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SlurmError(f"scontrol show job {job_id}: {proc.stderr.strip()}")
    return [_parse_job_line(ln) for ln in proc.stdout.splitlines() if ln.strip()]


def _parse_job_line(line: str) -> dict:
    # `-o` prints space-separated Key=Value pairs. Values may contain spaces
    # (JobName, Command, WorkDir, ...), so a token without a "Key=" prefix
    # continues the previous value.
    out: dict[str, str] = {}
    key = None
    for tok in line.split(" "):
        k, sep, v = tok.partition("=")
        if sep and k and k.replace(":", "").replace("/", "").isalnum():
            key = k
            out[key] = v
        elif key is not None:
            out[key] += " " + tok
    return {f: out.get(f) for f in FIELDS}
