"""The DAG files read back by the project's own DAGMan reader: nodes and edges equal the plan."""
import json
import subprocess
import sys

import pytest

from condor import NODE_NAME, RESERVED, Dag, DagError, ad_arguments, ad_environment, parse_submits
from conftest import SAMPLES, compile_spec


def expected_workflow(plan, workflow):
    """Nodes and edges the plan implies: a refresh node before each multi-worker table, nearest needs."""
    jobs = {j["id"]: j for j in plan["jobs"]}
    nodes, edges = {}, set()
    for job_id in workflow["jobs"]:
        job = jobs[job_id]
        nodes[job_id] = f"{workflow['id']}/{job_id}.sub"
        first = job_id
        if any(s["step"] == "refresh" for s in job["runnerSteps"]):
            nodes[f"{job_id}_refresh"] = f"{workflow['id']}/{job_id}.refresh.sub"
            edges.add((f"{job_id}_refresh", job_id))
            first = f"{job_id}_refresh"
        for parent in job["needs"]:
            edges.add((parent, first))
    return nodes, edges


@pytest.mark.parametrize("sample", SAMPLES)
def test_workflow_dags_equal_the_plan(compiled_samples, sample):
    folder, plan = compiled_samples[sample]
    jobs = {j["id"]: j for j in plan["jobs"]}
    for workflow in plan["workflows"]:
        dag = Dag(folder / f"{workflow['id']}.dag")
        nodes, edges = expected_workflow(plan, workflow)
        assert {n: node.submit for n, node in dag.nodes.items()} == nodes
        assert dag.edges() == edges
        dag.order()  # no cycle
        for name, node in dag.nodes.items():
            assert (folder / node.submit).is_file()
            assert NODE_NAME.match(name) and name.upper() not in RESERVED and "." not in name and "+" not in name
            job = jobs[name.removesuffix("_refresh")]
            assert node.retry == job["retries"] and node.unless_exit == (2 if job["retries"] else None)
            assert node.abort_on == {2: 2}
            assert node.priority == (5 - job["priority"] if job.get("priority") is not None else 0)


@pytest.mark.parametrize("sample", SAMPLES)
def test_top_dag_splices_every_workflow_in_plan_order(compiled_samples, sample):
    folder, plan = compiled_samples[sample]
    dag = Dag(folder / "all.dag")
    assert set(dag.splices) == {w["id"] for w in plan["workflows"]}
    jobs = {j["id"]: j for j in plan["jobs"]}
    wanted = {(jobs[a]["workflow"], j["workflow"]) for j in plan["jobs"] for a in j["after"]}
    assert set(dag.splice_edges) == wanted
    order = dag.order()
    assert len(order) == len(set(order))
    for workflow in plan["workflows"]:
        _, edges = expected_workflow(plan, workflow)
        for parent, child in edges:
            assert (f"{workflow['id']}+{parent}", f"{workflow['id']}+{child}") in dag.edges()
    for child in plan["jobs"]:
        for parent in child["after"]:   # cross-workflow: the parent's node runs first
            p = f"{jobs[parent]['workflow']}+{parent}"
            c = f"{child['workflow']}+{child['id']}"
            assert order.index(p) < order.index(c)


def test_reader_rejects_cycles_bad_names_and_duplicates(tmp_path):
    (tmp_path / "x.sub").write_text("executable = /bin/true\nqueue\n")
    for text, message in [("JOB a x.sub\nJOB b x.sub\nPARENT a CHILD b\nPARENT b CHILD a\n", "cycle"),
                          ("JOB a.b x.sub\n", "invalid node"), ("JOB a+b x.sub\n", "invalid node"),
                          ("JOB parent x.sub\n", "invalid node"), ("JOB a x.sub\nJOB a x.sub\n", "duplicate")]:
        (tmp_path / "t.dag").write_text(text)
        with pytest.raises(DagError, match=message):
            Dag(tmp_path / "t.dag").order()


def test_names_stay_valid_unique_and_stable_for_awkward_tables(tmp_path):
    (tmp_path / "djflow.yaml").write_text("""pipeline: awkward
runner: {module: m}
tables:
  S: {tier: manual}
  Parent: {tier: computed, depends_on: [S], workers: 2}
  ParentRefresh: {tier: computed, depends_on: [Parent]}
  lab.Child: {tier: computed, depends_on: [Parent], workers: 5, throttle: 2}
""")
    first = compile_spec(tmp_path / "djflow.yaml", tmp_path / "a")
    second = compile_spec(tmp_path / "djflow.yaml", tmp_path / "b")
    dag = Dag(next(first.glob("w0-*.dag")))
    names = list(dag.nodes)
    assert len(names) == len(set(n.upper() for n in names))
    assert all(NODE_NAME.match(n) and n.upper() not in RESERVED for n in names), names
    assert (first / "all.dag").read_text() == (second / "all.dag").read_text()
    workers = [n for n in names if "_w" in n]
    assert len(workers) == 5 and {dag.nodes[n].category for n in workers} == {workers[0].rsplit("_w", 1)[0] + "-workers"}
    assert dag.maxjobs[workers[0].rsplit("_w", 1)[0] + "-workers"] == 2
    assert sorted(dag.nodes[n].append["DJFLOW_WORKER"] for n in workers) == ["0", "1", "2", "3", "4"]
    dag.order()
    node = dag.nodes[workers[3]]
    results, _ = parse_submits([{"name": "w", "text": (first / node.submit).read_text(), "prepend": {"RETRY": "0"},
                                 "append": node.append}], first)
    assert results[0]["ok"] and len(results[0]["procs"]) == 1
    args = ad_arguments(results[0]["procs"][0])
    assert args[args.index("--worker") + 1] == "3/5"


