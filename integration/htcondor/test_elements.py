"""The Elements workflow (integration/elements_workflow: element-lab, -animal, -session and -array-ephys from PyPI,
activated by the lab's workflow module, plus the lab's own SessionAge) compiled for HTCondor from its Python
sources, with runner.python = .venv/elements (DataJoint 0.14.10), and its three DAGs run node by node from
the job ads HTCondor's own submit parser produced (condor.Harness) against the real MariaDB: every proc
imports the workflow module, finds its table in the Element that defines it, and exits 0; SessionAge fills
every key once. The gates (ClusteringTask, Curation) stay empty, so w1 and w2 have nothing to do."""
import json
import sys
import time
import uuid

import pytest

from condor import REPO, Dag, Harness
from conftest import compile_spec

sys.path.insert(0, str(REPO / "integration" / "elements_workflow"))
import elements_workflow as ew  # noqa: E402

# Nodes of each DAG (a refresh node before SessionAge's 2 workers), from `djflow plan`.
EXPECTED = {
    "w0-ephys_recording.dag": {"ephys_recording": 1, "lfp": 1, "session_age_refresh": 1, "session_age": 2},
    "w1-clustering_task.dag": {"clustering": 1},
    "w2-curation.dag": {"curated_clustering": 1, "quality_metrics": 1, "waveform_set": 1},
}


@pytest.fixture
def elements(db_env, tmp_path):
    # What the jobs need beyond the spec reaches them through targets.htcondor.env (the ads carry nothing
    # else); the credentials come by name from the submitting environment (getenv).
    site_env = {"PYTHONPATH": str(tmp_path), "MYLAB_MAKE_LOG": str(tmp_path / "make.jsonl"),
                "DJ_USE_TLS": db_env.get("DJ_USE_TLS", "false"), "PYTHONDONTWRITEBYTECODE": "1"}
    spec, env = ew.prepare(tmp_path, db_env, targets_yaml="targets:\n  htcondor:\n    env: %s\n" % json.dumps(site_env),
                           python=ew.PYTHON)
    folder = compile_spec(spec, tmp_path / "gen")
    yield tmp_path, env, folder
    ew.drop(env)


def test_elements_dags_run_every_node_and_fill_the_lab_table(elements, db_env):
    tmp, env, folder = elements
    sub = (folder / "w0-ephys_recording" / "ephys_recording.sub").read_text()
    assert ("%s --module mylab.pipeline --table element_array_ephys.ephys_acute.EphysRecording" % ew.PYTHON) in sub, sub
    started = time.monotonic()
    ew.stage(tmp, env)
    timings = {"stage": (time.monotonic() - started, 0.0)}
    submit_env = {"DJ_USER": db_env["DJ_USER"], "DJ_PASS": db_env["DJ_PASS"]}
    runs = []
    for dag_name, procs in EXPECTED.items():
        dag = Dag(folder / dag_name, root=folder)
        harness = Harness(dag, submit_env, tmp / "scratch" / uuid.uuid4().hex[:6])
        started = time.monotonic()
        harness.run()
        timings[dag_name] = (time.monotonic() - started, harness.parse_seconds)
        assert harness.status == {name: "done" for name in procs}, (dag_name, harness.status, harness.runs[-1])
        for name, count in procs.items():
            ran = [r for r in harness.runs if r["node"] == name]
            assert len(ran) == count and all(r["exit"] == 0 and r["attempt"] == 0 for r in ran), (name, ran)
        runs += harness.runs
    started = time.monotonic()
    ew.assert_complete(tmp, env)
    timings["check"] = (time.monotonic() - started, 0.0)
    for r in runs:   # the ad's command: the wrapper, then the elements interpreter and the workflow module
        assert r["argv"][0].endswith("/condor_exec.exe") and r["argv"][3] == str(ew.PYTHON), r["argv"]
        assert r["argv"][r["argv"].index("--module") + 1] == "mylab.pipeline"
        assert r["env"]["MYLAB_DB_PREFIX"] == env["MYLAB_DB_PREFIX"]
    tables = {r["argv"][r["argv"].index("--table") + 1] for r in runs}
    assert "element_array_ephys.ephys_acute.EphysRecording" in tables and "mylab.analysis.SessionAge" in tables, tables
    workers = sorted(r["argv"][r["argv"].index("--worker") + 1] for r in runs if r["node"] == "session_age")
    assert workers == ["0/2", "1/2"]
    job_ids = {entry["job_id"] for entry in ew.made(tmp)}
    assert job_ids and job_ids <= {r["env"]["DJFLOW_JOB_ID"] for r in runs if r["node"] == "session_age"}, job_ids
    print("\n[elements on HTCondor harness: " + ", ".join("%s %.1f s (parsing %.2f s)" % (k, s, p)
                                                          for k, (s, p) in timings.items()) + "]")
