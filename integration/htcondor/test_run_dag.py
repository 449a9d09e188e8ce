"""Run the ephys sample's DAGs node by node against the real MariaDB: each proc's command exactly as the job
ad HTCondor's parser produced (Cmd + Arguments + Environment, VARS applied as DAGMan would), in PARENT/CHILD
order, honouring RETRY/UNLESS-EXIT and ABORT-DAG-ON. No pool runs here; the order is the harness's."""
import collections
import json
import subprocess
import time
import uuid

import pytest

from condor import REPO, Dag, Harness
from conftest import DJ_PYTHON, compile_spec

AUTO_TABLES = ["Recording", "LFP", "Clustering", "CuratedClustering", "Waveforms", "QualityMetrics"]
EPHYS = REPO / "Samples" / "ephys"


class Run:
    """One fresh schema, the ephys sample compiled for it, and helpers."""

    def __init__(self, db_env, tmp_path, pool=None):
        self.tmp = tmp_path
        self.schema = "djflow_htc_" + uuid.uuid4().hex[:8]
        self.log = tmp_path / "make.jsonl"
        # What the user exports on the access point: the credentials under the names database.secret gives.
        self.submit_env = {"LAB_DB_USER": db_env["DJ_USER"], "LAB_DB_PASS": db_env["DJ_PASS"]}
        self.stage_env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(EPHYS), "DJFLOW_SAMPLE_SCHEMA": self.schema,
                          "DJFLOW_SAMPLE_LOG": str(self.log), "DJ_IGNORE_CONFIG_FILE": "true", **db_env}
        site_env = {"PYTHONPATH": str(EPHYS), "DJFLOW_SAMPLE_SCHEMA": self.schema, "DJFLOW_SAMPLE_LOG": str(self.log),
                    "DJFLOW_SAMPLE_SLEEP": "0", "DJ_USE_TLS": db_env.get("DJ_USE_TLS", "false")}
        spec = (EPHYS / "djflow.yaml").read_text()
        spec = spec.replace("host: db.example.org:3306", f"host: '{db_env['DJ_HOST']}'")
        spec = spec.replace("python: python3", f"python: '{DJ_PYTHON}'")
        spec = spec.replace("user_env: DJ_USER, password_env: DJ_PASS}", "user_env: LAB_DB_USER, password_env: LAB_DB_PASS}")
        spec += "  htcondor:\n    env: " + json.dumps(site_env) + "\n"
        if pool:
            spec = spec.replace("defaults:\n", "defaults:\n  pool: %d\n" % pool, 1)
        assert spec.count("LAB_DB_USER") == 1 and str(DJ_PYTHON) in spec
        (tmp_path / "djflow.yaml").write_text(spec)
        self.folder = compile_spec(tmp_path / "djflow.yaml", tmp_path / "gen")

    def stage(self, *args):
        subprocess.run([str(DJ_PYTHON), str(EPHYS / "stage.py"), *args], env=self.stage_env, check=True,
                       capture_output=True, timeout=120, cwd=str(self.tmp))

    def run(self, dag_name, submit_env=None):
        dag = Dag(self.folder / dag_name, root=self.folder)
        harness = Harness(dag, self.submit_env if submit_env is None else submit_env, self.tmp / "scratch" / uuid.uuid4().hex[:6])
        start = time.monotonic()
        harness.run()
        harness.seconds = time.monotonic() - start
        return harness

    def counts(self):
        code = ("import json, datajoint as dj, ephys_pipeline as ep\nout = {}\nfor name in %r:\n"
                "    t = getattr(ep, name)\n    remaining, total = t.progress(display=False)\n"
                "    out[name] = {'rows': len(t()), 'remaining': remaining, 'errors': len(t.jobs.errors)}\n"
                "print(json.dumps(out))\n") % (AUTO_TABLES,)
        out = subprocess.run([str(DJ_PYTHON), "-c", code], env=self.stage_env, capture_output=True, text=True, check=True, cwd=str(self.tmp))
        return json.loads(out.stdout.strip().splitlines()[-1])

    def made(self):
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def drop(self):
        subprocess.run([str(DJ_PYTHON), "-c", "import datajoint as dj, os; dj.config['safemode']=False; "
                        "dj.Schema(os.environ['DJFLOW_SAMPLE_SCHEMA']).drop(prompt=False)"], env=self.stage_env, cwd=str(self.tmp))


@pytest.fixture
def run(db_env, tmp_path):
    assert DJ_PYTHON.exists(), "scripts/venv.sh dj2 creates the DataJoint 2.3.5 environment"
    r = Run(db_env, tmp_path)
    yield r
    r.drop()


