"""Truth from the database for the other Elements whose schemas need nothing but DataJoint: element-lab,
element-animal (subject and surgery), element-session, element-event (event and trial) and
element-optogenetics, activated by linking/truth_more.py. Live reader and static reader (the installed
sources plus the linking module, with the links a user states) agree table by table, with no expected
differences. The Elements left out of live truth tests, and why, are listed in integration/element-sources.txt
(their modules import deeplabcut, opencv, cellpose or bossdb clients at import time)."""
import importlib.util
import json
import os
import subprocess
import sys

from conftest import LINKING, PREFIX, RUNNER
from test_truth import normalized_live, normalized_static

FILES = {
    "element_lab": ["lab.py"],
    "element_animal": ["subject.py", "surgery.py"],
    "element_session": ["session_with_datetime.py"],
    "element_event": ["event.py", "trial.py"],
    "element_optogenetics": ["optogenetics.py"],
}
LINKS = {name: "element_lab.lab." + name for name in ("Source", "Lab", "Protocol", "User", "Project", "Device")}
LINKS.update(Experimenter="element_lab.lab.User", Subject="element_animal.subject.Subject",
             Session="element_session.session_with_datetime.Session", Implantation="element_animal.surgery.Implantation")
SCHEMAS = ["lab", "subject", "session", "surgery", "trial", "event", "optogenetics"]


def test_live_and_static_graphs_of_more_elements_agree(db_env, djflow):
    env = dict(os.environ, **db_env)
    env.update(DJFLOW_TRUTH_PREFIX=PREFIX, PYTHONPATH=str(LINKING))
    argv = [sys.executable, str(RUNNER), "--introspect", "--module", "truth_more"]
    for schema in SCHEMAS:
        argv += ["--schema", PREFIX + "more_" + schema]
    live = subprocess.run(argv, env=env, cwd=str(LINKING), capture_output=True, text=True, timeout=600)
    assert live.returncode == 0, live.stderr[-4000:]

    files = []
    for package, names in FILES.items():
        folder = importlib.util.find_spec(package).submodule_search_locations[0]
        files += [os.path.join(folder, name) for name in names]
    argv = [djflow, "import", "--format", "json"] + files + [str(LINKING / "truth_more.py")]
    for name, target in LINKS.items():
        argv += ["--link", "%s=%s" % (name, target)]
    static = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert static.returncode == 0, static.stderr

    live_graph, static_graph = normalized_live(live.stdout), normalized_static(json.loads(static.stdout))
    assert set(live_graph) == set(static_graph), (
        "only live: %s\nonly static: %s" % (sorted(set(live_graph) - set(static_graph)),
                                          sorted(set(static_graph) - set(live_graph))))
    differing = sorted(n for n in live_graph if live_graph[n] != static_graph[n])
    assert not differing, "\n".join("%s\n  live:   %s\n  static: %s" % (n, live_graph[n], static_graph[n])
                                    for n in differing)
    for package in FILES:
        assert any(name.startswith(package + ".") for name in live_graph), package
