"""The Elements workflow (integration/elements_workflow: element-lab, -animal, -session and -array-ephys from PyPI,
activated by the lab's workflow module, plus the lab's own SessionAge) compiled for Airflow from its Python
sources, with runner.python = .venv/elements (DataJoint 0.14.10), and its three DAGs run with dag.test()
against the real MariaDB: every task (the mapped SessionAge workers too) imports the workflow module, finds
its table in the Element that defines it, and succeeds; SessionAge fills every key once. The gates
(ClusteringTask, Curation) stay empty, so w1 and w2 have nothing to do and exit 0."""

import os
import sys
import time

import pytest

from conftest import REPO, compile_airflow, run_dag

sys.path.insert(0, str(REPO / "integration" / "elements_workflow"))
import elements_workflow as ew  # noqa: E402

# Task instances of each DAG: (task_id, map_index), from `djflow plan` (SessionAge has 2 workers).
EXPECTED = {
    "mylab-w0-ephys_recording": {("ephys_recording", -1), ("lfp", -1), ("session_age.refresh", -1),
                                 ("session_age", 0), ("session_age", 1)},
    "mylab-w1-clustering_task": {("clustering", -1)},
    "mylab-w2-curation": {("curated_clustering", -1), ("quality_metrics", -1), ("waveform_set", -1)},
}


@pytest.fixture(scope="module")
def elements(tmp_path_factory, db_env):
    folder = tmp_path_factory.mktemp("elements")
    spec, env = ew.prepare(folder, db_env, targets_yaml="targets:\n  airflow: {retry_delay: 0}\n", python=ew.PYTHON)
    dags = compile_airflow(spec, "elements")
    yield folder, env, dags
    ew.drop(env)


def test_elements_workflows_run_every_task_and_fill_the_lab_table(elements, airflow_db, monkeypatch):
    folder, env, dags = elements
    text = (dags / "w0-ephys_recording.py").read_text()
    assert ("exec -- %s \"$DJFLOW_RUNNER\" --module mylab.pipeline --table element_array_ephys.ephys_acute.EphysRecording "
            % ew.PYTHON) in text, text
    # The worker's environment: the database, the lab's package on PYTHONPATH, no other DJ_* of this process.
    for key in [k for k in list(os.environ) if k.startswith("DJ_") and k not in env]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    started = time.perf_counter()
    ew.stage(folder, env)
    timings = {"stage": time.perf_counter() - started}
    for dag_id, expected in EXPECTED.items():
        started = time.perf_counter()
        state, tis = run_dag(dags, dag_id)
        timings[dag_id] = time.perf_counter() - started
        assert set(tis) == expected, (dag_id, tis)
        assert state == "success" and all(s == ("success", 1) for s in tis.values()), (dag_id, tis)
    started = time.perf_counter()
    ew.assert_complete(folder, env)
    timings["check"] = time.perf_counter() - started
    job_ids = {entry["job_id"] for entry in ew.made(folder)}
    assert len(job_ids) >= 1 and all(j.startswith("mylab-w0-ephys_recording.session_age[") for j in job_ids), job_ids
    print("\n[elements on Airflow: %s]" % ", ".join("%s %.1f s" % kv for kv in timings.items()))
