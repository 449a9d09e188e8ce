"""Every sample's generated DAGs, parsed by real Airflow in one process: no import errors, and tasks and
edges exactly the plan's. No metadata database needed."""

import datetime
import time

import pytest

from conftest import AIRFLOW3, DAGS, REPO, SAMPLES, compile_airflow, dagbag, expected_graph, plan, serialize


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    specs = {sample: REPO / "Samples" / sample / "djflow.yaml" for sample in SAMPLES}
    # The ephys sample once more with Asset chaining, under another DAG id prefix.
    text = specs["ephys"].read_text()
    assets = tmp_path_factory.mktemp("assets") / "djflow.yaml"
    assets.write_text(text.replace("targets:\n  slurm:", "targets:\n  airflow: {gated: assets, dag_id_prefix: ephys_assets.}\n  slurm:", 1))
    specs["ephys-assets"] = assets
    for name, spec in specs.items():
        compile_airflow(spec, "bag/" + name)
    started = time.perf_counter()
    loaded = dagbag(DAGS / "bag")
    seconds = time.perf_counter() - started
    print("\nDagBag of %d DAG files: %.2f s" % (len(loaded.dags), seconds))
    return loaded, {name: plan(spec) for name, spec in specs.items()}


def test_no_import_errors_and_the_runner_is_not_parsed(bag):
    loaded, _ = bag
    assert loaded.import_errors == {}
    parsed = [stat.file for stat in loaded.dagbag_stats]
    assert parsed and not any("djflow_populate" in f for f in parsed), parsed  # .airflowignore
    assert len(parsed) == len(loaded.dags)


@pytest.mark.parametrize("name", SAMPLES + ["ephys-assets"])
def test_tasks_and_edges_equal_the_plan(bag, name):
    loaded, plans = bag
    prefix = "ephys_assets." if name == "ephys-assets" else plans[name]["pipeline"] + "-"
    for workflow in plans[name]["workflows"]:
        dag = loaded.dags[prefix + workflow["id"]]
        tasks, edges = expected_graph(plans[name], workflow)
        got_tasks = {t.task_id for t in dag.tasks}
        got_edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
        if name == "ephys-assets" and "workflow.done" in got_tasks:
            got_tasks.discard("workflow.done")
            got_edges = {e for e in got_edges if e[1] != "workflow.done"}
        assert got_tasks == tasks, workflow["id"]
        assert got_edges == edges, workflow["id"]
        assert dag.catchup is False
        serialize(dag)  # what the scheduler and UI get


def test_task_settings_follow_the_spec(bag):
    loaded, plans = bag
    jobs = {job["id"]: job for job in plans["ephys"]["jobs"]}
    for workflow in plans["ephys"]["workflows"]:
        dag = loaded.dags["ephys-" + workflow["id"]]
        assert dag.params["restriction"] == ""
        assert dag.owner == "djflow" and set(dag.tags) == {"djflow", "ephys"}
        for task in dag.tasks:
            job = jobs[task.task_id.split(".")[0]]
            mapped = task.task_id == job["id"] and job["workers"] > 1  # a worker array, with or without a refresh step
            assert task.retries == job["retries"]
            assert task.retry_delay == datetime.timedelta(seconds=30)
            rule = attr(task, "weight_rule")
            assert "absolute" in (str(rule) + type(rule).__name__).lower(), rule
            assert attr(task, "do_xcom_push") is False
            if not task.task_id.endswith(".refresh"):
                assert task.execution_timeout == datetime.timedelta(seconds=job["resources"]["timeSeconds"])
            assert (type(task).__name__ == "MappedOperator") == mapped, task.task_id
            assert job["table"] in task.doc_md
            assert attr(task, "append_env") is True and attr(task, "skip_on_exit_code") in ([], None)
    # DataJoint priority 3 (lower first) becomes the Airflow weight 253 (higher first).
    assert loaded.dags["ephys-w1-clustering_task"].get_task("clustering.refresh").priority_weight == 253


def attr(task, name):
    """A task attribute; mapped tasks keep some of their arguments in partial_kwargs."""
    if type(task).__name__ == "MappedOperator" and name in getattr(task, "partial_kwargs", {}):
        return task.partial_kwargs[name]
    return getattr(task, name)


def test_schedules(bag):
    loaded, _ = bag
    for dag_id in ["ephys-w0-recording", "ephys-w1-clustering_task", "tutorial-w0-neuron"]:
        dag = loaded.dags[dag_id]
        assert type(dag.timetable).__name__ == "NullTimetable", dag.timetable
    # gated: assets: the workflow after the gate starts on the upstream workflow's Asset (2.x: Dataset).
    w1 = loaded.dags["ephys_assets.w1-clustering_task"]
    assert "Asset" in type(w1.timetable).__name__ or "Dataset" in type(w1.timetable).__name__, w1.timetable
    condition = getattr(w1.timetable, "asset_condition", None) or getattr(w1.timetable, "dataset_condition", None)
    assert "x-djflow://ephys/w0-recording" in repr(condition), condition
    done = loaded.dags["ephys_assets.w0-recording"].get_task("workflow.done")
    assert [a.uri for a in done.outlets] == ["x-djflow://ephys/w0-recording"]
    assert done.upstream_task_ids == {"lfp"}
    assert "workflow.done" not in loaded.dags["ephys_assets.w2-curation"].task_ids  # nothing consumes it
