"""The ephys sample's Kubernetes manifests, run command by command on the host (harness.py) against the real
database: w0 -> stage clustering tasks -> w1 -> stage curations -> w2; a failing key; a restriction; and
hostile strings from djflow.yaml to the runner's argv and environment."""

import collections
import json
import os
import subprocess
import sys
import time

import pytest

import harness
import manifests
import specs
from conftest import DJ2_BIN, REPO

AUTO_TABLES = ["Recording", "LFP", "Clustering", "CuratedClustering", "Waveforms", "QualityMetrics"]
EDGES = [("Recording", "LFP"), ("Recording", "Clustering"), ("Clustering", "CuratedClustering"),
         ("CuratedClustering", "Waveforms"), ("CuratedClustering", "QualityMetrics")]
PYTHON = str(DJ2_BIN / "python")


def stage(env, step, *args):
    subprocess.run([PYTHON, "stage.py", step, *args], cwd=REPO / "Samples/ephys", env=env, check=True, capture_output=True)


def db_counts(env):
    code = """
import json, datajoint as dj, ephys_pipeline as ep
out = {}
for name in %r:
    t = getattr(ep, name)
    remaining, total = t.progress(display=False)
    out[name] = {"rows": len(t()), "remaining": remaining, "total": total, "errors": len(t.jobs.errors)}
print(json.dumps(out))
""" % (AUTO_TABLES,)
    result = subprocess.run([PYTHON, "-c", code], cwd=REPO / "Samples/ephys", env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_log(env):
    path = env["DJFLOW_SAMPLE_LOG"]
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def compile_ephys(compile_spec, env, restriction=None, pool=None):
    spec = (REPO / "Samples/ephys/djflow.yaml").read_text()
    if pool:
        spec = spec.replace("defaults:\n", "defaults:\n  pool: %d\n" % pool, 1)
    spec = spec.replace("host: db.example.org:3306", "host: '%s'" % env["DJ_HOST"])
    extra = "    wait_interval: 1\n"
    if restriction is not None:
        extra += "    restrictions: {w0-recording: %s}\n" % specs.yaml_double_quoted(restriction)
    spec = spec.replace("  kubernetes:\n    namespace: ephys\n", "  kubernetes:\n    namespace: ephys\n" + extra)
    assert "wait_interval: 1" in spec
    return compile_spec(spec)


def image_env(env):
    """The 'image': everything but the credentials, which come only from the Secret."""
    return {k: v for k, v in env.items() if not k.startswith("DJ_") or k == "DJ_IGNORE_CONFIG_FILE"}


@pytest.fixture()
def cluster(sample_env, tmp_path):
    secrets = {"ephys-db": {"DJ_USER": sample_env["DJ_USER"], "DJ_PASS": sample_env["DJ_PASS"]}}
    lines = []
    os.makedirs(tmp_path / "cluster")
    c = harness.Cluster(str(tmp_path / "cluster"), secrets, image_env(sample_env), log=lines.append)
    c.lines = lines
    yield c
    c.close()


def run_workflow(cluster, folder, workflow):
    docs = manifests.load(folder / ("%s.yaml" % workflow))
    cluster.apply(docs)
    start = time.time()
    statuses = cluster.run(timeout=300)
    sys.stderr.write("\n[harness: %s in %.1f s]\n" % (workflow, time.time() - start))
    cluster.timings = getattr(cluster, "timings", {})
    cluster.timings[workflow] = time.time() - start
    return {name: status for name, status in statuses.items() if name in {d["metadata"]["name"] for d in docs}}, docs


def check_order(cluster, docs):
    """No Job's populate container started before every Job it waits for had completed."""
    finished = {j.name: j.finished for j in cluster.jobs.values()}
    for doc in docs:
        if doc["kind"] != "Job":
            continue
        name = doc["metadata"]["name"]
        for upstream in manifests.wait_targets(doc["spec"]["template"]["spec"]):
            starts = [e[0] for e in cluster.events if e[1] == name and e[4] == "start" and e[3] in ("populate", "refresh")]
            assert starts and min(starts) >= finished[upstream], (name, upstream)


def test_ephys_workflows_run_in_order_and_fill_every_key_once(sample_env, cluster, compile_spec):
    env = sample_env
    folder = compile_ephys(compile_spec, env)
    stage(env, "initial")
    statuses, docs = run_workflow(cluster, folder, "w0-recording")
    assert statuses == {"ephys-recording-refresh": "Complete", "ephys-recording": "Complete", "ephys-lfp": "Complete"}, cluster.lines
    check_order(cluster, docs)
    counts = db_counts(env)
    assert counts["Recording"]["rows"] == 8 and counts["LFP"]["rows"] == 8
    assert counts["Clustering"]["total"] == 0

    stage(env, "clustering-tasks")
    statuses, docs = run_workflow(cluster, folder, "w1-clustering_task")
    assert set(statuses.values()) == {"Complete"}, cluster.lines
    check_order(cluster, docs)
    clustering = cluster.jobs[("ephys", "ephys-clustering")]
    assert len(clustering.pods) == 4 and {p.index for p in clustering.pods} == {0, 1, 2, 3}

    stage(env, "curations")
    statuses, docs = run_workflow(cluster, folder, "w2-curation")
    assert set(statuses.values()) == {"Complete"}, cluster.lines
    check_order(cluster, docs)

    counts = db_counts(env)
    for table in AUTO_TABLES:
        assert counts[table]["remaining"] == 0 and counts[table]["rows"] > 0 and counts[table]["errors"] == 0, (table, counts)
    log = make_log(env)
    made = collections.Counter((e["table"], json.dumps(e["key"], sort_keys=True)) for e in log)
    assert not [k for k, n in made.items() if n > 1], "keys made more than once"
    per_table = collections.Counter(t for t, _ in made)
    for table in AUTO_TABLES:
        assert per_table[table] == counts[table]["rows"], table
    assert len({e["job_id"] for e in log if e["table"] == "Clustering"}) >= 2, "workers split the keys"
    assert all(e["job_id"].startswith("ephys-clustering-") for e in log if e["table"] == "Clustering"), "DJFLOW_JOB_ID = pod name"
    first_start = {t: min(e["start"] for e in log if e["table"] == t) for t in AUTO_TABLES}
    last_end = {t: max(e["end"] for e in log if e["table"] == t) for t in AUTO_TABLES}
    for parent, child in EDGES:
        assert first_start[child] >= last_end[parent], (parent, child)

    # The refresh step ran once per multi-worker table in table-level order; the workers did not refresh.
    # (Waveforms follows CuratedClustering key by key: its workers refresh the queue themselves.)
    for table in ("recording", "clustering"):
        refresh = cluster.summaries("ephys-%s-refresh" % table)
        assert len(refresh) == 1 and refresh[0]["status"] == "ok", refresh
        workers = cluster.summaries("ephys-%s" % table)
        assert workers and all(s["refresh"] is None for s in workers), workers
    # Waits went through the API server, with the wait service account, and were allowed.
    accounts = {("ephys", "ephys-%s-wait" % w) for w in ("w0-recording", "w1-clustering-task", "w2-curation")}
    assert cluster.api_log and {entry[2] for entry in cluster.api_log} <= accounts
    assert {entry[3] for entry in cluster.api_log} == {200}, "no 401/403 (RBAC suffices), no 404 (all applied at once)"
    sys.stderr.write("[harness timings: %s]\n" % {k: round(v, 1) for k, v in cluster.timings.items()})


def test_pooled_workflows_run_as_one_job_each_and_fill_every_key_once(sample_env, cluster, compile_spec):
    """`defaults: {pool: 3}`: w0 and w2 are one Job each whose runner forks 3 workers; Clustering (a GPU
    table) keeps its Jobs, and w2's pool waits for it through the API server."""
    env = sample_env
    folder = compile_ephys(compile_spec, env, pool=3)
    stage(env, "initial")
    statuses, docs = run_workflow(cluster, folder, "w0-recording")
    assert list(statuses.values()) == ["Complete"], (statuses, cluster.lines)
    stage(env, "clustering-tasks")
    statuses, docs = run_workflow(cluster, folder, "w1-clustering_task")
    assert set(statuses.values()) == {"Complete"} and len(statuses) > 1, (statuses, cluster.lines)
    stage(env, "curations")
    statuses, docs = run_workflow(cluster, folder, "w2-curation")
    assert list(statuses.values()) == ["Complete"], (statuses, cluster.lines)
    (name,) = statuses
    summaries = cluster.summaries(name)
    assert [s["status"] for s in summaries] == ["ok"] and len(summaries[0]["pool"]["workers"]) == 3, summaries

    counts = db_counts(env)
    for table in AUTO_TABLES:
        assert counts[table]["remaining"] == 0 and counts[table]["rows"] > 0 and counts[table]["errors"] == 0, (table, counts)
    made = collections.Counter((e["table"], json.dumps(e["key"], sort_keys=True)) for e in make_log(env))
    assert not [k for k, n in made.items() if n > 1], "keys made more than once"
    assert sum(made.values()) == sum(c["rows"] for c in counts.values())


def test_failing_key_fails_its_job_after_a_retry_and_stops_downstream(sample_env, cluster, compile_spec):
    env = sample_env
    folder = compile_ephys(compile_spec, env)
    stage(env, "initial", "--with-failure")
    statuses, docs = run_workflow(cluster, folder, "w0-recording")
    assert statuses["ephys-recording-refresh"] == "Complete"
    assert statuses["ephys-recording"] == "Failed" and statuses["ephys-lfp"] == "Failed", cluster.lines
    recording = cluster.jobs[("ephys", "ephys-recording")]
    failed = [p for p in recording.pods if p.phase == "Failed"]
    # The index that hits the corrupt key fails, and so does an index that ends after the error row exists:
    # a worker succeeds only when the table is done within its scope. Such an index gets 1 + retries(1)
    # tries. An index whose retry ends while another index's retry holds the key (reserved, no error row
    # yet) may succeed: the key is another live worker's. The Job fails either way (asserted above).
    by_index = {}
    for pod in failed:
        by_index.setdefault(pod.index, []).append(pod)
    assert any(len(pods) == 2 for pods in by_index.values()), [(p.index, p.name) for p in failed]
    for index, pods in by_index.items():
        if len(pods) == 1:
            assert [p.phase for p in recording.pods if p.index == index][-1] == "Succeeded", (index, recording.pods)
    assert all(p.exit_codes == {"wait": 0, "populate": 1} for p in failed)
    retry_log = cluster.logs("ephys-recording", "populate")
    added = "of this index: --clear-errors"  # the wrapper's line (the runner's own log may name the flag too)
    for first, *retries in by_index.values():
        assert [first.failures] + [r.failures for r in retries] == [0, 1][:1 + len(retries)]
        for retry in [p for p in recording.pods if p.index == first.index and p is not first]:
            assert any(added in text for name, text in retry_log.items() if name.startswith(retry.name)), retry_log.keys()
        assert not any(added in text for name, text in retry_log.items() if name.startswith(first.name))
    summaries = cluster.summaries("ephys-recording")
    assert any(s["status"] == "errors" and s["error_count"] == 1 for s in summaries), summaries
    lfp = cluster.jobs[("ephys", "ephys-lfp")]
    assert len(lfp.pods) == 1 and lfp.pods[0].exit_codes == {"wait": 3} and not lfp.pods[0].ran_main
    assert lfp.conditions[0][:2] == ("FailureTarget", "PodFailurePolicy")
    assert not [e for e in make_log(env) if e["table"] == "LFP"], "LFP must not run on broken input"
    counts = db_counts(env)
    assert counts["Recording"]["errors"] == 1 and counts["Recording"]["remaining"] == 1 and counts["Recording"]["rows"] == 8


def test_retry_failed_in_the_configmap_computes_a_fixed_key_exactly_once(sample_env, cluster, compile_spec):
    env = sample_env
    folder = compile_ephys(compile_spec, env)
    stage(env, "initial", "--with-failure")
    statuses, docs = run_workflow(cluster, folder, "w0-recording")
    assert statuses["ephys-recording"] == "Failed" and statuses["ephys-lfp"] == "Failed", cluster.lines
    stage(env, "fix-failure")

    # kubectl delete -f w0-recording.yaml; retry_failed: "true" in the file; kubectl apply -f w0-recording.yaml
    cluster.delete(docs)
    docs = manifests.load(folder / "w0-recording.yaml")
    next(d for d in docs if d["kind"] == "ConfigMap")["data"]["retry_failed"] = "true"
    cluster.apply(docs)
    statuses = cluster.run(timeout=300)
    assert set(statuses.values()) == {"Complete"}, cluster.lines

    def summaries(job):  # of this run's pods only (the logs folder holds the first run's too)
        pods = {p.name for p in cluster.jobs[("ephys", job)].pods}
        return [json.loads(line) for name, text in cluster.logs(job).items() if name.partition(".")[0] in pods
                for line in text.splitlines() if line.startswith("{") and '"success_count"' in line]

    refresh = summaries("ephys-recording-refresh")
    assert len(refresh) == 1 and refresh[0]["cleared_errors"] == 1, refresh
    workers = summaries("ephys-recording")
    assert len(workers) == 2 and all("cleared_errors" not in s for s in workers), "workers take what the refresh gave back"
    counts = db_counts(env)
    assert counts["Recording"] == {"rows": 9, "remaining": 0, "total": 9, "errors": 0}, counts
    assert counts["LFP"]["rows"] == 9 and counts["LFP"]["remaining"] == 0
    fixed = [e for e in make_log(env) if e["table"] == "Recording" and e["key"]["session_id"] == 99]
    assert len(fixed) == 1, fixed


def test_restriction_in_the_workflow_configmap_runs_one_staged_entry(sample_env, cluster, compile_spec):
    env = sample_env
    subject = "m'3 \"ü\" $(x)$$"  # at most 16 characters (Subject.subject is varchar(16))
    folder = compile_ephys(compile_spec, env, restriction=json.dumps({"subject": subject}))
    stage(env, "initial", "--extra-subject", subject)
    statuses, _ = run_workflow(cluster, folder, "w0-recording")
    assert set(statuses.values()) == {"Complete"}, cluster.lines
    log = make_log(env)
    assert log and all(e["key"]["subject"] == subject for e in log), log
    assert {e["table"] for e in log} == {"Recording", "LFP"}


SHIM = """#!%(python)s
import json, os, sys
if len(sys.argv) > 1 and sys.argv[1].endswith("djflow_k8s.py"):
    os.execv(%(python)r, [%(python)r] + sys.argv[1:])
with open(os.path.join(os.environ["PROBE_DIR"], "%%d.json" %% os.getpid()), "w") as f:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, f)
"""


def test_hostile_strings_reach_the_runner_byte_exact(compile_spec, tmp_path):
    folder = compile_spec(specs.hostile_pipeline())
    shim_dir = tmp_path / "image-bin"
    shim_dir.mkdir()
    (shim_dir / "python3").write_text(SHIM % {"python": PYTHON})
    (shim_dir / "python3").chmod(0o755)
    probe = tmp_path / "probe"
    probe.mkdir()
    image = {"PATH": "%s:/usr/bin:/bin" % shim_dir, "PROBE_DIR": str(probe), "LANG": "C.UTF-8"}
    secret_pass = specs.HOSTILE[5] + specs.HOSTILE[12]
    os.makedirs(tmp_path / "cluster")
    cluster = harness.Cluster(str(tmp_path / "cluster"), {"hostile-db": {"DJ_USER": "u", "DJ_PASS": secret_pass}}, image)
    try:
        runner_source = (REPO / "Templates/runner/djflow_populate.py").read_text()
        for i, value in enumerate(specs.HOSTILE):
            docs = manifests.load(folder / ("w0-t%d.yaml" % i))
            cm = docs[0]
            assert cm["data"]["restriction"] == value, i
            assert cm["data"]["djflow_populate.py"].split("\n", 1)[1] == runner_source
            cluster.apply(docs)
        statuses = cluster.run(timeout=300)
        assert set(statuses.values()) == {"Complete"}
    finally:
        cluster.close()
    records = [json.loads(p.read_text()) for p in probe.iterdir()]
    assert len(records) == len(specs.HOSTILE)
    for record in records:
        argv, env = record["argv"], record["env"]
        i = int(argv[argv.index("--table") + 1][1:])
        assert argv[argv.index("--restriction") + 1] == specs.HOSTILE[i], i
        assert argv[-1] != "--clear-errors"
        for j, value in enumerate(specs.HOSTILE):
            assert env["H%d" % j] == value and env["K%d" % j] == value, j
        assert env["DJ_HOST"] == "db:3306 $(X) \"q\"" and env["DJ_PASS"] == secret_pass
        assert env["DJFLOW_RESTRICTION"] == specs.HOSTILE[i]
