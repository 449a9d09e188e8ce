"""Fixtures for the Airflow tests: real Airflow (3.3.2 or 2.11.2, whichever venv runs pytest), the djflow
binary, and for the runs the real MariaDB of scripts/db/up.sh with the DataJoint 2.x venv as runner.python.

    .venv/airflow3/bin/python -m pytest integration/airflow     # Airflow 3.3.2
    .venv/airflow2/bin/python -m pytest integration/airflow     # Airflow 2.11.2

Airflow is configured before it is imported: a private AIRFLOW_HOME (SQLite metadata database, created
once per session with `airflow db migrate`), no examples, and one DAG folder under which every test
compiles into its own subfolder (so Airflow 3's dags-folder bundle holds them all).
"""

import atexit
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402  (shared test database helpers)
SAMPLES = ["ephys", "tutorial"]

_HOME = pathlib.Path(tempfile.mkdtemp(prefix="djflow-airflow-"))
atexit.register(shutil.rmtree, str(_HOME), ignore_errors=True)
DAGS = _HOME / "dags"
DAGS.mkdir()
os.environ.update(
    AIRFLOW_HOME=str(_HOME / "home"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
    AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE="False",  # parse every .py: .airflowignore must keep the runner out
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    PYTHONWARNINGS="ignore",
)

import airflow  # noqa: E402

AIRFLOW_VERSION = airflow.__version__
AIRFLOW3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3


def pytest_report_header(config):
    return "airflow %s (AIRFLOW_HOME %s)" % (AIRFLOW_VERSION, os.environ["AIRFLOW_HOME"])


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::UserWarning")


# --- djflow ---------------------------------------------------------------


def djflow_bin():
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), "build djflow first: %s" % path
    return path


def djflow(*args, check=0):
    result = subprocess.run([djflow_bin(), *map(str, args)], cwd=REPO, capture_output=True, text=True)
    if check is not None:
        assert result.returncode == check, "djflow %s: exit %d\n%s%s" % (args, result.returncode, result.stdout, result.stderr)
    return result


def compile_airflow(spec, name):
    """Compile `spec` for Airflow into DAGS/<name>/ and return DAGS/<name>/airflow."""
    out = DAGS / name
    djflow("compile", spec, "--target", "airflow", "--out", out)
    return out / "airflow"


def plan(spec):
    return json.loads(djflow("plan", spec, "--format", "json").stdout)


def expected_graph(plan_json, workflow, prefix=None):
    """The tasks and edges a workflow's DAG must have, derived from the plan alone."""
    jobs = {job["id"]: job for job in plan_json["jobs"]}
    tasks, edges = set(), set()
    for job_id in workflow["jobs"]:
        job = jobs[job_id]
        refresh = [s["step"] for s in job["runnerSteps"]] == ["refresh", "populate"]  # the plan's runner contract
        first = job_id + ".refresh" if refresh else job_id
        tasks.add(job_id)
        if refresh:
            tasks.add(first)
            edges.add((first, job_id))
        for need in job["needs"]:
            edges.add((need, first))
    return tasks, edges


# --- Airflow --------------------------------------------------------------


def dagbag(folder):
    """Parse a folder in this process, the way the DAG processor does (no metadata database needed)."""
    if AIRFLOW3:
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=str(folder))
    from airflow.models.dagbag import DagBag

    return DagBag(str(folder), include_examples=False)


def serialize(dag):
    if AIRFLOW3:
        from airflow.serialization.serialized_objects import DagSerialization

        return DagSerialization.to_dict(dag)
    from airflow.serialization.serialized_objects import SerializedDAG

    return SerializedDAG.to_dict(dag)


@pytest.fixture(scope="session")
def airflow_db():
    """The metadata database (SQLite in AIRFLOW_HOME), migrated once per session."""
    airflow_cli = pathlib.Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow_cli), "db", "migrate"], check=True, capture_output=True, timeout=300)
    return True


def load_for_runs(folder):
    """DAGs of `folder` ready for dag.test(), written to the metadata database as the DAG processor would
    (Airflow 3 runs only serialized DAGs; Asset/Dataset events need the assets registered)."""
    if not AIRFLOW3:
        bag = dagbag(folder)
        assert not bag.import_errors, bag.import_errors
        bag.sync_to_db()  # as the scheduler would: registers the DAGs' Datasets too
        return bag.dags
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    bundle.initialize()
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=bundle.path, bundle_name=bundle.name)
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, bundle.name, bundle.version)
    return bag.dags


def run_dag(folder, dag_id, conf=None):
    """dag.test() in this process; returns (run state, {(task_id, map_index): (state, try_number)}).

    The DAG is parsed afresh for every run, as a worker would: dag.test(run_conf=...) updates the parsed
    DAG's params in place, which would leak one run's restriction into the next."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    dag = load_for_runs(folder)[dag_id]
    started = time.perf_counter()
    run = dag.test(run_conf=conf) if conf is not None else dag.test()
    sys.stderr.write("\n[dag.test %s: %.1f s]\n" % (dag_id, time.perf_counter() - started))
    with create_session() as session:
        rows = session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run.run_id)
        states = {(ti.task_id, ti.map_index): (str(getattr(ti.state, "value", ti.state)), ti.try_number) for ti in rows}
    return str(getattr(run.state, "value", run.state)), states


# --- database -------------------------------------------------------------


@pytest.fixture(scope="session")
def db_env():
    """DJ_* variables of the running test database (scripts/db/up.sh reuses a running server)."""
    env = testdb.start()
    prefix = "djflow_af%s_%d_" % (AIRFLOW_VERSION.split(".")[0], os.getpid())
    env["_SCHEMA_PREFIX"] = prefix
    yield env
    testdb.drop_schemas(env, prefix)


@pytest.fixture(scope="session")
def dj_python():
    """The DataJoint 2.x interpreter the generated tasks run the runner with (scripts/venv.sh makes it)."""
    path = REPO / ".venv" / "dj2" / "bin" / "python"
    assert path.exists(), "create the DataJoint venv first: scripts/venv.sh dj2"
    return str(path)


connect = testdb.connect
