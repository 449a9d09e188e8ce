"""Fixtures for the HTCondor target tests: the djflow binary, compiled samples, the plan, the database.

Run with the htcondor venv (scripts/venvs/htcondor.sh): .venv/htcondor/bin/python -m pytest integration/htcondor
Submit files are parsed in a child process by .venv/htcondor's HTCondor bindings; nodes of the run
harness execute with the interpreter named in the compiled spec (.venv/dj2's python, DataJoint 2.3.5).
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from condor import REPO  # noqa: E402
sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402  (shared test database helpers)

SAMPLES = ["ephys", "tutorial"]
DJ_PYTHON = REPO / ".venv" / "dj2" / "bin" / "python"


def djflow_path():
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), f"build djflow first: {path}"
    return path


def djflow(*args, cwd=REPO, check=0):
    result = subprocess.run([djflow_path(), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def compile_spec(spec_path, out):
    djflow("compile", spec_path, "--target", "htcondor", "--out", out)
    return pathlib.Path(out) / "htcondor"


def plan(spec_path):
    return json.loads(djflow("plan", spec_path, "--format", "json").stdout)


@pytest.fixture(scope="session")
def compiled_samples(tmp_path_factory):
    """Every sample compiled once: {sample: (htcondor folder, plan)}."""
    out = {}
    for sample in SAMPLES:
        folder = tmp_path_factory.mktemp(sample)
        spec = REPO / "Samples" / sample / "djflow.yaml"
        out[sample] = (compile_spec(spec, folder), plan(spec))
    return out


@pytest.fixture(scope="session")
def db_env():
    """DJ_* of the running test MariaDB (scripts/db/up.sh reuses a running server)."""
    return testdb.start()
