"""Issue 13, item 3 on Kubernetes: every string of integration/hostile_strings.py, in every field that reaches a
manifest (runner.python in command and args, runner.env, database.host, targets.kubernetes.env, the
workflow's restriction in the ConfigMap), read back by PyYAML and expanded as Kubernetes expands command,
args and env values (`$(VAR)`, `$$`: harness.expand) is what the container gets, byte for byte, or djflow
refused it at its line. (test_harness.py runs the longer list of specs.HOSTILE through the Job harness.)"""
import subprocess
import sys

import harness
import manifests
from conftest import REPO

sys.path.insert(0, str(REPO / "integration"))
from hostile_strings import HOSTILE, yaml_scalar  # noqa: E402

SPEC = """pipeline: hostile
runner:
  module: lab.pipeline
  image: 'lab/img:1'
  python: {python}
  env: {{H: {runner_env}}}
database:
  host: {host}
  secret: {{name: lab-db}}
tables:
  S: {{tier: manual}}
  A: {{tier: computed, depends_on: [S]}}
targets:
  kubernetes:
    env: {{K: {kubernetes_env}}}
    restrictions: {{w0-a: {restriction}}}
"""
LINES = {"python": 5, "runner_env": 6, "host": 8, "kubernetes_env": 15, "restriction": 16}
DEFAULTS = {"python": "python3", "runner_env": "1", "host": "db:3306", "kubernetes_env": "1", "restriction": ""}


def container_view(docs):
    """(argv, env) of the populate container as the kubelet starts it: env values expanded in order, then
    command and args expanded with that env (ConfigMap keys resolved)."""
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    job = next(d for d in docs if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {"JOB_COMPLETION_INDEX": "0"}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = harness.expand(item["value"], env)
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            env[item["name"]] = configmap["data"][item["valueFrom"]["configMapKeyRef"]["key"]]
    argv = [harness.expand(word, env) for word in container["command"] + container["args"]]
    return argv, env


def test_every_hostile_string_reaches_the_container_or_is_refused_at_its_line(djflow_bin, tmp_path):
    refused, reached = {}, 0
    for field in LINES:
        for label, value in HOSTILE.items():
            values = {k: yaml_scalar(v) for k, v in DEFAULTS.items()}
            values[field] = yaml_scalar(value)
            folder = tmp_path / ("%s-%d" % (field, reached + sum(map(len, refused.values()))))
            folder.mkdir()
            (folder / "djflow.yaml").write_text(SPEC.format(**values), encoding="utf-8")
            result = subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "kubernetes", "--out", "gen"],
                                    cwd=folder, capture_output=True, text=True)
            if result.returncode != 0:
                assert result.returncode == 2 and ("djflow.yaml:%d:" % LINES[field]) in result.stderr, (field, label, result.stderr)
                assert not (folder / "gen").exists()
                refused.setdefault(field, set()).add(label)
                continue
            argv, env = container_view(manifests.load(folder / "gen/kubernetes/w0-a.yaml"))
            # command: PYTHON djflow_k8s.py run --, args: PYTHON djflow_populate.py ... (the helper execs the args)
            seen = {"python": argv[0], "runner_env": env["H"], "host": env["DJ_HOST"], "kubernetes_env": env["K"],
                    "restriction": argv[argv.index("--restriction") + 1]}[field]
            assert seen == value, (field, label, argv, env)
            if field == "python":
                assert argv[4] == value and argv[5] == "/djflow/djflow_populate.py", argv
            reached += 1
    assert refused == {"python": {"empty"}}, refused
    print("\n[%d values reached the container, %d refused at their line]" % (reached, sum(map(len, refused.values()))))
