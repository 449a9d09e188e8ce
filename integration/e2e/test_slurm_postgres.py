"""End to end on PostgreSQL 15: the ephys sample compiled with `database.backend: postgresql`, run on the
real SLURM cluster with DataJoint 2.3.5 (scripts/db/pg-up.sh starts the server).

The job environment carries only the credentials (DJ_USER, DJ_PASS, as for any djflow job): the host and
the backend come from the compiled scripts (`database:`), the PostgreSQL database name from `runner.env`
(DJ_DATABASE_NAME). Each workflow is submitted with its generated submit.sh, the gate data is staged in
between, and the database must hold every key exactly once."""
import collections
import json
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

import slurm_cluster
from conftest import REPO
from test_slurm_e2e import AUTO_TABLES, EDGES, db_counts, make_log, stage, submit, wait

sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402

pytestmark = pytest.mark.skipif(not __import__("importlib").util.find_spec("psycopg2"),
                                reason="needs datajoint[postgres] (psycopg2): scripts/venv.sh dj2")


@pytest.fixture(scope="module")
def pg(tmp_path_factory, djflow_bin):
    """(job env for submit.sh, full env for staging and checks, generated slurm folder, run folder)."""
    db_env = testdb.start(backend="postgresql")
    env = {k: v for k, v in slurm_cluster.up().items() if not k.startswith(("DJ_", "DJFLOW_", "PYTHON"))}
    env["PATH"] = str(pathlib.Path(sys.executable).parent) + os.pathsep + env["PATH"]   # jobs use the venv's python3
    env.update(DJ_USER=db_env["DJ_USER"], DJ_PASS=db_env["DJ_PASS"], PYTHONPATH=str(REPO / "Samples/ephys"),
               DJFLOW_SAMPLE_SCHEMA="djflow_e2epg_" + uuid.uuid4().hex[:8], DJFLOW_SAMPLE_SLEEP="0.3",
               DJFLOW_RETRY_DELAY="1",
               DJFLOW_SAMPLE_LOG=str(tmp_path_factory.mktemp("pglog") / "make.jsonl"))
    full = dict(env, **db_env)

    folder = tmp_path_factory.mktemp("e2e-pg")
    spec = (REPO / "Samples/ephys/djflow.yaml").read_text()
    for old, new in (
            ("host: db.example.org:3306", "host: '%s'" % db_env["DJ_HOST"]),
            ("backend: mysql", "backend: postgresql"),
            ("  python: python3\n", "  python: python3\n  env: {DJ_DATABASE_NAME: '%s', DJ_USE_TLS: 'false'}\n"
             % db_env["DJ_DATABASE_NAME"]),
            # two real cores: scale the GPU table down so that its 4 workers run together (as on MariaDB)
            ('resources: {cpus: 8, memory: 32G, gpus: 1, time: "12:00:00"}',
             'resources: {cpus: 1, memory: 1G, gpus: 1, time: "0:30:00"}')):
        assert old in spec, old
        spec = spec.replace(old, new)
    (folder / "djflow.yaml").write_text(spec)
    subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder, check=True)
    run = folder / "run"
    run.mkdir()
    yield env, full, folder / "gen" / "slurm", run
    testdb.drop_schemas(db_env, env["DJFLOW_SAMPLE_SCHEMA"])


def sql_count(full, table):
    conn = testdb.connect(full)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM %s" % testdb.quote(full, full["DJFLOW_SAMPLE_SCHEMA"], table))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_generated_jobs_name_the_postgresql_backend(pg):
    _env, _full, slurm, _run = pg
    text = (slurm / "w0-recording" / "recording.sbatch").read_text()
    assert "export DJ_BACKEND=postgresql" in text and "export DJ_DATABASE_NAME=" in text, text


