import os
import pathlib
import subprocess
import sys
import uuid

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import slurm_cluster  # noqa: E402

sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402  (shared test database helpers)


@pytest.fixture(scope="session")
def cluster_env(tmp_path_factory):
    """A real SLURM cluster and a real MariaDB, with a fresh schema for this run."""
    db_env = testdb.start()
    env = slurm_cluster.up()
    env.update({k: v for k, v in db_env.items() if k.startswith("DJ_")})
    venv_bin = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env["PATH"]          # jobs inherit the venv's python3
    env["PYTHONPATH"] = str(REPO / "Samples/ephys")
    env["DJFLOW_SAMPLE_SCHEMA"] = "djflow_e2e_" + uuid.uuid4().hex[:8]
    env["DJFLOW_SAMPLE_LOG"] = str(tmp_path_factory.mktemp("log") / "make.jsonl")
    env["DJFLOW_SAMPLE_SLEEP"] = "0.3"
    env["DJFLOW_RETRY_DELAY"] = "1"
    env["DJ_IGNORE_CONFIG_FILE"] = "true"
    yield env
    drop_schema(env)


def drop_schema(env):
    """Drop the sample's schema ($DJFLOW_SAMPLE_SCHEMA) with everything in it."""
    subprocess.run([sys.executable, "-c", "import datajoint as dj, os; dj.config['safemode']=False; "
                    "dj.Schema(os.environ['DJFLOW_SAMPLE_SCHEMA']).drop(prompt=False)"], env=env, cwd=REPO / "Samples/ephys")


def own_schema(cluster_env, tmp_path_factory, name, sleep):
    """For a module fixture (`yield from`): the cluster's environment with a schema and make() log of its own
    (djflow_e2e_<name>_...), make() sleeping `sleep` seconds; the schema is dropped afterwards."""
    env = dict(cluster_env)
    env["DJFLOW_SAMPLE_SCHEMA"] = "djflow_e2e_%s_%s" % (name, uuid.uuid4().hex[:8])
    env["DJFLOW_SAMPLE_LOG"] = str(tmp_path_factory.mktemp(name + "log") / "make.jsonl")
    env["DJFLOW_SAMPLE_SLEEP"] = str(sleep)
    yield env
    drop_schema(env)


@pytest.fixture(scope="session")
def djflow_bin():
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), f"build djflow first: {path}"
    return path
