"""Pipelining and `workers: auto` end to end on the real SLURM cluster and MariaDB (issue #12).

The ephys sample compiled with `defaults: {workers: auto, max_workers: 4}`: every table is an array that
starts one task; worker 0 raises the throttle as the work pays for it and marks the table done, so tasks
that start later exit before Python. Checked from the database and the make() log: every key made exactly
once, each pipelined child key made after its parent key, gates still ordered table after table, every
task completed, and each task either ran the runner (one JSON summary) or exited at the done marker.
"""
import json

import pytest

from conftest import own_schema
from test_slurm_e2e import AUTO_TABLES, assert_complete_once_in_order, compile_ephys, stage, submit, wait


@pytest.fixture(scope="module")
def auto_env(cluster_env, tmp_path_factory):
    yield from own_schema(cluster_env, tmp_path_factory, "auto", 0.3)


def auto_workers(spec):
    lines = [line for line in spec.splitlines() if not line.strip().startswith("workers:")]
    spec = "\n".join(lines).replace("defaults:\n", "defaults:\n  workers: auto\n  max_workers: 4\n", 1) + "\n"
    assert "workers: auto" in spec
    return spec


@pytest.fixture(scope="module")
def compiled_auto(auto_env, djflow_bin, tmp_path_factory):
    return compile_ephys(tmp_path_factory.mktemp("auto"), auto_env, djflow_bin, edit=auto_workers)


def test_auto_workers_pipelined_make_every_key_once_in_order(auto_env, compiled_auto):
    env = auto_env
    slurm, run = compiled_auto
    assert "--array=0-3%1" in (slurm / "w2-curation/waveforms.sbatch").read_text()
    stage(env, "initial")
    tasks = []
    for script, gate in (("w0-recording", None), ("w1-clustering_task", "clustering-tasks"), ("w2-curation", "curations")):
        if gate:
            stage(env, gate)
        states = wait(env, submit(env, slurm / script / "submit.sh", run))
        for label, states_of in states.items():
            assert states_of and all(t["JobState"] == "COMPLETED" for t in states_of), (label, states_of)
            tasks += states_of

    assert_complete_once_in_order(env)

    # Every task ran the runner (one summary) or left at the done marker before starting Python.
    ran = marker = 0
    for task in tasks:
        stem = "%s_%s" % (task["ArrayJobId"], task["ArrayTaskId"])
        out = list((run / "logs").glob("*_%s.out" % stem))
        err = list((run / "logs").glob("*_%s.err" % stem))
        assert out and err, stem
        summaries = [json.loads(line) for line in out[0].read_text().splitlines() if line.startswith("{")]
        if "the table was done before this worker started" in err[0].read_text():
            marker += 1
            assert not summaries, stem
        else:
            ran += 1
            assert len(summaries) == 1 and summaries[0]["status"] == "ok", (stem, summaries)
            assert summaries[0]["follow"]["left"] in ("done",) or summaries[0]["follow"]["left"].startswith("worker"), summaries
    assert ran >= len(AUTO_TABLES) and marker > 0, (ran, marker)
    done_markers = list((run / "logs").glob(".djflow-done-*"))
    assert len(done_markers) == len(AUTO_TABLES), done_markers
