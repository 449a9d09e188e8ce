"""Truth from the database: element-array-ephys and element-calcium-imaging (from PyPI), activated for
real in the test database by the linking modules in linking/, must give the same graph through the live
reader (djflow_populate.py --introspect, DataJoint's own dependency graph) as through the static reader
(djflow import --format json over the installed packages' source files): tables, tiers, parents, parts.

The static side reads exactly the modules that linking/truth_pipeline.py activates: the other variants
shipped in the packages (ephys_chronic, ephys_no_curation, ephys_precluster, imaging_no_curation,
imaging_preprocess, analysis) declare nothing in the database, so they are not sources here.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from conftest import LINKING, PREFIX, RUNNER

SCHEMAS = ["lab", "probe", "ephys", "ephys_report", "scan", "imaging", "imaging_report", "extra"]
ACTIVATED = {
    "element_array_ephys": ["__init__.py", "probe.py", "ephys_acute.py", "ephys_report.py"],
    "element_calcium_imaging": ["__init__.py", "scan.py", "imaging.py", "imaging_report.py"],
}
# What the linking module supplies at run time (activate(linking_module=...)) and the virtual modules the
# report schemas create in activate(), stated the way a user states them in djflow.yaml's links:.
LINKS = {
    "Session": "truth_pipeline.Session",
    "SkullReference": "truth_pipeline.SkullReference",
    "Equipment": "truth_pipeline.Equipment",
    "Location": "truth_pipeline.Location",
    "ephys": "element_array_ephys.ephys_acute",
    "imaging": "element_calcium_imaging.imaging",
}
# Where the readers must differ, and why. Keys are module.Class; values: the parents only the live
# database knows.
EXPECTED_DIFFERENCES = {
    "truth_runtime.UnitScore": {
        "live_parents": ["element_array_ephys.ephys_acute.CuratedClustering"],
        "reason": "definition is an f-string interpolating a module constant: built at run time",
    },
    "truth_runtime.SessionNote": {
        "live_parents": ["truth_lab.Session"],
        "reason": "definition is a property: evaluated by DataJoint at declaration time",
    },
}


def static_sources():
    files = []
    for package, names in ACTIVATED.items():
        spec = importlib.util.find_spec(package)
        assert spec is not None, "%s is not installed: run scripts/venvs/elements.sh" % package
        folder = spec.submodule_search_locations[0]
        files += [os.path.join(folder, name) for name in names]
    return files + [str(LINKING / name) for name in ("truth_lab.py", "truth_pipeline.py", "truth_runtime.py")]


@pytest.fixture(scope="module")
def live(db_env):
    env = dict(os.environ, **db_env)
    env.update(DJFLOW_TRUTH_PREFIX=PREFIX, PYTHONPATH=str(LINKING))
    argv = [sys.executable, str(RUNNER), "--introspect", "--module", "truth_pipeline"]
    for schema in SCHEMAS:
        argv += ["--schema", PREFIX + schema]
    t = time.time()
    proc = subprocess.run(argv, env=env, cwd=str(LINKING), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    sys.stderr.write("\n[declare + live read: %.2f s]\n" % (time.time() - t))
    return proc.stdout


@pytest.fixture(scope="module")
def static(djflow):
    argv = [djflow, "import", "--format", "json"] + static_sources()
    for name, target in LINKS.items():
        argv += ["--link", "%s=%s" % (name, target)]
    t = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    sys.stderr.write("\n[static read: %.3f s]\n" % (time.time() - t))
    return json.loads(proc.stdout), proc.stderr


def normalized_static(graph):
    full = {t["name"]: t["module"] + "." + t["class"] for t in graph["tables"]}
    return {
        full[t["name"]]: {
            "tier": t["tier"],
            "parents": sorted(full[p] for p in t["parents"]),
            "parts": sorted(full[p].rsplit(".", 1)[1] for p in t["parts"]),
        }
        for t in graph["tables"]
    }


def normalized_live(text):
    tables = yaml.safe_load(text)["tables"]
    return {
        name: {
            "tier": (entry or {}).get("tier", "part"),
            "parents": sorted((entry or {}).get("depends_on", [])),
            "parts": sorted((entry or {}).get("parts", [])),
        }
        for name, entry in tables.items()
    }


def test_live_and_static_graphs_agree(live, static):
    live_graph = normalized_live(live)
    static_graph = normalized_static(static[0])
    assert set(live_graph) == set(static_graph), (
        "only live: %s\nonly static: %s" % (sorted(set(live_graph) - set(static_graph)),
                                          sorted(set(static_graph) - set(live_graph))))
    differing = {name for name in live_graph if live_graph[name] != static_graph[name]}
    assert differing == set(EXPECTED_DIFFERENCES), "\n".join(
        "%s\n  live:   %s\n  static: %s" % (n, live_graph[n], static_graph[n])
        for n in sorted(differing ^ set(EXPECTED_DIFFERENCES)))
    for name, expected in EXPECTED_DIFFERENCES.items():
        assert live_graph[name]["parents"] == expected["live_parents"], name
        assert static_graph[name]["parents"] == [], name
        assert live_graph[name]["tier"] == static_graph[name]["tier"]
    # the comparison covers both elements for real
    assert sum(n.startswith("element_array_ephys.") for n in live_graph) >= 25
    assert sum(n.startswith("element_calcium_imaging.") for n in live_graph) >= 30


def test_static_reader_warns_exactly_for_the_runtime_definitions(static):
    graph, stderr = static
    assert {t["module"] + "." + t["class"] for t in graph["tables"] if not t["static"]} == set(EXPECTED_DIFFERENCES)
    warnings = [line for line in stderr.splitlines() if ": warning: " in line]
    assert len(warnings) == 2, stderr
    assert any("truth_runtime.py" in w and "an f-string that interpolates values" in w for w in warnings), stderr
    assert any("truth_runtime.py" in w and "a property computes it at run time" in w for w in warnings), stderr
    assert graph["runtime_names"] == []


def test_without_links_the_runtime_names_are_warnings_with_locations(djflow):
    proc = subprocess.run([djflow, "import", "--format", "json"] + static_sources(), capture_output=True, text=True)
    # Session etc. are unknown without links: reported where they are used, and listed for links:
    assert proc.returncode == 0, proc.stderr
    names = {(n["name"], n["module"]) for n in json.loads(proc.stdout)["runtime_names"]}
    assert ("Session", "element_array_ephys.ephys_acute") in names
    assert ("ephys", "element_array_ephys.ephys_report") in names
    assert ("imaging", "element_calcium_imaging.imaging_report") in names
    assert "ephys_acute.py:147:8: warning: 'Session' is not defined in module 'element_array_ephys.ephys_acute': " \
           "it is supplied at run time ('linking_module' at line 29)" in proc.stderr


def test_live_yaml_is_a_valid_pipeline(live, djflow, tmp_path):
    path = tmp_path / "live.yaml"
    path.write_text(live)
    proc = subprocess.run([djflow, "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "ok:" in proc.stdout
