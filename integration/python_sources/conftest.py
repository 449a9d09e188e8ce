"""Fixtures for the truth test: the published DataJoint elements declared in the real test database.

Run with the elements environment (scripts/venvs/elements.sh creates it):

    .venv/elements/bin/python -m pytest integration/python_sources

scripts/db/up.sh starts or reuses the database; every run uses schemas named djflow_truth_<pid>_*,
dropped at the end.
"""

import os
import subprocess
from pathlib import Path

import sys

import pytest

os.environ.setdefault("DJ_IGNORE_CONFIG_FILE", "true")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402  (shared test database helpers)
RUNNER = REPO / "Templates" / "runner" / "djflow_populate.py"
LINKING = Path(__file__).resolve().parent / "linking"
PREFIX = "djflow_truth_%d_" % os.getpid()


@pytest.fixture(scope="session")
def db_env():
    env = testdb.start()
    yield env
    testdb.drop_schemas(env, PREFIX)


@pytest.fixture(scope="session")
def djflow():
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), "build djflow first: %s" % path
    return path