def test_every_workflow_runs_in_order_and_fills_every_key_once(run):
    run.stage("initial")
    timings = {}
    w0 = run.run("w0-recording.dag")
    assert w0.status == {"recording_refresh": "done", "recording": "done", "lfp": "done"}, w0.runs[-1]
    timings["w0"] = (w0.seconds, w0.parse_seconds)
    counts = run.counts()
    assert counts["Recording"]["rows"] == 8 and counts["LFP"]["rows"] == 8

    run.stage("clustering-tasks")
    w1 = run.run("w1-clustering_task.dag")
    assert set(w1.status.values()) == {"done"}, w1.runs[-1]
    assert len([r for r in w1.runs if r["node"] == "clustering"]) == 4, "queue 4: four procs"
    timings["w1"] = (w1.seconds, w1.parse_seconds)

    run.stage("curations")
    w2 = run.run("w2-curation.dag")
    assert set(w2.status.values()) == {"done"}, w2.runs[-1]
    timings["w2"] = (w2.seconds, w2.parse_seconds)
    print("\n[harness: " + ", ".join(f"{k} {s:.1f} s (parsing {p:.2f} s)" for k, (s, p) in timings.items()) + "]")

    counts = run.counts()
    for table in AUTO_TABLES:
        assert counts[table]["remaining"] == 0 and counts[table]["rows"] > 0 and counts[table]["errors"] == 0, (table, counts)
    made = collections.Counter((e["table"], json.dumps(e["key"], sort_keys=True)) for e in run.made())
    assert not [k for k, n in made.items() if n > 1], "a key was made twice"
    for table in AUTO_TABLES:
        assert sum(1 for t, _ in made if t == table) == counts[table]["rows"]
    runs = w0.runs + w1.runs + w2.runs
    # Every proc ran the wrapper transferred as condor_exec.exe, with the ad's worker number and job id.
    for r in runs:
        assert r["argv"][0].endswith("/condor_exec.exe") and r["attempt"] == 0
        assert r["env"]["DJFLOW_JOB_ID"].endswith(f".{r['proc']}")
        assert "DJ_PASS" not in r["env"] and r["env"]["LAB_DB_PASS"]   # by name only
    workers = {r["argv"][r["argv"].index("--worker") + 1] for r in w1.runs if "--worker" in r["argv"]}
    assert workers == {"0/4", "1/4", "2/4", "3/4"}
    assert len({e["job_id"] for e in run.made() if e["table"] == "Clustering"}) >= 1


def test_a_failing_key_fails_its_node_after_the_retry_and_stops_its_children(run):
    run.stage("initial", "--with-failure")
    w0 = run.run("w0-recording.dag")
    assert w0.status == {"recording_refresh": "done", "recording": "failed", "lfp": "not-run"}
    assert w0.attempts["recording"] == 2, "retries: 1 in the sample"
    retry = [r for r in w0.runs if r["node"] == "recording" and r["attempt"] == 1]
    assert retry and all(r["argv"][1] == "1" for r in retry), "$(RETRY) reaches the wrapper"
    assert any(r["exit"] == 1 for r in retry)
    assert not [e for e in run.made() if e["table"] == "LFP"], "LFP must not run on broken input"
    counts = run.counts()
    assert counts["Recording"]["errors"] == 1 and counts["Recording"]["remaining"] == 1
    summaries = [json.loads(l) for r in retry for l in r["stdout"].splitlines() if l.startswith("{")]
    assert any(s["error_count"] == 1 for s in summaries), summaries
    # The wrapper turned attempt 1 into --clear-errors: the runner reports the error rows it gave back.
    assert any("cleared_errors" in s for s in summaries), summaries


def test_missing_credentials_exit_2_without_retry_and_abort_the_dag(run):
    w0 = run.run("w0-recording.dag", submit_env={})
    assert w0.aborted == 2
    assert w0.status["recording_refresh"] == "failed" and w0.attempts["recording_refresh"] == 1
    assert w0.status["recording"] == "not-run" and w0.status["lfp"] == "not-run"
    assert "LAB_DB_USER or LAB_DB_PASS is empty" in w0.runs[0]["stderr"]


def test_a_restricted_dag_runs_one_staged_entry(run):
    name = "mouse'3 \"ü\" $(x)"  # varchar(16)
    run.stage("initial", "--extra-subject", name)
    restriction = json.dumps({"subject": name})
    subprocess.run([str(DJ_PYTHON), str(run.folder / "djflow_restrict.py"), str(run.folder / "w0-recording.dag"), restriction], check=True)
    w0 = run.run("w0-recording.restricted.dag")
    assert set(w0.status.values()) == {"done"}, w0.runs[-1]
    for r in w0.runs:
        assert r["argv"][2] == restriction, "the wrapper passes it as --restriction"
    made = run.made()
    assert made and all(e["key"]["subject"] == name for e in made), made


