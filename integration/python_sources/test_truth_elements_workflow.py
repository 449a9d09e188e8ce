"""Truth from the database for the Elements workflow (integration/elements_workflow): element-lab, -animal,
-session and -array-ephys activated by the lab's workflow module, plus the lab's own table. The live
reader (DataJoint's dependency graph after importing the runner modules) and the static reader
(`djflow import` over the same sources and links as integration/elements_workflow/djflow.yaml) must agree
table by table: tiers, parents, parts. No expected differences."""
import json
import os
import subprocess
import sys
import time

import yaml

from conftest import REPO, RUNNER
from test_truth import normalized_live, normalized_static

sys.path.insert(0, str(REPO / "integration" / "elements_workflow"))
import elements_workflow as ew  # noqa: E402

SCHEMAS = ["lab", "subject", "session", "probe", "ephys", "analysis"]


def test_live_and_static_graphs_of_the_elements_workflow_agree(db_env, djflow, tmp_path):
    spec_path, env = ew.prepare(tmp_path, db_env)
    prefix = env["MYLAB_DB_PREFIX"]
    try:
        argv = [sys.executable, str(RUNNER), "--introspect", "--module", "mylab.pipeline", "--module", "mylab.analysis"]
        for schema in SCHEMAS:
            argv += ["--schema", prefix + schema]
        t = time.time()
        live = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
        assert live.returncode == 0, live.stderr[-4000:]
        t_live = time.time() - t

        spec = yaml.safe_load(spec_path.read_text())
        argv = [djflow, "import", "--format", "json"] + spec["sources"]
        for name, target in spec["links"].items():
            argv += ["--link", "%s=%s" % (name, target)]
        t = time.time()
        static = subprocess.run(argv, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
        assert static.returncode == 0, static.stderr
        sys.stderr.write("\n[declare + live read: %.2f s; static read: %.3f s]\n" % (t_live, time.time() - t))

        live_graph = normalized_live(live.stdout)
        static_graph = normalized_static(json.loads(static.stdout))
        assert set(live_graph) == set(static_graph), (
            "only live: %s\nonly static: %s" % (sorted(set(live_graph) - set(static_graph)),
                                              sorted(set(static_graph) - set(live_graph))))
        differing = sorted(n for n in live_graph if live_graph[n] != static_graph[n])
        assert not differing, "\n".join("%s\n  live:   %s\n  static: %s" % (n, live_graph[n], static_graph[n])
                                        for n in differing)
        assert "mylab.analysis.SessionAge" in live_graph
        assert live_graph["mylab.analysis.SessionAge"]["parents"] == ["element_session.session_with_datetime.Session"]
        assert sum(n.startswith("element_array_ephys.") for n in live_graph) >= 20
        assert any(n.startswith("element_lab.") for n in live_graph)
        assert any(n.startswith("element_animal.") for n in live_graph)
    finally:
        ew.drop(env)
