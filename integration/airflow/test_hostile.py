"""Issue 13, item 3 on Airflow: every hostile string, in every field that reaches a DAG file, goes through
Airflow itself (DagBag parsing, Jinja rendering of bash_command and env, BashOperator's bash) in dag.test()
with a recording interpreter; it must reach the runner's argv or environment byte for byte, or be refused
by djflow with an error at its line."""
import json
import os
import sys

import pytest

from conftest import AIRFLOW3, REPO, compile_airflow, dagbag, djflow, run_dag

sys.path.insert(0, str(REPO / "integration"))
from hostile_strings import HOSTILE, yaml_scalar  # noqa: E402

RECORDER = """#!/usr/bin/python3
import json, os, sys
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps({"name": os.path.basename(sys.argv[0]), "argv": sys.argv[1:],
                        "env": {k: v for k, v in os.environ.items() if k in ("H", "K", "DJ_HOST", "DJFLOW_RESTRICTION")}}) + "\\n")
"""

SPEC = """pipeline: h{index}
runner:
  module: lab.pipeline
  python: {python}
  env: {{H: {runner_env}}}
database:
  host: {host}
  secret: {{user_env: LAB_USER, password_env: LAB_PASS}}
tables:
  S: {{tier: manual}}
  A: {{tier: computed, depends_on: [S]}}
targets:
  airflow:
    env: {{K: {airflow_env}}}
    retry_delay: 0
"""


@pytest.fixture()
def recording(tmp_path, monkeypatch):
    """PATH holds a recording command named python3 and one named by each hostile string."""
    folder = tmp_path / "bin"
    folder.mkdir()
    recorder = folder / ".recorder"
    recorder.write_text(RECORDER)
    recorder.chmod(0o755)
    for name in ["python3", *(v for v in HOSTILE.values() if v and "/" not in v)]:
        (folder / name).symlink_to(recorder)
    monkeypatch.setenv("PATH", "%s:%s" % (folder, os.environ["PATH"]))
    monkeypatch.setenv("RECORD", str(tmp_path / "record.jsonl"))
    monkeypatch.setenv("LAB_USER", "alice")
    monkeypatch.setenv("LAB_PASS", "secret")
    return tmp_path / "record.jsonl"


def write_spec(tmp_path, index, **values):
    fields = {"python": "python3", "runner_env": "1", "host": "db:3306", "airflow_env": "1"}
    fields.update(values)
    spec = tmp_path / ("h%d.yaml" % index)
    spec.write_text(SPEC.format(index=index, **{k: yaml_scalar(v) for k, v in fields.items()}), encoding="utf-8")
    return spec


def test_every_hostile_string_reaches_the_runner_or_is_refused_at_its_line(tmp_path, airflow_db, recording):
    reached = 0
    for index, (label, value) in enumerate(HOSTILE.items()):
        if value == "":  # an interpreter must be named: refused at its line (line 4)
            result = djflow("compile", write_spec(tmp_path, index, python=""), "--target", "airflow", "--out", tmp_path / "no", check=2)
            assert "h%d.yaml:4:" % index in result.stderr and "'runner.python' must name the interpreter" in result.stderr
            assert not (tmp_path / "no").exists()
        spec = write_spec(tmp_path, index, python=value or "python3", runner_env=value, host=value, airflow_env=value)
        folder = compile_airflow(spec, "hostile%d" % index)
        recording.unlink(missing_ok=True)
        state, tis = run_dag(folder, "h%d-w0-a" % index, conf={"restriction": value})
        assert state == "success", (label, tis)
        [call] = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines()]
        assert call["name"] == (value or "python3"), (label, call)
        assert call["argv"][0] == str(folder / "djflow_populate.py")
        assert call["env"]["H"] == value and call["env"]["K"] == value and call["env"]["DJ_HOST"] == value, (label, call)
        argv = call["argv"]
        if value:
            assert argv[argv.index("--restriction") + 1] == value, (label, argv)
        else:
            assert "--restriction" not in argv
        reached += 1
    print("\n[%d DAG runs, every field reached the runner]" % reached)