def test_only_then_retry_failed_after_fixing_the_cause(run):
    """A failing key fails Recording; a DAG with --only LFP runs LFP on what is there (Recording's nodes DONE);
    the cause fixed, a --retry-failed DAG gives the error row back at the refresh node and the key is made once."""
    run.stage("initial", "--with-failure")
    w0 = run.run("w0-recording.dag")
    assert w0.status == {"recording_refresh": "done", "recording": "failed", "lfp": "not-run"}
    restrict = [str(DJ_PYTHON), str(run.folder / "djflow_restrict.py"), str(run.folder / "w0-recording.dag")]

    subprocess.run(restrict + ["--only", "LFP", "--out", str(run.folder / "only-lfp.dag")], check=True, capture_output=True)
    only = run.run("only-lfp.dag")
    assert only.status == {"recording_refresh": "done", "recording": "done", "lfp": "done"}
    assert {r["node"] for r in only.runs} == {"lfp"}, "DONE nodes are never submitted"
    assert run.counts()["LFP"]["rows"] == 8

    run.stage("fix-failure")
    subprocess.run(restrict + ["--retry-failed"], check=True, capture_output=True)
    retry = run.run("w0-recording.restricted.dag")
    assert set(retry.status.values()) == {"done"}, retry.runs[-1]
    refresh = [r for r in retry.runs if r["node"] == "recording_refresh"]
    assert len(refresh) == 1 and refresh[0]["attempt"] == 0 and refresh[0]["env"]["DJFLOW_RETRY_FAILED"] == "1"
    summary = json.loads(refresh[0]["stdout"].strip().splitlines()[-1])
    assert summary["cleared_errors"] == 1, summary   # djflow_node.sh passed --clear-errors on attempt 0
    workers = [r for r in retry.runs if r["node"] == "recording"]
    assert workers and all(r["env"]["DJFLOW_RETRY_FAILED"] == "" for r in workers), "the workers take the keys the refresh gave back"
    for r in workers:
        assert "cleared_errors" not in json.loads(r["stdout"].strip().splitlines()[-1])
    counts = run.counts()
    assert counts["Recording"] == {"rows": 9, "remaining": 0, "errors": 0} and counts["LFP"]["rows"] == 9, counts
    failing = [e for e in run.made() if e["table"] == "Recording" and e["key"]["session_id"] == 99]
    assert len(failing) == 1, failing


def test_pooled_workflows_run_as_one_node_each_and_fill_every_key_once(db_env, tmp_path):
    """`defaults: {pool: 3}`: w0 and w2 are one node each whose runner forks 3 workers; Clustering (a GPU
    table) keeps its nodes. A restricted copy naming one member table runs the whole pool node."""
    run = Run(db_env, tmp_path, pool=3)
    try:
        run.stage("initial")
        restrict = [str(DJ_PYTHON), str(run.folder / "djflow_restrict.py"), str(run.folder / "w0-recording.dag")]
        subprocess.run(restrict + ["--only", "LFP", "--out", str(run.folder / "only-lfp.dag")], check=True, capture_output=True)
        w0 = run.run("only-lfp.dag")
        assert list(w0.status.values()) == ["done"] and len(w0.runs) == 1, w0.status
        assert "--pool" in w0.runs[0]["argv"] and "LFP;follow=Recording" in w0.runs[0]["argv"], w0.runs[0]["argv"]
        run.stage("clustering-tasks")
        w1 = run.run("w1-clustering_task.dag")
        assert set(w1.status.values()) == {"done"} and len(w1.status) > 1, w1.status
        run.stage("curations")
        w2 = run.run("w2-curation.dag")
        assert list(w2.status.values()) == ["done"], w2.status
        summary = json.loads(w2.runs[0]["stdout"].strip().splitlines()[-1])
        assert summary["status"] == "ok" and len(summary["pool"]["workers"]) == 3, summary
        counts = run.counts()
        for table in AUTO_TABLES:
            assert counts[table]["remaining"] == 0 and counts[table]["rows"] > 0 and counts[table]["errors"] == 0, (table, counts)
        made = collections.Counter((e["table"], json.dumps(e["key"], sort_keys=True)) for e in run.made())
        assert not [k for k, n in made.items() if n > 1], "a key was made twice"
        assert sum(made.values()) == sum(c["rows"] for c in counts.values())
    finally:
        run.drop()