def test_workflows_fill_every_key_once_on_postgresql(pg):
    env, full, slurm, run = pg
    stage(full, "initial")
    states = wait(env, submit(env, slurm / "w0-recording/submit.sh", run))
    for label, tasks in states.items():
        assert tasks and all(t["JobState"] == "COMPLETED" for t in tasks), (label, tasks, _logs(run))
    counts = db_counts(full)
    assert counts["Recording"]["rows"] == 8 and counts["LFP"]["rows"] == 8, counts
    assert counts["Clustering"]["total"] == 0, "gate not filled yet: nothing to cluster"

    stage(full, "clustering-tasks")
    states = wait(env, submit(env, slurm / "w1-clustering_task/submit.sh", run))
    assert all(t["JobState"] == "COMPLETED" for tasks in states.values() for t in tasks), (states, _logs(run))
    assert len(states["Clustering"]) == 4, "one array task per worker"

    stage(full, "curations")
    states = wait(env, submit(env, slurm / "w2-curation/submit.sh", run))
    assert all(t["JobState"] == "COMPLETED" for tasks in states.values() for t in tasks), (states, _logs(run))

    counts = db_counts(full)
    for table in AUTO_TABLES:
        assert counts[table]["remaining"] == 0 and counts[table]["rows"] > 0, (table, counts[table])
        assert counts[table]["errors"] == 0, (table, counts[table])
    # straight from PostgreSQL, without DataJoint
    assert sql_count(full, "_recording") == 8 and sql_count(full, "_recording__channel") == 24
    assert sql_count(full, "__clustering") == 16 and sql_count(full, "__quality_metrics") == 16

    log = make_log(env)
    made = collections.Counter((entry["table"], json.dumps(entry["key"], sort_keys=True)) for entry in log)
    assert not [key for key, n in made.items() if n > 1], "keys made more than once"
    per_table = collections.Counter(table for table, _ in made)
    for table in AUTO_TABLES:
        assert per_table[table] == counts[table]["rows"], (table, per_table[table], counts[table])
    assert len({e["job_id"] for e in log if e["table"] == "Clustering"}) >= 2, "Clustering workers split its keys"
    first_start = {t: min(e["start"] for e in log if e["table"] == t) for t in AUTO_TABLES}
    last_end = {t: max(e["end"] for e in log if e["table"] == t) for t in AUTO_TABLES}
    for parent, child in EDGES:
        assert first_start[child] >= last_end[parent], (parent, child)
    summaries = [json.loads(line) for p in sorted((run / "logs").glob("*.out")) for line in p.read_text().splitlines()
                 if line.startswith("{")]
    assert summaries and all(s["status"] == "ok" and s["datajoint"] == "2.3.5" for s in summaries), summaries
    assert all(s["full_table_name"].startswith('"') for s in summaries)  # PostgreSQL quoting: really PostgreSQL


def test_failing_key_fails_the_job_and_holds_back_its_dependents_on_postgresql(pg):
    """Pipelined LFP on PostgreSQL: the failed Recording key holds back its own LFP key only."""
    env, full, slurm, run = pg
    stage(full, "initial", "--with-failure")
    states = wait(env, submit(env, slurm / "w0-recording/submit.sh", run))
    assert any(t["JobState"] == "FAILED" and t["ExitCode"] == "1:0" for t in states["Recording"]), states
    assert all(t["JobState"] == "COMPLETED" for t in states["LFP"]), states["LFP"]
    failing = {"subject": "mouse1", "session_id": 99, "insertion_number": 1}
    assert failing not in [e["key"] for e in make_log(env) if e["table"] == "LFP"], "LFP must not run on broken input"
    counts = db_counts(full)
    assert counts["Recording"]["errors"] == 1 and counts["Recording"]["remaining"] == 1, counts
    assert counts["LFP"]["remaining"] == 0 and counts["LFP"]["rows"] == counts["Recording"]["rows"], counts


def _logs(run):
    """The tails of the job logs, for a failure message."""
    out = []
    for p in sorted((run / "logs").glob("*")) if (run / "logs").exists() else []:
        out.append("== %s\n%s" % (p.name, p.read_text()[-1500:]))
    return "\n".join(out[-8:])
