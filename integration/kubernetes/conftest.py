"""Fixtures for the Kubernetes target tests (run with .venv/kubernetes, made by scripts/venvs/kubernetes.sh).

The manifests are compiled by the djflow binary ($DJFLOW_BIN, else .build/debug/djflow). The harness runs
pods with DataJoint's interpreter (.venv/dj2, made by scripts/venv.sh) against the MariaDB of
scripts/db/up.sh (DJFLOW_STATE is passed through, so a running server is reused)."""

import os
import pathlib
import subprocess
import sys
import time
import uuid

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402  (shared test database helpers)
sys.path.insert(0, str(HERE))

DJ2_BIN = REPO / ".venv" / "dj2" / "bin"
VERSIONS = ["1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37"]


@pytest.fixture(scope="session")
def djflow_bin():
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), "build djflow first: %s" % path
    return path


@pytest.fixture(scope="session")
def compile_spec(djflow_bin, tmp_path_factory):
    """compile_spec(yaml text or path) -> folder with kubernetes/*.yaml."""
    def compile_(text, name="djflow.yaml"):
        folder = tmp_path_factory.mktemp("compile")
        (folder / name).write_text(text, encoding="utf-8")
        result = subprocess.run([djflow_bin, "compile", name, "--target", "kubernetes", "--out", "gen"],
                                cwd=folder, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return folder / "gen" / "kubernetes"
    return compile_


@pytest.fixture(scope="session")
def db_env():
    assert (DJ2_BIN / "python").exists(), "run scripts/venv.sh dj2 first"
    t = time.time()
    env = testdb.start()
    sys.stderr.write("\n[db up in %.2f s: %s]\n" % (time.time() - t, env["DJ_HOST"]))
    return env


@pytest.fixture()
def sample_env(db_env, tmp_path):
    """Environment of the ephys sample's staging and checks, with a fresh schema dropped afterwards."""
    env = {
        "PATH": "%s:/usr/local/bin:/usr/bin:/bin" % DJ2_BIN,
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO / "Samples" / "ephys"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJ_IGNORE_CONFIG_FILE": "true",
        "DJFLOW_SAMPLE_SCHEMA": "djflow_k8s_" + uuid.uuid4().hex[:8],
        "DJFLOW_SAMPLE_LOG": str(tmp_path / "make.jsonl"),
        "DJFLOW_SAMPLE_SLEEP": "0.2",
    }
    env.update({k: v for k, v in db_env.items() if k.startswith("DJ_")})
    yield env
    subprocess.run([str(DJ2_BIN / "python"), "-c", "import datajoint as dj, os; dj.config['safemode']=False; "
                    "dj.Schema(os.environ['DJFLOW_SAMPLE_SCHEMA']).drop(prompt=False)"],
                   env=env, cwd=REPO / "Samples" / "ephys", capture_output=True)
