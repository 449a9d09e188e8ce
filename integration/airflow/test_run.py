"""The generated DAGs run for real with dag.test(), all in this one process (Airflow 3 pays ~5 s once for
its in-process execution API): first with a recording fake interpreter (hostile strings, retries, exit
codes, mapped workers), then the ephys sample's three workflows against the real MariaDB."""

import json
import os
import subprocess
import time

import pytest

from conftest import REPO, compile_airflow, connect, run_dag

EPHYS = REPO / "Samples" / "ephys"

# Everything that could break a trip through YAML, Python source, Jinja, bash and the environment.
HOSTILE = ("it's \"quoted\" $(touch /tmp/djflow-af-pwned) `id` ${HOME} \\ ; | & * ? ~ ! ünïcødé ✓ "
           "{{ params }} {% if x %}{# c #}{%endraw%}{%- endraw -%}{% endraw %} %} }} {{ \r\n second line\n")


@pytest.fixture(autouse=True)
def _timed(request):
    started = time.perf_counter()
    yield
    print("\n[%s: %.1f s]" % (request.node.name, time.perf_counter() - started))


FAKE = """#!/usr/bin/env python3
import json, os, sys
record = {"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith(("DJ", "ODD", "SITE"))}}
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
table = sys.argv[sys.argv.index("--table") + 1]
codes = json.loads(os.environ["FAKE_EXITS"]).get(table, [0])
sys.exit(codes[min(int(os.environ["DJFLOW_TRY_NUMBER"]), len(codes)) - 1])
"""