def test_names_in_the_dag_file_are_python_literals_airflow_reads_back(tmp_path):
    """owner and tags are written as Python literals: DagBag gives them back exactly, or djflow refused them."""
    refused = set()
    for index, (label, value) in enumerate(HOSTILE.items()):
        spec = tmp_path / ("o%d.yaml" % index)
        spec.write_text("pipeline: o%d\nrunner: {module: m}\ntables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\n"
                        "targets:\n  airflow:\n    owner: %s\n    tags: [%s]\n" % (index, yaml_scalar(value), yaml_scalar(value)),
                        encoding="utf-8")
        result = djflow("compile", spec, "--target", "airflow", "--out", tmp_path / ("o%d" % index), check=None)
        if result.returncode != 0:
            assert result.returncode == 2 and ("o%d.yaml:6:" % index in result.stderr or "o%d.yaml:7:" % index in result.stderr), result.stderr
            refused.add(label)
            continue
        bag = dagbag(tmp_path / ("o%d" % index) / "airflow")
        assert not bag.import_errors, bag.import_errors
        dag = bag.dags["o%d-w0-a" % index]
        assert dag.default_args["owner"] == value and value in dag.tags, label
    # An owner is a name: empty or with control characters it is refused; a tag must not be empty.
    assert refused == {"empty", "carriage return", "CRLF", "LF", "trailing LF", "tab"}, refused


def test_env_values_ending_in_sh_or_bash_are_values_not_template_files(tmp_path, airflow_db, recording):
    """The defect: BashOperator's template_ext made Airflow load 'setup.sh' in env as a template file."""
    spec = write_spec(tmp_path, 900, runner_env="setup.sh", airflow_env="run.bash")
    folder = compile_airflow(spec, "suffix")
    state, _ = run_dag(folder, "h900-w0-a")
    assert state == "success"
    [call] = [json.loads(line) for line in recording.read_text().splitlines()]
    assert call["env"]["H"] == "setup.sh" and call["env"]["K"] == "run.bash"
    # The same DAG with the plain literal, as before: the task fails on TemplateNotFound.
    dag_file = folder / "w0-a.py"
    text = dag_file.read_text()
    assert "'H': '{% raw %}setup.sh{% endraw %}'," in text
    (folder.parent / "old").mkdir()
    old = folder.parent / "old" / "w0-a.py"
    old.write_text(text.replace("'H': '{% raw %}setup.sh{% endraw %}',", "'H': 'setup.sh',").replace("dag_id='h900-w0-a'", "dag_id='h900-old'"))
    state, tis = run_dag(folder.parent / "old", "h900-old")
    assert state == "failed" and tis[("a", -1)][0] == "failed"


@pytest.mark.parametrize("python", ["-x", "~root"])
def test_an_interpreter_named_like_an_option_or_a_home_folder_runs_as_named(tmp_path, airflow_db, recording, python):
    spec = write_spec(tmp_path, 901 if python == "-x" else 902, python=python)
    folder = compile_airflow(spec, "interp%d" % (901 if python == "-x" else 902))
    dag_id = "h%d-w0-a" % (901 if python == "-x" else 902)
    state, _ = run_dag(folder, dag_id)
    assert state == "success"
    [call] = [json.loads(line) for line in recording.read_text().splitlines()]
    assert call["name"] == python
    if python == "-x":  # as before, without '--': bash's exec takes -x for an option
        text = (folder / "w0-a.py").read_text()
        assert "exec -- -x " in text
        (folder.parent / "old").mkdir()
        (folder.parent / "old" / "w0-a.py").write_text(text.replace("exec -- -x ", "exec -x ").replace("dag_id='%s'" % dag_id, "dag_id='old-x'"))
        state, _ = run_dag(folder.parent / "old", "old-x")
        assert state == "failed"
