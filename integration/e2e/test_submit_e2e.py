"""Operating a run on the real SLURM cluster and MariaDB: a failing key, its cause fixed, then
`submit.sh --retry-failed` computes it exactly once; `submit.sh --skip-done` asks the database (one runner
start) and submits only what remains. The ephys sample's first workflow, in a schema of its own."""
import json
import pathlib
import subprocess
import sys
import time
import uuid

import pytest

from conftest import REPO
from test_slurm_e2e import db_counts, stage, submit, wait

FAILING = {"subject": "mouse1", "session_id": 99, "insertion_number": 1}


@pytest.fixture(scope="module")
def ops(cluster_env, djflow_bin, tmp_path_factory):
    """Its own schema and make() log, and the ephys sample compiled for this machine's database."""
    env = dict(cluster_env)
    env["DJFLOW_SAMPLE_SCHEMA"] = "djflow_ops_" + uuid.uuid4().hex[:8]
    folder = tmp_path_factory.mktemp("ops")
    env["DJFLOW_SAMPLE_LOG"] = str(folder / "make.jsonl")
    spec = (REPO / "Samples/ephys/djflow.yaml").read_text()
    spec = spec.replace("host: db.example.org:3306", f"host: '{env['DJ_HOST']}'")
    (folder / "djflow.yaml").write_text(spec)
    subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder, check=True)
    run = folder / "run"
    run.mkdir()
    yield env, folder / "gen" / "slurm", run
    subprocess.run([sys.executable, "-c", "import datajoint as dj, os; dj.config['safemode']=False; "
                    "dj.Schema(os.environ['DJFLOW_SAMPLE_SCHEMA']).drop(prompt=False)"], env=env, cwd=REPO / "Samples/ephys")


def made(env, table):
    path = pathlib.Path(env["DJFLOW_SAMPLE_LOG"])
    entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [e for e in entries if e["table"] == table]


def summaries(run, prefix):
    """The runners' JSON summaries (last line of each .out log) of jobs whose name starts with prefix."""
    found = []
    for path in sorted((run / "logs").glob(prefix + "_*.out")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return found


def submit_raw(env, script, run, *args):
    return subprocess.run(["bash", str(script), *args], cwd=run, env=env, capture_output=True, text=True)


def test_retry_failed_after_fixing_the_cause_and_skip_done(ops):
    env, slurm, run = ops
    script = slurm / "w0-recording/submit.sh"
    timings = {}
    stage(env, "initial", "--with-failure")

    # 1. The corrupt session fails Recording (after its in-job retry); pipelined LFP makes every other key.
    started = time.monotonic()
    states = wait(env, submit(env, script, run))
    timings["failing run"] = time.monotonic() - started
    assert any(t["JobState"] == "FAILED" for t in states["Recording"]), states
    assert all(t["JobState"] == "COMPLETED" for t in states["LFP"]), states
    counts = db_counts(env)
    assert counts["Recording"]["errors"] == 1 and counts["Recording"]["remaining"] == 1, counts
    assert counts["LFP"]["rows"] == 8 and counts["LFP"]["remaining"] == 0, counts
    assert not [e for e in made(env, "Recording") if e["key"] == FAILING]
    assert not [e for e in made(env, "LFP") if e["key"] == FAILING]

    # 2. The cause is fixed; --retry-failed gives the error row back before the workers start.
    stage(env, "fix-failure")
    started = time.monotonic()
    ids = submit(env, script, run, "--retry-failed")
    states = wait(env, ids)
    timings["--retry-failed"] = time.monotonic() - started
    assert all(t["JobState"] == "COMPLETED" for tasks in states.values() for t in tasks), states
    counts = db_counts(env)
    assert counts["Recording"] == {"rows": 9, "remaining": 0, "total": 9, "errors": 0}, counts
    assert counts["LFP"]["rows"] == 9 and counts["LFP"]["remaining"] == 0, counts
    assert len([e for e in made(env, "Recording") if e["key"] == FAILING]) == 1, "the failed key, made exactly once"
    keys = [json.dumps(e["key"], sort_keys=True) for e in made(env, "Recording")]
    assert len(keys) == len(set(keys)) == 9, "no key made twice"
    refresh_job = ids["Recording (refresh)"][0]
    cleared = [s for s in summaries(run, "ephys-recording.refresh") if s["job_id"] == refresh_job + "_0"]
    assert cleared and cleared[0]["cleared_errors"] == 1, cleared   # the refresh step cleared it, once

    # 3. Everything done: --skip-done submits nothing (one runner start reads both tables).
    started = time.monotonic()
    result = submit_raw(env, script, run, "--skip-done")
    timings["--skip-done, nothing left"] = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["table                                    job id"], result.stdout
    assert "submit: Recording: 0 of 9 keys to do" in result.stderr and "submit: LFP: 0 of 9 keys to do" in result.stderr
    assert "nothing to submit" in result.stderr

    # 4. One LFP key is missing again: --skip-done submits LFP only, without a dependency on Recording.
    subprocess.run([sys.executable, "-c", "import datajoint as dj, ephys_pipeline as ep; dj.config['safemode'] = False; "
                    "(ep.LFP & %r).delete()" % (FAILING,)], env=env, cwd=REPO / "Samples/ephys", check=True,
                   capture_output=True)
    dry = submit_raw(env, script, run, "--skip-done", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    sbatch = [line for line in dry.stdout.splitlines() if line.startswith("sbatch ")]
    assert len(sbatch) == 1 and "/lfp.sbatch " in sbatch[0] and "--dependency" not in sbatch[0], dry.stdout
    lfp_before = len(made(env, "LFP"))
    started = time.monotonic()
    ids = submit(env, script, run, "--skip-done")
    assert list(ids) == ["LFP"], ids
    states = wait(env, ids)
    timings["--skip-done, LFP left"] = time.monotonic() - started
    assert all(t["JobState"] == "COMPLETED" for t in states["LFP"]), states
    assert [e["key"] for e in made(env, "LFP")[lfp_before:]] == [FAILING]
    counts = db_counts(env)
    assert counts["LFP"]["rows"] == 9 and counts["Recording"]["rows"] == 9
    print("\n[" + ", ".join("%s %.1f s" % item for item in timings.items()) + "]")
