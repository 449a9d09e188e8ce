"""The Elements workflow test pipeline, shared by every target's test (SLURM, Airflow, HTCondor,
Kubernetes): prepare a folder holding djflow.yaml, the lab's package and `elements/` (a link to the
installed Elements), stage the lab's data, and read back from the database what the jobs did.

Everything runs with .venv/elements (DataJoint 0.14.10, which the Elements are written for; made by
scripts/venvs/elements.sh). The jobs' environment: DJ_* of the test database, PYTHONPATH=<folder>
(the lab's package) and MYLAB_DB_PREFIX (set in djflow.yaml's runner.env, so it reaches the jobs
through each target's own environment handling).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import uuid

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
PYTHON = REPO / ".venv" / "elements" / "bin" / "python"

sys.path.insert(0, str(REPO / "integration"))
import testdb  # noqa: E402

# Every job of the plan, by workflow (djflow plan integration/elements_workflow/djflow.yaml): the element
# tables that read raw files have nothing to do without raw data and exit 0; SessionAge fills its keys.
ELEMENT_TABLES = ["EphysRecording", "LFP", "Clustering", "CuratedClustering", "WaveformSet", "QualityMetrics"]
SESSIONS = 8


def site_packages():
    out = subprocess.run([str(PYTHON), "-c", "import element_lab, os; print(os.path.dirname(os.path.dirname(element_lab.__file__)))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def prepare(folder, db_env, targets_yaml=None, python=None):
    """Lays out the workflow in `folder` with a fresh schema prefix; returns (spec path, job env).
    `targets_yaml` replaces the spec's targets section; `python` sets runner.python (default python3)."""
    folder = pathlib.Path(folder)
    assert PYTHON.exists(), "scripts/venvs/elements.sh creates .venv/elements"
    prefix = "djflow_el%s_" % uuid.uuid4().hex[:6]
    shutil.copytree(HERE / "mylab", folder / "mylab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "stage.py", folder / "stage.py")
    (folder / "elements").symlink_to(site_packages())
    spec = (HERE / "djflow.yaml").read_text()
    assert "MYLAB_DB_PREFIX: mylab_" in spec
    spec = spec.replace("MYLAB_DB_PREFIX: mylab_", "MYLAB_DB_PREFIX: %s" % prefix)
    spec = spec.replace("  backend: mysql\n", "  backend: mysql\n  host: '%s'\n" % db_env["DJ_HOST"])
    if python is not None:
        assert "  module: mylab.pipeline\n" in spec and "  python:" not in spec
        spec = spec.replace("  module: mylab.pipeline\n", "  module: mylab.pipeline\n  python: %s\n" % json.dumps(str(python)))
    if targets_yaml is not None:
        spec = spec[:spec.index("targets:")] + targets_yaml
    (folder / "djflow.yaml").write_text(spec)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "DJFLOW_", "SLURM_", "PYTHON"))}
    env.update({k: v for k, v in db_env.items() if k.startswith("DJ_")})
    env.update(PYTHONPATH=str(folder), MYLAB_DB_PREFIX=prefix, DJ_IGNORE_CONFIG_FILE="true",
               MYLAB_MAKE_LOG=str(folder / "make.jsonl"), PYTHONDONTWRITEBYTECODE="1")
    return folder / "djflow.yaml", env


def stage(folder, env):
    subprocess.run([str(PYTHON), "stage.py"], cwd=folder, env=env, check=True, capture_output=True, timeout=300)


STATE = """
import json, os
import datajoint as dj
if os.environ.get("DJ_USE_TLS"):
    dj.config["database.use_tls"] = os.environ["DJ_USE_TLS"].lower() == "true"
from mylab import pipeline as p, analysis as a
out = {"SessionAge": {"rows": len(a.SessionAge()), "remaining": a.SessionAge.progress(display=False)[0]}}
for name in %r:
    t = getattr(p.ephys, name)
    out[name] = {"rows": len(t()), "remaining": t.progress(display=False)[0]}
jobs = [s.jobs for s in (p.ephys.schema, a.schema)]
out["errors"] = [r for j in jobs for r in j.fetch("table_name", "error_message", as_dict=True) if r]
print(json.dumps(out, default=str))
"""


def state(folder, env):
    """Rows and keys to do per table, and every jobs-table row left, read through DataJoint."""
    out = subprocess.run([str(PYTHON), "-c", STATE % (ELEMENT_TABLES,)], cwd=folder, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def made(folder):
    path = pathlib.Path(folder) / "make.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_complete(folder, env):
    """Every key of the lab's table made exactly once; the element tables ran and had nothing to do."""
    result = state(folder, env)
    assert result["SessionAge"] == {"rows": SESSIONS, "remaining": 0}, result
    for name in ELEMENT_TABLES:
        assert result[name] == {"rows": 0, "remaining": 0}, (name, result)
    assert result["errors"] == [], result["errors"]
    keys = [json.dumps(entry["key"], sort_keys=True) for entry in made(folder)]
    assert len(keys) == SESSIONS and len(set(keys)) == SESSIONS, keys
    return result


def drop(env):
    """Drops the run's schemas; through .venv/elements when this venv has no pymysql (htcondor, kubernetes)."""
    try:
        import pymysql  # noqa: F401
    except ImportError:
        code = "import os, sys; sys.path.insert(0, %r); import testdb; testdb.drop_schemas(os.environ, os.environ['MYLAB_DB_PREFIX'])"
        subprocess.run([str(PYTHON), "-c", code % str(REPO / "integration")], env=env, check=True, capture_output=True, timeout=120)
        return
    testdb.drop_schemas(env, env["MYLAB_DB_PREFIX"])