HOSTILE_RESTRICTION = json.dumps({"subject": "M'1 \"q\" $(touch /tmp/pwned) $ENV(HOME) `id` \\ ; | & # ünï ✓ '' \"\""})


def test_restriction_helper_writes_vars_that_reach_the_arguments_byte_exact(compiled_samples, tmp_path):
    folder, plan = compiled_samples["ephys"]
    for dag_name in ["w0-recording.dag", "all.dag"]:
        out = subprocess.run([sys.executable, str(folder / "djflow_restrict.py"), str(folder / dag_name), HOSTILE_RESTRICTION],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        dag = Dag(folder / dag_name.replace(".dag", ".restricted.dag"), root=folder)
        requests = [{"name": n, "text": (folder / node.submit).read_text(), "prepend": dict(node.prepend, RETRY="0"),
                     "append": node.append} for n, node in dag.nodes.items()]
        assert all(node.append.keys() == {"DJFLOW_RESTRICTION"} for node in dag.nodes.values())
        results, _ = parse_submits(requests, folder, {"DJ_USER": "u", "DJ_PASS": "p"})
        for result in results:
            assert result["ok"], result
            for proc in result["procs"]:
                assert ad_arguments(proc)[1] == HOSTILE_RESTRICTION, result["name"]
    bad = subprocess.run([sys.executable, str(folder / "djflow_restrict.py"), str(folder / "w0-recording.dag"), "{not json"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not JSON" in bad.stderr
    bad = subprocess.run([sys.executable, str(folder / "djflow_restrict.py"), str(folder / "w0-recording.dag"), '"a\nb"'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "line break" in bad.stderr


def restrict(folder, *args):
    return subprocess.run([sys.executable, str(folder / "djflow_restrict.py"), *map(str, args)], capture_output=True, text=True)


def test_only_and_from_mark_the_other_nodes_done_and_retry_failed_marks_first_nodes(compiled_samples):
    folder, plan = compiled_samples["ephys"]
    out = restrict(folder, folder / "w0-recording.dag", "--only", "LFP", "--retry-failed", "--out", folder / "only.dag")
    assert out.returncode == 0, out.stderr
    dag = Dag(folder / "only.dag", root=folder)
    assert {n: node.done for n, node in dag.nodes.items()} == {"recording_refresh": True, "recording": True, "lfp": False}
    assert {n: node.append for n, node in dag.nodes.items()} == {"recording_refresh": {}, "recording": {},
                                                                 "lfp": {"DJFLOW_RETRY_FAILED": "1"}}
    assert dag.edges() == {("recording_refresh", "recording"), ("recording", "lfp")}, "edges are kept: DONE parents count as done"

    # --from across the splices of all.dag: Clustering and everything after it, by job id or table name.
    for name in ["clustering", "Clustering"]:
        out = restrict(folder, folder / "all.dag", "--from", name, "--retry-failed")
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [str(folder / f) for f in ["all.restricted.dag", "w0-recording.restricted.dag",
                                                                "w1-clustering_task.restricted.dag", "w2-curation.restricted.dag"]]
        dag = Dag(folder / "all.restricted.dag", root=folder)
        running = {n for n, node in dag.nodes.items() if not node.done}
        assert running == {"w1-clustering_task+clustering_refresh", "w1-clustering_task+clustering",
                           "w2-curation+curated_clustering", "w2-curation+quality_metrics",
                           "w2-curation+waveforms"}
        retried = {n for n, node in dag.nodes.items() if node.append.get("DJFLOW_RETRY_FAILED") == "1"}
        assert retried == {"w1-clustering_task+clustering_refresh", "w2-curation+curated_clustering",
                           "w2-curation+quality_metrics", "w2-curation+waveforms"}
        dag.order()

    # The VARS reach the job ad's environment through HTCondor's own parser; the node script turns it into --clear-errors.
    dag = Dag(folder / "all.restricted.dag", root=folder)
    node = dag.nodes["w2-curation+curated_clustering"]
    results, _ = parse_submits([{"name": "n", "text": (folder / node.submit).read_text(), "prepend": {"RETRY": "0"},
                                 "append": node.append}], folder, {"DJ_USER": "u", "DJ_PASS": "p"})
    assert results[0]["ok"], results
    assert ad_environment(results[0]["procs"][0])["DJFLOW_RETRY_FAILED"] == "1"
    results, _ = parse_submits([{"name": "n", "text": (folder / "w2-curation/waveforms.sub").read_text(), "prepend": {"RETRY": "0"},
                                 "append": {}}], folder, {"DJ_USER": "u", "DJ_PASS": "p"})
    assert ad_environment(results[0]["procs"][0])["DJFLOW_RETRY_FAILED"] == "", "empty unless the DAG sets it"


@pytest.mark.parametrize("name", ["$(touch /tmp/djflow-htc-pwned)", "LFP\nJOB x y", "recording_refresh", "", "Recording.Channel"])
def test_unknown_and_hostile_table_names_are_refused_and_nothing_is_written(compiled_samples, tmp_path, name):
    folder, _ = compiled_samples["ephys"]
    target = tmp_path / "out.dag"
    for option in ("--only", "--from"):
        out = restrict(folder, folder / "w0-recording.dag", option, "LFP," + name, "--out", target)
        assert out.returncode == 2 and "unknown table" in out.stderr, out.stderr
        assert "the tables of this DAG (name or job id): Recording (recording), LFP (lfp)" in out.stderr
        assert not target.exists()
    out = restrict(folder, folder / "w0-recording.dag", "--only", "LFP", "--from", "Recording")
    assert out.returncode == 2 and "not both" in out.stderr
    out = restrict(folder, folder / "w0-recording.dag")
    assert out.returncode == 2 and "nothing to write" in out.stderr
