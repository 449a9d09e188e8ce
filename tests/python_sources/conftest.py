"""Fixtures for the truth test: the published DataJoint elements declared in the real test database.

Run with the elements environment (scripts/venvs/elements.sh creates it):

    .venv/elements/bin/python -m pytest tests/python_sources

scripts/db/up.sh starts or reuses the database; every run uses schemas named djflow_truth_<pid>_*,
dropped at the end.
"""

import os
import shlex
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("DJ_IGNORE_CONFIG_FILE", "true")
REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "Templates" / "runner" / "djflow_populate.py"
LINKING = Path(__file__).resolve().parent / "linking"
PREFIX = "djflow_truth_%d_" % os.getpid()


def _read_env_sh(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        if line.strip().startswith("export "):
            for token in shlex.split(line.strip()[len("export "):]):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def _drop(env, prefix):
    import pymysql

    host, _, port = env["DJ_HOST"].partition(":")
    conn = pymysql.connect(host=host, port=int(port or 3306), user=env["DJ_USER"], password=env["DJ_PASS"],
                           autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            names = [r[0] for r in cur.fetchall() if r[0].startswith(prefix)]
            cur.execute("SET FOREIGN_KEY_CHECKS=0")
            for name in names:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def db_env():
    out = subprocess.run(["bash", str(REPO / "scripts" / "db" / "up.sh")], check=True, capture_output=True,
                         text=True, timeout=600)
    env = _read_env_sh(out.stdout.strip().splitlines()[-1])
    env.update(DJ_USE_TLS="false", DJ_IGNORE_CONFIG_FILE="true")
    yield env
    _drop(env, PREFIX)


@pytest.fixture(scope="session")
def djflow():
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), "build djflow first: %s" % path
    return path
