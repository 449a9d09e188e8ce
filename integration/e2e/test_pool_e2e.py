"""Workflow pools end to end on the real SLURM cluster and MariaDB (issue #12).

The ephys sample compiled with `defaults: {pool: 4}`: each workflow runs as one sbatch job of 4 CPUs whose
runner imports the pipeline once and forks 4 workers; Clustering, which needs a GPU, keeps its own array
(a warning says so). Checked from the database and the make() log: every key made exactly once, each key
after its inputs, gates ordered workflow after workflow, one runner start per pool; and a pool requeued
by SLURM while its workers are inside make() releases their keys and finishes them in the rerun.
"""
import json
import subprocess
import sys
import time

import pytest

import slurm_cluster

from conftest import REPO, own_schema
from test_slurm_e2e import AUTO_TABLES, assert_complete_once_in_order, compile_ephys, stage, submit, wait


@pytest.fixture(scope="module")
def pool_env(cluster_env, tmp_path_factory):
    yield from own_schema(cluster_env, tmp_path_factory, "pool", 0.6)


def pooled(spec):
    """Four slots per pool; the members' resources scaled to the test node (2 cores, ~22 GiB)."""
    spec = spec.replace("defaults:\n", "defaults:\n  pool: 4\n", 1)
    spec = spec.replace("resources: {cpus: 1, memory: 4G, time: \"1:00:00\"}", "resources: {cpus: 1, memory: 512M, time: \"1:00:00\"}")
    spec = spec.replace("resources: {cpus: 2, memory: 8G, time: \"2:00:00\"}", "resources: {cpus: 1, memory: 512M, time: \"2:00:00\"}")
    assert "pool: 4" in spec and "memory: 4G" not in spec and "memory: 8G" not in spec
    return spec


@pytest.fixture(scope="module")
def compiled_pool(pool_env, djflow_bin, tmp_path_factory):
    return compile_ephys(tmp_path_factory.mktemp("pool"), pool_env, djflow_bin, edit=pooled)


def squeue_state(env, job):
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], env=env, capture_output=True, text=True).stdout.strip()


def reserved_count(env, table):
    code = ("import ephys_pipeline as ep; t = ep.%s; "
            "print(len(t.jobs & 'status=\"reserved\"') if t.jobs.is_declared else 0)" % table)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO / "Samples/ephys", env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def test_pools_make_every_key_once_after_its_inputs_and_survive_a_requeue(pool_env, compiled_pool, djflow_bin):
    env = pool_env
    slurm, run = compiled_pool
    script = (slurm / "w2-curation/w2-curation-pool.sbatch").read_text()
    assert "--pool 4 --member CuratedClustering" in script and "#SBATCH --cpus-per-task=4\n" in script, script
    assert not (slurm / "w2-curation/waveforms.sbatch").exists()
    assert (slurm / "w1-clustering_task/clustering.sbatch").exists()  # GPU table: its own array

    stage(env, "initial")
    for extra in ("pool0", "pool1"):
        subprocess.run([sys.executable, "-c", "import stage; stage.extra_subject(%r)" % extra],
                       cwd=REPO / "Samples/ephys", env=env, check=True)
    jobs = {}
    for workflow, gate in (("w0-recording", None), ("w1-clustering_task", "clustering-tasks"), ("w2-curation", "curations")):
        if gate:
            stage(env, gate)
        ids = submit(env, slurm / workflow / "submit.sh", run)
        if workflow == "w2-curation":
            (pool_job,) = ids["w2-curation-pool"]
            # SLURM requeues the pool while its workers are inside make(): the batch shell forwards SIGTERM to
            # the runner, which forwards it to its workers; each gives its key back, and the rerun finishes.
            deadline = time.time() + 120
            while reserved_count(env, "CuratedClustering") + reserved_count(env, "Waveforms") < 2:
                assert time.time() < deadline, "the pool's workers never got inside make()"
                time.sleep(0.2)
            subprocess.run(["scontrol", "requeue", pool_job], env=env, check=True)
            deadline = time.time() + 60
            while "PENDING" not in squeue_state(env, pool_job):
                assert time.time() < deadline, "the requeued pool never became pending"
                time.sleep(0.2)
            # Every worker stopped by SIGTERM gave its key back, though SLURM signals each worker directly and
            # the pool forwards the signal too (a repeated signal once cut a worker's release short). Only a worker
            # killed outright (SIGKILL after KillWait, on a loaded machine) could not: its key waits for the rerun,
            # which reclaims dead workers' keys (every key is still made once, asserted below); the log says so.
            log_text = "".join(p.read_text(errors="replace") for p in (run / "logs").glob("*pool_%s_*.err" % pool_job.split("_")[0]))
            killed = log_text.count("was killed by signal")
            held = reserved_count(env, "CuratedClustering") + reserved_count(env, "Waveforms")
            assert held <= killed, (held, killed, log_text[-3000:])
            slurm_cluster.start_requeued(pool_job, env)
        states = wait(env, ids)
        for label, states_of in states.items():
            assert states_of and all(t["JobState"] == "COMPLETED" for t in states_of), (label, states_of)
        jobs[workflow] = states
    assert jobs["w2-curation"]["w2-curation-pool"][0]["Restarts"] == "1", jobs["w2-curation"]

    log = assert_complete_once_in_order(env)

    # One runner start per pool run, each forking 4 workers.
    for workflow in ("w0-recording", "w2-curation"):
        outs = sorted((run / "logs").glob("ephys-%s-pool_*.out" % workflow))
        summaries = [json.loads(line) for out in outs for line in out.read_text().splitlines() if line.startswith("{")]
        # (a requeued job's output file is written again from the start: its first summary may be gone)
        assert summaries and summaries[-1]["status"] == "ok", (workflow, summaries)
        assert {s["status"] for s in summaries} <= {"ok", "terminated"}, (workflow, summaries)
        assert all(len(s["pool"]["workers"]) == 4 for s in summaries if s.get("pool", {}).get("workers")), summaries
    pids = {e["pid"] for e in log if e["table"] in ("Recording", "LFP")}
    assert 1 < len(pids) <= 4, pids  # forked workers of one pool job made w0's keys

    # djflow status: every member table done, each with its pool's SLURM job.
    out = subprocess.run([djflow_bin, "status", "djflow.yaml", "--format", "json", "--scheduler", "slurm"],
                         cwd=slurm.parent.parent, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    tables = {t["table"]: t for w in json.loads(out.stdout)["workflows"] for t in w["tables"]}
    assert set(tables) == set(AUTO_TABLES), tables
    assert all(t["state"] == "done" for t in tables.values()), tables
    assert tables["Waveforms"]["job"] == "waveforms", tables["Waveforms"]
    assert {j["name"] for j in tables["Waveforms"]["scheduler"]} == {"ephys-w2-curation-pool"}, tables["Waveforms"]
