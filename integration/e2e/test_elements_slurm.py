"""The Elements workflow (integration/elements_workflow: element-lab, -animal, -session and -array-ephys from
PyPI, activated by the lab's workflow module, plus the lab's own SessionAge) compiled from its Python
sources and run on the real SLURM cluster: every job of every workflow imports the workflow module,
finds its table in the Element that defines it, and exits 0; SessionAge fills every key once."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import REPO
from test_slurm_e2e import submit, wait

sys.path.insert(0, str(REPO / "integration" / "elements_workflow"))
import elements_workflow as ew  # noqa: E402
import slurm_cluster  # noqa: E402


@pytest.fixture(scope="module")
def workflow(cluster_env, djflow_bin, tmp_path_factory):
    folder = tmp_path_factory.mktemp("elements")
    spec, env = ew.prepare(folder, cluster_env)
    env.update({k: v for k, v in cluster_env.items() if not k.startswith(("DJ_", "PYTHON", "DJFLOW_SAMPLE"))})
    env["PATH"] = str(ew.PYTHON.parent) + os.pathsep + cluster_env["PATH"]   # jobs run python3 of .venv/elements
    env["DJFLOW_RETRY_DELAY"] = "1"
    out = subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    yield folder, env
    ew.drop(env)


def test_every_job_of_every_workflow_runs_and_the_lab_table_fills(workflow):
    folder, env = workflow
    slurm = folder / "gen" / "slurm"
    scripts = sorted(slurm.glob("w*/submit.sh"))
    assert [s.parent.name for s in scripts] == ["w0-ephys_recording", "w1-clustering_task", "w2-curation"], scripts
    text = (scripts[0].parent / "ephys_recording.sbatch").read_text()
    assert "--module mylab.pipeline --table element_array_ephys.ephys_acute.EphysRecording" in text, text
    ew.stage(folder, env)
    run = folder / "run"
    run.mkdir()
    seen = set()
    for script in scripts:   # the gates (ClusteringTask, Curation) stay empty: later jobs have nothing to do
        states = wait(env, submit(env, script, run))
        for label, tasks in states.items():
            assert tasks and all(t["JobState"] == "COMPLETED" and t["ExitCode"] == "0:0" for t in tasks), (label, tasks)
            seen.add(label)
    assert {"EphysRecording", "LFP", "Clustering", "CuratedClustering", "WaveformSet", "QualityMetrics",
            "SessionAge"} <= {label.split()[0] for label in seen}, seen
    ew.assert_complete(folder, env)

    # djflow status: complete (exit 0), each table's SLURM jobs listed by name from squeue/sacct
    djflow_bin = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    out = subprocess.run([djflow_bin, "status", "djflow.yaml", "--format", "json", "--scheduler", "slurm"], cwd=folder,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    tables = {t["table"]: t for w in json.loads(out.stdout)["workflows"] for t in w["tables"]}
    assert tables["SessionAge"]["done"] == ew.SESSIONS and tables["SessionAge"]["state"] == "done"
    for name, table in tables.items():
        assert table["scheduler"], (name, table)
        assert all(job["state"] == "COMPLETED" for job in table["scheduler"]), (name, table["scheduler"])
