"""The Elements workflow (integration/elements_workflow: element-lab, -animal, -session and -array-ephys from PyPI,
activated by the lab's workflow module, plus the lab's own SessionAge) compiled for Kubernetes from its
Python sources: its manifests through the official schemas (1.29-1.37, strict) and djflow's own checks, then
every Job run on the host by harness.py against the real MariaDB, with the "image" being the host and its
python3 the .venv/elements interpreter (DataJoint 0.14.10): every pod imports the workflow module, finds its
table in the Element that defines it, and exits 0; SessionAge fills every key once. The gates
(ClusteringTask, Curation) stay empty, so w1 and w2 have nothing to do."""

import os
import subprocess
import sys
import time

import pytest

import harness
import manifests
from conftest import REPO, VERSIONS

sys.path.insert(0, str(REPO / "integration" / "elements_workflow"))
import elements_workflow as ew  # noqa: E402

WORKFLOWS = ["w0-ephys_recording", "w1-clustering_task", "w2-curation"]
# Jobs of each workflow and their completions (a refresh Job before SessionAge's 2 workers), from `djflow plan`.
EXPECTED = {
    "w0-ephys_recording": {"mylab-ephys-recording": 1, "mylab-lfp": 1, "mylab-session-age-refresh": 1,
                           "mylab-session-age": 2},
    "w1-clustering_task": {"mylab-clustering": 1},
    "w2-curation": {"mylab-curated-clustering": 1, "mylab-quality-metrics": 1, "mylab-waveform-set": 1},
}
SECRETS = {"mylab-db": ["DJ_USER", "DJ_PASS"]}


def compile_elements(djflow_bin, folder, db_env):
    """The workflow laid out in `folder` and compiled there (its sources are relative to djflow.yaml)."""
    spec, env = ew.prepare(folder, db_env, targets_yaml="targets:\n  kubernetes: {namespace: mylab, wait_interval: 1}\n")
    result = subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "kubernetes", "--out", "gen"], cwd=folder,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return folder / "gen" / "kubernetes", env


def test_elements_manifests_pass_the_schemas_and_checks(djflow_bin, tmp_path):
    folder, env = compile_elements(djflow_bin, tmp_path, {"DJ_HOST": "db.example.org:3306"})
    assert sorted(p.stem for p in folder.glob("*.yaml")) == WORKFLOWS
    validator = manifests.SchemaValidator()
    started = time.time()
    count = 0
    for workflow in WORKFLOWS:
        docs = manifests.load(folder / ("%s.yaml" % workflow))
        for doc in docs:
            for version in VERSIONS:
                assert validator.errors(doc, version) == [], (workflow, doc["kind"], doc["metadata"]["name"], version)
                count += 1
        assert manifests.semantic_problems(docs, secret_keys=SECRETS) == [], workflow
        manifests.topological_jobs(docs)
        jobs = {d["metadata"]["name"]: d["spec"]["completions"] for d in docs if d["kind"] == "Job"}
        assert jobs == EXPECTED[workflow], (workflow, jobs)
    sys.stderr.write("\n[elements manifests: %d object-versions validated in %.1f s]\n" % (count, time.time() - started))


@pytest.fixture()
def elements(djflow_bin, db_env, tmp_path):
    folder, env = compile_elements(djflow_bin, tmp_path / "lab", db_env)
    yield tmp_path / "lab", env, folder
    ew.drop(env)


def test_elements_jobs_run_on_the_harness_and_fill_the_lab_table(elements, db_env, tmp_path):
    lab, env, folder = elements
    docs = {w: manifests.load(folder / ("%s.yaml" % w)) for w in WORKFLOWS}
    recording = next(d for d in docs["w0-ephys_recording"] if d["metadata"]["name"] == "mylab-ephys-recording")
    args = recording["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:6] == ["python3", "/djflow/djflow_populate.py", "--module", "mylab.pipeline", "--table",
                        "element_array_ephys.ephys_acute.EphysRecording"], args
    # The "image": python3 is the elements interpreter, the lab's package is installed (PYTHONPATH); the
    # database host, credentials and schema prefix come only from the manifests and the Secret.
    image = {"PATH": "%s:/usr/local/bin:/usr/bin:/bin" % ew.PYTHON.parent, "HOME": str(tmp_path), "LANG": "C.UTF-8",
             "PYTHONPATH": env["PYTHONPATH"], "PYTHONDONTWRITEBYTECODE": "1", "DJ_IGNORE_CONFIG_FILE": "true",
             "DJ_USE_TLS": env.get("DJ_USE_TLS", "false"), "MYLAB_MAKE_LOG": env["MYLAB_MAKE_LOG"]}
    secrets = {"mylab-db": {"DJ_USER": db_env["DJ_USER"], "DJ_PASS": db_env["DJ_PASS"]}}
    started = time.time()
    ew.stage(lab, env)
    timings = {"stage": time.time() - started}
    os.makedirs(tmp_path / "cluster")
    lines = []
    cluster = harness.Cluster(str(tmp_path / "cluster"), secrets, image, log=lines.append)
    try:
        for workflow in WORKFLOWS:
            cluster.apply(docs[workflow])
            started = time.time()
            statuses = cluster.run(timeout=300)
            timings[workflow] = time.time() - started
            mine = {name: statuses[name] for name in EXPECTED[workflow]}
            assert set(mine.values()) == {"Complete"}, (workflow, mine, lines[-20:])
            for name, completions in EXPECTED[workflow].items():
                pods = cluster.jobs[("mylab", name)].pods
                assert len(pods) == completions and {p.index for p in pods} == set(range(completions)), name
                assert all(p.phase == "Succeeded" and p.exit_codes.get("populate", p.exit_codes.get("refresh")) == 0
                           for p in pods), (name, [p.exit_codes for p in pods])
                summaries = cluster.summaries(name)
                assert len(summaries) == completions and all(s["status"] == "ok" for s in summaries), (name, summaries)
                assert {s["datajoint"] for s in summaries} == {"0.14.10"}, summaries
    finally:
        cluster.close()
    started = time.time()
    ew.assert_complete(lab, env)
    timings["check"] = time.time() - started
    job_ids = {entry["job_id"] for entry in ew.made(lab)}
    assert job_ids and all(j.startswith("mylab-session-age-") for j in job_ids), job_ids
    assert {entry[3] for entry in cluster.api_log} <= {200}, "waits allowed by RBAC"
    sys.stderr.write("\n[elements on the Kubernetes harness: %s]\n" % ", ".join("%s %.1f s" % kv for kv in timings.items()))
