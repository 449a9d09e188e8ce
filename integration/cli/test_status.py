"""`djflow status` on the ephys sample against the real test database (DataJoint 2.3.5): counts per table
from the database, the first error, gates, the worker holding a key, restrictions, formats, exit codes."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402

EPHYS = REPO / "Samples" / "ephys"
RUNNER = REPO / "Templates" / "runner" / "djflow_populate.py"


@pytest.fixture
def ephys(tmp_path):
    db = testdb.start()
    schema = "djflow_status_%s" % uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "DJFLOW_", "SLURM_"))}
    env.update(db, DJFLOW_SAMPLE_SCHEMA=schema, DJFLOW_SAMPLE_SLEEP="0", PYTHONPATH=str(EPHYS), PATH="/usr/bin:/bin")
    spec = (EPHYS / "djflow.yaml").read_text().replace("host: db.example.org:3306", "host: '%s'" % db["DJ_HOST"])
    (tmp_path / "djflow.yaml").write_text(spec)
    subprocess.run([sys.executable, str(EPHYS / "stage.py"), "initial", "--with-failure"], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    yield tmp_path, env
    testdb.drop_schemas(db, schema)


def status(djflow_path, folder, env, *args):
    return subprocess.run([djflow_path, "status", "djflow.yaml", "--python", sys.executable, "--scheduler", "none", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def populate(env, folder, table, extra_env=None):
    return subprocess.run([sys.executable, str(RUNNER), "--module", "ephys_pipeline", "--table", table],
                          env=dict(env, **(extra_env or {})), cwd=folder, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def djflow_path():
    return os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")


def tables(result):
    doc = json.loads(result.stdout)
    return {t["table"]: t for w in doc["workflows"] for t in w["tables"]}, {g["table"]: g for w in doc["workflows"] for g in w["gates"]}


def test_status_counts_keys_errors_and_gates_from_the_database(ephys, djflow_path):
    folder, env = ephys
    started = time.time()
    fresh = status(djflow_path, folder, env, "--format", "json")
    elapsed = time.time() - started
    assert fresh.returncode == 1, fresh.stderr           # work left, nothing failed
    by_table, gates = tables(fresh)
    assert by_table["Recording"]["total"] == 9 and by_table["Recording"]["toDo"] == 9
    assert by_table["Recording"]["state"] == "to do"
    assert by_table["Clustering"]["state"] == "waiting for gate" and gates["ClusteringTask"]["entries"] == 0
    print("\n[status, fresh: %.2f s]" % elapsed)

    assert populate(env, folder, "Recording", {"DJFLOW_JOB_ID": "4242_1"}).returncode == 1   # corrupt session
    failed = status(djflow_path, folder, env, "--format", "json")
    assert failed.returncode == 3, failed.stderr          # something in error
    by_table, gates = tables(failed)
    recording = by_table["Recording"]
    assert (recording["done"], recording["toDo"], recording["error"], recording["state"]) == (8, 1, 1, "failed")
    assert "corrupt recording file" in recording["firstError"]
    assert recording["firstErrorJob"] == "4242_1"      # traced through the runner's ~djflow_worker row
    assert by_table["LFP"]["toDo"] == 8
    assert gates["ClusteringTask"]["waiting"] > 0        # recordings now wait for a clustering task

    text = status(djflow_path, folder, env)
    assert text.returncode == 3
    assert all(len(line) <= 100 for line in text.stdout.splitlines()), text.stdout
    assert "Recording" in text.stdout and "first error (job 4242_1): RuntimeError: corrupt" in text.stdout
    mermaid = status(djflow_path, folder, env, "--format", "mermaid")
    assert "style recording fill:#ff8787" in mermaid.stdout and "recording --> lfp" in mermaid.stdout
    dot = status(djflow_path, folder, env, "--format", "dot")
    assert dot.stdout.startswith("digraph") and '"recording" -> "lfp"' in dot.stdout

    # restricted to one subject without the failing session: that scope is complete for Recording
    restricted = status(djflow_path, folder, env, "--format", "json", "--restriction", json.dumps({"subject": "mouse2"}))
    by_table, _ = tables(restricted)
    assert by_table["Recording"]["total"] == 4 and by_table["Recording"]["toDo"] == 0, restricted.stdout


def test_status_names_the_worker_holding_a_key(ephys, djflow_path):
    folder, env = ephys
    worker = subprocess.Popen([sys.executable, str(RUNNER), "--module", "ephys_pipeline", "--table", "Recording",
                               "--max-calls", "1"], env=dict(env, DJFLOW_SAMPLE_SLEEP="20", DJFLOW_JOB_ID="77_3"),
                              cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        recording = None
        while time.time() < deadline:
            result = status(djflow_path, folder, env, "--format", "json")
            recording = tables(result)[0]["Recording"]
            if recording["reserved"]:
                break
            time.sleep(0.5)
        assert recording["reserved"] == 1 and recording["state"] == "running", recording
        assert recording["workers"][0]["pid"] == worker.pid, recording["workers"]
        assert recording["workers"][0]["host"] and recording["workers"][0]["job_id"] == "77_3"
        assert "reserved by" in status(djflow_path, folder, env).stdout and "job 77_3" in status(djflow_path, folder, env).stdout
    finally:
        worker.kill()
        worker.wait()


def test_status_of_an_unreachable_database_exits_75(ephys, djflow_path):
    folder, env = ephys
    spec = (folder / "djflow.yaml").read_text()
    (folder / "djflow.yaml").write_text(spec.replace("host: '%s'" % env["DJ_HOST"], "host: '127.0.0.1:1'"))
    result = status(djflow_path, folder, env)
    assert result.returncode == 75, (result.returncode, result.stderr[-2000:])
    assert "cannot read the run's status" in result.stderr