def test_hostile_values_retries_and_exit_codes_with_a_recording_interpreter(tmp_path, airflow_db, monkeypatch):
    odd = tmp_path / "venv with 'quote' {% raw %} and $(x)"
    odd.mkdir()
    fake = odd / "python3"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    spec = tmp_path / "djflow.yaml"
    spec.write_text("""pipeline: hostile
runner:
  module: lab.pipeline
  python: %s
  env: {ODD: %s}
database: {host: %s, secret: {user_env: LAB_USER, password_env: LAB_PASS}}
tables:
  S: {tier: manual}
  A: {tier: computed, depends_on: [S], retries: 1}
  B: {tier: computed, depends_on: [A], workers: 3, throttle: 2, on_error: continue, max_calls: 5, pipelining: false}
  C: {tier: computed, depends_on: [A], retries: 2}
  D: {tier: computed, depends_on: [C]}
targets:
  airflow: {retry_delay: 0, env: {SITE_NOTE: %s}}
""" % (json.dumps(str(fake)), json.dumps(HOSTILE), json.dumps(HOSTILE[::-1]), json.dumps(HOSTILE[1:])))
    folder = compile_airflow(spec, "hostile")
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("LAB_USER", "alice")
    monkeypatch.setenv("LAB_PASS", "pa ss'word$ {{ x }}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    # A fails once (exit 1: retried with --clear-errors); C exits 2 (usage): failed at once despite retries 2.
    monkeypatch.setenv("FAKE_EXITS", json.dumps({"A": [1, 0], "C": [2, 0, 0]}))
    restriction = json.dumps({"subject": HOSTILE}, ensure_ascii=False)

    state, tis = run_dag(folder, "hostile-w0-a", conf={"restriction": restriction})

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert state == "failed"
    assert tis[("a", -1)] == ("success", 2)
    assert tis[("c", -1)] == ("failed", 1)
    assert tis[("d", -1)][0] == "upstream_failed"
    assert [tis[("b", i)][0] for i in range(3)] == ["success"] * 3
    runner = str(compile_airflow(spec, "hostile") / "djflow_populate.py")
    for call in calls:
        argv, env = call["argv"], call["env"]
        assert argv[0] == runner
        assert argv[argv.index("--restriction") + 1] == restriction
        assert argv[argv.index("--module") + 1] == "lab.pipeline"
        assert env["ODD"] == HOSTILE and env["SITE_NOTE"] == HOSTILE[1:]
        assert env["DJ_HOST"] == HOSTILE[::-1]
        assert env["DJ_USER"] == "alice" and env["DJ_PASS"] == "pa ss'word$ {{ x }}"
        assert ("--clear-errors" in argv) == (env["DJFLOW_TRY_NUMBER"] != "1")
    by_table = {}
    for call in calls:
        by_table.setdefault(call["argv"][call["argv"].index("--table") + 1], []).append(call["argv"])
    assert len(by_table["A"]) == 2 and "--clear-errors" in by_table["A"][1]
    assert len(by_table["C"]) == 1  # exit 2 is not retried
    assert "D" not in by_table
    b = by_table["B"]
    assert sum("--refresh-only" in argv for argv in b) == 1
    workers = sorted(argv[argv.index("--worker") + 1] for argv in b if "--no-refresh" in argv)
    assert workers == ["0/3", "1/3", "2/3"]
    # the plan's runner contract: the workers get the populate options; the refresh step only refreshes
    populate = [argv for argv in b if "--refresh-only" not in argv]
    assert populate and all("--suppress-errors" in argv and argv[argv.index("--max-calls") + 1] == "5" for argv in populate)
    assert all("--max-calls" not in argv for argv in b if "--refresh-only" in argv)
    assert not os.path.exists("/tmp/djflow-af-pwned")
    generated = "".join(p.read_text() for p in (compile_airflow(spec, "hostile")).glob("*.py"))
    assert "pa ss'word" not in generated


def test_missing_credentials_fail_without_retrying(tmp_path, airflow_db, monkeypatch):
    fake = tmp_path / "python3"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    spec = tmp_path / "djflow.yaml"
    spec.write_text("""pipeline: nocreds
runner: {module: m, python: %s}
database: {secret: {user_env: NOCREDS_USER, password_env: NOCREDS_PASS}}
tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S], retries: 3}}
targets: {airflow: {retry_delay: 0}}
""" % json.dumps(str(fake)))
    folder = compile_airflow(spec, "nocreds")
    monkeypatch.delenv("NOCREDS_USER", raising=False)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_EXITS", "{}")
    state, tis = run_dag(folder, "nocreds-w0-a")
    assert state == "failed" and tis[("a", -1)] == ("failed", 1)
    assert not (tmp_path / "calls.jsonl").exists()


# --- the ephys sample against the real database ------------------------------------------------------


class Ephys:
    """The ephys sample compiled for Airflow with runner.python = the DataJoint venv, in a fresh schema."""

    def __init__(self, db_env, dj_python, tmp_path, name):
        self.env = dict(db_env)
        self.schema = db_env["_SCHEMA_PREFIX"] + name
        self.log = tmp_path / ("make-%s.jsonl" % name)
        self.env.update(DJFLOW_SAMPLE_SCHEMA=self.schema, DJFLOW_SAMPLE_LOG=str(self.log), DJFLOW_SAMPLE_SLEEP="0",
                        PYTHONPATH=str(EPHYS))
        self.env.pop("_SCHEMA_PREFIX")
        self.dj_python = dj_python

    def use(self, monkeypatch):
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)

    def stage(self, *args):
        subprocess.run([self.dj_python, str(EPHYS / "stage.py"), *args], env=dict(os.environ, **self.env), check=True,
                       capture_output=True, timeout=300)

    def count(self, table):
        conn = connect(self.env)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM `%s`.`%s`" % (self.schema, table))
                return cur.fetchone()[0]
        finally:
            conn.close()

    def remaining(self, table):
        """(keys left, keys in total) by the runner's --describe."""
        out = subprocess.run([self.dj_python, str(REPO / "Templates/runner/djflow_populate.py"), "--module", "ephys_pipeline",
                              "--table", table, "--describe"], env=dict(os.environ, **self.env), capture_output=True,
                             text=True, timeout=120)
        info = json.loads(out.stdout)["describe"]
        return info["remaining"], info["total"]

    def made(self, table):
        rows = [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []
        return [r for r in rows if r["table"] == table]


def compile_ephys(tmp_path_factory, dj_python, db_env, name="ephys", edit=lambda text: text):
    """The ephys sample for this machine's interpreter and database (no retry delay), `edit` applied, compiled
    into DAG subfolder `name`."""
    text = edit((EPHYS / "djflow.yaml").read_text())
    text = text.replace("  python: python3\n", "  python: %s\n" % json.dumps(dj_python), 1)
    text = text.replace("  host: db.example.org:3306\n", "  host: %s\n" % json.dumps(db_env["DJ_HOST"]), 1)
    text = text.replace("targets:\n  slurm:", "targets:\n  airflow: {retry_delay: 0}\n  slurm:", 1)
    spec = tmp_path_factory.mktemp(name) / "djflow.yaml"
    spec.write_text(text)
    return compile_airflow(spec, name)


@pytest.fixture(scope="module")
def ephys_dags(tmp_path_factory, dj_python, db_env):
    return compile_ephys(tmp_path_factory, dj_python, db_env)


def test_ephys_workflows_populate_every_key(ephys_dags, db_env, dj_python, tmp_path, airflow_db, monkeypatch):
    ephys = Ephys(db_env, dj_python, tmp_path, "ok")
    ephys.use(monkeypatch)
    ephys.stage("initial")

    # A restriction given at trigger time (a JSON object in the conf) reaches every task.
    state, tis = run_dag(ephys_dags, "ephys-w0-recording", conf={"restriction": {"subject": "mouse1"}})
    assert state == "success", tis
    assert {r["key"]["subject"] for r in ephys.made("Recording")} == {"mouse1"}
    assert ephys.count("_recording") == 4

    state, tis = run_dag(ephys_dags, "ephys-w0-recording")
    assert state == "success", tis
    assert set(tis) == {("recording.refresh", -1), ("recording", 0), ("recording", 1), ("lfp", -1)}
    ephys.stage("clustering-tasks")
    state, tis = run_dag(ephys_dags, "ephys-w1-clustering_task")
    assert state == "success", tis
    assert len([k for k in tis if k[0] == "clustering"]) == 4
    ephys.stage("curations")
    state, tis = run_dag(ephys_dags, "ephys-w2-curation")
    assert state == "success", tis
    assert all(s == "success" for s, _ in tis.values()), tis

    for table in ["Recording", "LFP", "Clustering", "CuratedClustering", "Waveforms", "QualityMetrics"]:
        left, total = ephys.remaining(table)
        assert total > 0 and left == 0, (table, left, total)
        keys = [json.dumps(r["key"], sort_keys=True) for r in ephys.made(table)]
        assert len(keys) == len(set(keys)) == total, table  # each key made exactly once
    assert ephys.count("_recording") == 8 and ephys.count("__clustering") == 16
    job_ids = {r["job_id"] for r in ephys.made("Clustering")}
    assert all(j.startswith("ephys-w1-clustering_task.clustering[") for j in job_ids), job_ids


@pytest.fixture(scope="module")
def pool_dags(tmp_path_factory, dj_python, db_env):
    """The ephys sample with `defaults: {pool: 3}` (as pipeline ephyspool, so its DAG ids are its own)."""
    def pooled(text):
        text = text.replace("pipeline: ephys\n", "pipeline: ephyspool\n", 1)
        return text.replace("defaults:\n", "defaults:\n  pool: 3\n", 1)
    return compile_ephys(tmp_path_factory, dj_python, db_env, "ephyspool", pooled)


def test_pooled_workflows_populate_every_key_once(pool_dags, db_env, dj_python, tmp_path, airflow_db, monkeypatch):
    ephys = Ephys(db_env, dj_python, tmp_path, "pool")
    ephys.use(monkeypatch)
    ephys.stage("initial")
    for workflow, gate in (("w0-recording", None), ("w1-clustering_task", "clustering-tasks"), ("w2-curation", "curations")):
        if gate:
            ephys.stage(gate)
        state, tis = run_dag(pool_dags, "ephyspool-" + workflow)
        assert state == "success", tis
        if workflow != "w1-clustering_task":  # Clustering needs a GPU: its own tasks, outside the pool
            assert set(tis) == {(workflow + "-pool", -1)}, tis
    for table in ["Recording", "LFP", "Clustering", "CuratedClustering", "Waveforms", "QualityMetrics"]:
        left, total = ephys.remaining(table)
        assert total > 0 and left == 0, (table, left, total)
        keys = [json.dumps(r["key"], sort_keys=True) for r in ephys.made(table)]
        assert len(keys) == len(set(keys)) == total, table  # each key made exactly once
    assert len({r["pid"] for r in ephys.made("Waveforms")}) > 1  # by the pool's forked workers


def test_a_failing_key_leaves_downstream_upstream_failed(ephys_dags, db_env, dj_python, tmp_path, airflow_db, monkeypatch):
    ephys = Ephys(db_env, dj_python, tmp_path, "fail")
    ephys.use(monkeypatch)
    ephys.stage("initial", "--with-failure")
    state, tis = run_dag(ephys_dags, "ephys-w0-recording")
    assert state == "failed"
    workers = [tis[("recording", i)] for i in range(2)]
    assert ("failed", 2) in workers, tis  # the retry (with --clear-errors) failed on the corrupt key again
    assert tis[("lfp", -1)][0] == "upstream_failed"
    assert tis[("recording.refresh", -1)][0] == "success"
    assert ephys.count("_recording") == 8  # every other key was populated
    assert ephys.count("__l_f_p") == 0


def test_retry_failed_conf_reaches_the_first_task_of_each_table_only(tmp_path, airflow_db, monkeypatch):
    """{"retry_failed": true}: the refresh task of a multi-worker table and single-worker tasks pass --clear-errors on
    their first try; the mapped workers behind a refresh do not (their refresh gave the keys back)."""
    fake = tmp_path / "python3"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    spec = tmp_path / "djflow.yaml"
    spec.write_text("""pipeline: retry
runner: {module: m, python: %s}
tables:
  S: {tier: manual}
  A: {tier: computed, depends_on: [S]}
  B: {tier: computed, depends_on: [A], workers: 2, pipelining: false}   # a refresh task, then the workers
targets: {airflow: {retry_delay: 0}}
""" % json.dumps(str(fake)))
    folder = compile_airflow(spec, "retry")
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("DJ_USER", "u")
    monkeypatch.setenv("DJ_PASS", "p")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_EXITS", "{}")
    monkeypatch.setenv("DJFLOW_RETRY_FAILED", "from the worker's environment: ignored")
    for conf, first_steps_clear in [({"retry_failed": True}, True), ({}, False), ({"retry_failed": False}, False)]:
        if log.exists():
            log.unlink()
        state, tis = run_dag(folder, "retry-w0-a", conf=conf)
        assert state == "success", tis
        calls = [json.loads(line)["argv"] for line in log.read_text().splitlines()]
        assert len(calls) == 4
        for argv in calls:
            first_step = "--no-refresh" not in argv
            assert ("--clear-errors" in argv) == (first_steps_clear and first_step), (conf, argv)


def test_retry_failed_conf_computes_a_fixed_key_exactly_once(ephys_dags, db_env, dj_python, tmp_path, airflow_db, monkeypatch):
    ephys = Ephys(db_env, dj_python, tmp_path, "retry")
    ephys.use(monkeypatch)
    ephys.stage("initial", "--with-failure")
    state, tis = run_dag(ephys_dags, "ephys-w0-recording")
    assert state == "failed" and tis[("lfp", -1)][0] == "upstream_failed", tis
    assert ephys.remaining("Recording") == (1, 9)

    ephys.stage("fix-failure")
    state, tis = run_dag(ephys_dags, "ephys-w0-recording", conf={"retry_failed": True})
    assert state == "success", tis
    assert all(s == ("success", 1) for s in tis.values()), tis  # first tries: the refresh task cleared the error
    assert ephys.remaining("Recording") == (0, 9) and ephys.remaining("LFP") == (0, 9)
    fixed = [r for r in ephys.made("Recording") if r["key"]["session_id"] == 99]
    assert len(fixed) == 1, fixed
    keys = [json.dumps(r["key"], sort_keys=True) for r in ephys.made("Recording")]
    assert len(keys) == len(set(keys)) == 9


def test_gated_assets_publish_when_the_upstream_workflow_succeeds(tmp_path, airflow_db, monkeypatch):
    fake = tmp_path / "python3"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    spec = tmp_path / "djflow.yaml"
    spec.write_text("""pipeline: chained
runner: {module: m, python: %s}
tables:
  S: {tier: manual}
  A: {tier: computed, depends_on: [S]}
  B: {tier: computed, depends_on: [S]}
  G: {tier: manual, depends_on: [A, B]}
  C: {tier: computed, depends_on: [G]}
targets: {airflow: {gated: assets}}
""" % json.dumps(str(fake)))
    folder = compile_airflow(spec, "chained")
    monkeypatch.setenv("DJ_USER", "u")
    monkeypatch.setenv("DJ_PASS", "p")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_EXITS", "{}")
    state, tis = run_dag(folder, "chained-w0-a")
    assert state == "success" and tis[("workflow.done", -1)][0] == "success", tis

    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetEvent as Event, AssetModel as Model
    except ImportError:  # Airflow 2.x
        from airflow.models.dataset import DatasetEvent as Event, DatasetModel as Model
    with create_session() as session:
        events = session.query(Event).all()
        ids = {e.asset_id if hasattr(e, "asset_id") else e.dataset_id for e in events}
        published = {m.uri for m in session.query(Model).all() if m.id in ids}
    assert "x-djflow://chained/w0-a" in published
