"""The live reader: djflow_populate.py --introspect prints the real graph of live schemas as djflow
YAML (tables, tiers, parts, foreign-key parents from DataJoint's dependency graph), on 2.3.5 and 0.14.10."""

import subprocess
import sys

import yaml

from conftest import EPHYS_DIR, TUTORIAL_DIR


def introspect(p, *args):
    argv = [sys.executable, str(p.runner), "--introspect"] + list(args)
    return subprocess.run(argv, env=p.env, capture_output=True, text=True, timeout=300, cwd=str(p.tmp_path))


def sample_graph(sample_dir):
    """{name: (tier, parents, parts)} of a sample's djflow.yaml (depends_on and '->' lines)."""
    tables = yaml.safe_load((sample_dir / "djflow.yaml").read_text())["tables"]
    graph = {}
    for name, entry in tables.items():
        parents = set(entry.get("depends_on", []))
        for line in (entry.get("definition") or "").splitlines():
            line = line.split("#")[0]
            if "->" in line:
                ref = line.split("->", 1)[1].strip().split()[0]
                if ref != "master":
                    parents.add(ref)
        graph[name] = (entry.get("tier", "part"), sorted(parents), sorted(entry.get("parts", [])))
    return graph


def live_graph(text, prefix):
    tables = yaml.safe_load(text)["tables"]
    strip = lambda name: name[len(prefix):] if name.startswith(prefix) else name  # noqa: E731
    return {
        strip(name): ((e or {}).get("tier", "part"), sorted(strip(x) for x in (e or {}).get("depends_on", [])),
                      sorted((e or {}).get("parts", [])))
        for name, e in tables.items()
    }


def test_live_graph_of_the_ephys_sample_equals_its_spec(ephys):
    proc = introspect(ephys, "--schema", ephys.schema, "--module", "ephys_pipeline")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("# Live graph of %s" % ephys.schema)
    assert "connected" not in proc.stdout  # DataJoint's messages go to stderr
    assert live_graph(proc.stdout, "ephys_pipeline.") == sample_graph(EPHYS_DIR)
    doc = yaml.safe_load(proc.stdout)
    assert doc["runner"]["module"] == ["ephys_pipeline"]


def test_without_the_module_tables_are_named_by_schema(tutorial):
    declared = tutorial.run("--table", "Neuron", "--describe")  # imports the module: declares the schema
    assert declared.rc == 0, declared.stderr[-2000:]
    proc = introspect(tutorial, "--schema", tutorial.schema)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert live_graph(proc.stdout, tutorial.schema + ".") == sample_graph(TUTORIAL_DIR)


def test_unknown_schema_is_a_usage_error(ephys):
    proc = introspect(ephys, "--schema", ephys.schema + "_missing")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no such schema" in proc.stderr


def test_missing_schema_argument_is_a_usage_error(ephys):
    proc = introspect(ephys)
    assert proc.returncode == 2
    assert proc.stdout == ""
