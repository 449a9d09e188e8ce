"""End to end on a real SLURM cluster and a real MariaDB with DataJoint: compile the ephys sample,
submit each workflow with the generated submit.sh, enter gate data in between, and check the database."""
import collections
import json
import pathlib
import re
import subprocess
import sys

import pytest

import slurm_cluster
from conftest import REPO

AUTO_TABLES = ["Recording", "LFP", "Clustering", "CuratedClustering", "Waveforms", "QualityMetrics"]
# Nearest dependencies of the plan (djflow plan Samples/ephys/djflow.yaml).
# Table-level edges: across a gate (a later workflow starts after the earlier one has finished).
EDGES = [("Recording", "Clustering"), ("Clustering", "CuratedClustering")]
# Pipelined edges (the default): the child starts with its parent and takes each key once the parent's
# row for it is committed, so each child key starts after the parent's make() for that key ended.
KEY_EDGES = [("Recording", "LFP"), ("CuratedClustering", "Waveforms"), ("CuratedClustering", "QualityMetrics")]


def stage(env, step, *args):
    subprocess.run([sys.executable, "stage.py", step, *args], cwd=REPO / "Samples/ephys", env=env, check=True)


def db_counts(env):
    """Rows per table, keys still to do, and jobs-table errors, read by DataJoint from the database."""
    code = """
import json, datajoint as dj, ephys_pipeline as ep
out = {}
for name in %r:
    t = getattr(ep, name)
    remaining, total = t.progress(display=False)
    errors = len(t.jobs.errors) if hasattr(t.jobs, 'errors') else 0
    out[name] = {"rows": len(t()), "remaining": remaining, "total": total, "errors": errors}
print(json.dumps(out))
""" % (AUTO_TABLES,)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO / "Samples/ephys", env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def submit(env, script, workdir, *args):
    """Runs a generated submit script; returns {table: [job ids]} from its summary table."""
    result = subprocess.run(["bash", str(script), *args], cwd=workdir, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ids = {}
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["table", "job", "id"], result.stdout
    for line in lines[1:]:
        label, job = line.rsplit(None, 1)
        ids[label.strip()] = job.split(":")
    return ids


def wait(env, ids):
    every = [job for jobs in ids.values() for job in jobs]
    slurm_cluster.wait_for(every, timeout=300, env=env)
    return {label: [task for job in jobs for task in slurm_cluster.final_state(job, env=env)] for label, jobs in ids.items()}


def make_log(env):
    path = pathlib.Path(env["DJFLOW_SAMPLE_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_complete_once_in_order(env):
    """Every table done with no key in error; each key made exactly once (the make() log against the
    database's rows); each table of EDGES started after its upstream table's last key, and each key of
    KEY_EDGES after its parent key. Returns the make() log."""
    counts = db_counts(env)
    for table in AUTO_TABLES:
        assert counts[table]["remaining"] == 0 and counts[table]["rows"] > 0 and counts[table]["errors"] == 0, (table, counts)
    log = make_log(env)
    made = collections.Counter((e["table"], json.dumps(e["key"], sort_keys=True)) for e in log)
    assert not [k for k, n in made.items() if n > 1], "keys made more than once"
    per_table = collections.Counter(t for t, _ in made)
    assert all(per_table[t] == counts[t]["rows"] for t in AUTO_TABLES), (per_table, counts)
    first_start = {t: min(e["start"] for e in log if e["table"] == t) for t in AUTO_TABLES}
    last_end = {t: max(e["end"] for e in log if e["table"] == t) for t in AUTO_TABLES}
    for parent, child in EDGES:
        assert first_start[child] >= last_end[parent], (parent, child)
    for parent, child in KEY_EDGES:
        ends = {json.dumps(e["key"], sort_keys=True): e["end"] for e in log if e["table"] == parent}
        names = json.loads(next(iter(ends))).keys()
        for entry in (e for e in log if e["table"] == child):
            key = json.dumps({k: v for k, v in entry["key"].items() if k in names}, sort_keys=True)
            assert entry["start"] >= ends[key], (parent, child, entry)
    return log


def compile_ephys(folder, env, djflow_bin, edit=lambda spec: spec):
    """The ephys sample compiled for SLURM against this machine's database (host rewritten in a copy of the
    spec, `edit` applied to its text); returns (the slurm folder, an empty folder to run in)."""
    spec = (REPO / "Samples/ephys/djflow.yaml").read_text()
    spec = spec.replace("host: db.example.org:3306", f"host: '{env['DJ_HOST']}'")
    # The test node has 2 real cores and ~22 GiB: scale the GPU table down so its 4 workers run together.
    spec = spec.replace("resources: {cpus: 8, memory: 32G, gpus: 1, time: \"12:00:00\"}",
                        "resources: {cpus: 1, memory: 1G, gpus: 1, time: \"0:30:00\"}")
    assert "memory: 1G, gpus: 1" in spec
    (folder / "djflow.yaml").write_text(edit(spec))
    subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder, check=True)
    run = folder / "run"
    run.mkdir()
    return folder / "gen" / "slurm", run


@pytest.fixture(scope="module")
def compiled(cluster_env, djflow_bin, tmp_path_factory):
    """The ephys sample compiled against this machine's database."""
    return compile_ephys(tmp_path_factory.mktemp("e2e"), cluster_env, djflow_bin)


def test_workflows_run_in_order_and_fill_every_key_once(cluster_env, compiled):
    env = cluster_env
    slurm, run = compiled
    stage(env, "initial")

    states = wait(env, submit(env, slurm / "w0-recording/submit.sh", run))
    for label, tasks in states.items():
        assert tasks and all(t["JobState"] == "COMPLETED" for t in tasks), (label, tasks)
    counts = db_counts(env)
    assert counts["Recording"]["rows"] == 8 and counts["Recording"]["remaining"] == 0
    assert counts["LFP"]["rows"] == 8
    assert counts["Clustering"]["total"] == 0, "gate not filled yet: nothing to cluster"

    stage(env, "clustering-tasks")
    states = wait(env, submit(env, slurm / "w1-clustering_task/submit.sh", run))
    assert all(t["JobState"] == "COMPLETED" for tasks in states.values() for t in tasks), states
    assert len(states["Clustering"]) == 4, "one array task per worker"

    stage(env, "curations")
    states = wait(env, submit(env, slurm / "w2-curation/submit.sh", run))
    assert all(t["JobState"] == "COMPLETED" for tasks in states.values() for t in tasks), states

    log = assert_complete_once_in_order(env)
    # Workers of one table split its keys: several array tasks made Clustering keys, none twice.
    clustering_workers = {entry["job_id"] for entry in log if entry["table"] == "Clustering"}
    assert len(clustering_workers) >= 2, clustering_workers


def test_restriction_at_submit_time_runs_one_entry(cluster_env, compiled):
    env = cluster_env
    slurm, run = compiled
    stage(env, "initial", "--extra-subject", "mouse'3 \"ü\" $(x)")
    before = {(e["table"], json.dumps(e["key"], sort_keys=True)) for e in make_log(env)}
    restriction = json.dumps({"subject": "mouse'3 \"ü\" $(x)"})
    states = wait(env, submit(env, slurm / "w0-recording/submit.sh", run, "--restriction", restriction))
    assert all(t["JobState"] == "COMPLETED" for tasks in states.values() for t in tasks), states
    new = [e for e in make_log(env) if (e["table"], json.dumps(e["key"], sort_keys=True)) not in before]
    assert new and all(e["key"]["subject"] == "mouse'3 \"ü\" $(x)" for e in new), new


def test_failing_key_fails_the_job_and_holds_back_only_its_dependents(cluster_env, compiled):
    """Pipelined LFP: the failed Recording key holds back its own LFP key only; the other keys flow
    through; the Recording job still fails."""
    env = cluster_env
    slurm, run = compiled
    stage(env, "initial", "--with-failure")
    states = wait(env, submit(env, slurm / "w0-recording/submit.sh", run))
    recording = states["Recording"]
    assert any(t["JobState"] == "FAILED" and t["ExitCode"] == "1:0" for t in recording), recording
    lfp = states["LFP"]
    assert all(t["JobState"] == "COMPLETED" for t in lfp), lfp
    failing = {"subject": "mouse1", "session_id": 99, "insertion_number": 1}
    assert failing not in [e["key"] for e in make_log(env) if e["table"] == "LFP"], "LFP must not run on broken input"
    counts = db_counts(env)
    assert counts["Recording"]["errors"] == 1
    assert counts["Recording"]["remaining"] == 1
    assert counts["LFP"]["remaining"] == 0 and counts["LFP"]["rows"] == counts["Recording"]["rows"], counts
    lfp_logs = sorted((run / "logs").glob("ephys-lfp_*.out"))
    lfp_summaries = [json.loads(line) for p in lfp_logs for line in p.read_text().splitlines() if line.startswith("{")]
    assert any(s["follow"]["held_back"] == {"Recording": 1} for s in lfp_summaries), lfp_summaries
    # The worker logs end with the runner's JSON summary.
    logs = sorted((run / "logs").glob("ephys-recording_*.out"))
    summaries = [json.loads(line) for p in logs for line in p.read_text().splitlines() if line.startswith("{")]
    assert any(s["status"] == "errors" and s["error_count"] == 1 for s in summaries), summaries


def test_failed_sbatch_stops_the_submission_and_cancels_what_was_submitted(cluster_env, djflow_bin, tmp_path):
    """A request the cluster cannot satisfy makes sbatch fail: submit.sh names it, cancels earlier jobs, exits 1."""
    env = cluster_env
    spec = (REPO / "Samples/tutorial/djflow.yaml").read_text()
    spec = spec.replace("    workers: 2\n", "    workers: 2\n    resources: {memory: 4T}\n")
    assert "memory: 4T" in spec
    (tmp_path / "djflow.yaml").write_text(spec)
    subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=tmp_path, check=True)
    result = subprocess.run(["bash", "gen/slurm/submit_all.sh"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result
    assert "submit: sbatch failed for Spikes" in result.stderr
    cancelled = re.search(r"cancelling the jobs already submitted: ([0-9 ]+)", result.stderr)
    assert cancelled, result.stderr
    ids = cancelled.group(1).split()
    assert len(ids) == 2  # Neuron, ActivityStatistics (Spikes is pipelined: no refresh step of its own)
    slurm_cluster.wait_for(ids, timeout=60, env=env)
    for job in ids:
        for task in slurm_cluster.final_state(job, env=env):
            assert task["JobState"] == "CANCELLED", task
