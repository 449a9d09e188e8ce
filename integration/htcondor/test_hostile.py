"""Issue 13, item 3 on HTCondor: every hostile string, in every field that reaches a submit file or a DAG,
goes through HTCondor's own submit parser (htcondor 24.12.24) and then the schedd's match-time $$()
expansion (condor.match_time, ported from qmgmt.cpp: no schedd runs here); it must reach the job's argv or
environment byte for byte, or be refused by djflow with an error at its line."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from condor import MatchError, ad_arguments, ad_environment, match_time, parse_submits
from conftest import REPO, djflow

sys.path.insert(0, str(REPO / "integration"))
from hostile_strings import HOSTILE, yaml_scalar  # noqa: E402

CREDENTIALS = {"LAB_USER": "alice", "LAB_PASS": "secret"}

# Each field on its own line of the spec (the line number is where a refusal must point).
SPEC = """pipeline: hostile
runner:
  module: lab.pipeline
  python: {python}
  env: {{H: {runner_env}}}
  image: {image}
database:
  host: {host}
  secret: {{user_env: LAB_USER, password_env: LAB_PASS}}
tables:
  S: {{tier: manual}}
  A: {{tier: computed, depends_on: [S]}}
targets:
  htcondor:
    env: {{K: {htcondor_env}}}
    password_file: {password_file}
"""
LINES = {"python": 4, "runner_env": 5, "image": 6, "host": 8, "htcondor_env": 15, "password_file": 16}
DEFAULTS = {"python": "python3", "runner_env": "1", "image": "ghcr.io/lab/img:1", "host": "db:3306",
            "htcondor_env": "1", "password_file": "/secrets/dj"}

# Where each field arrives in the job (after match-time expansion).
ARRIVAL = {
    "python": lambda proc: ad_arguments(proc)[2],
    "runner_env": lambda proc: ad_environment(proc)["H"],
    "host": lambda proc: ad_environment(proc)["DJ_HOST"],
    "htcondor_env": lambda proc: ad_environment(proc)["K"],
    "password_file": lambda proc: ad_environment(proc)["DJFLOW_PASSWORD_FILE"],
    "image": lambda proc: match_time(proc["ContainerImage"]),
}

LINE_BREAKS = {"carriage return", "CRLF", "LF", "trailing LF"}
# What HTCondor cannot carry in a quoted value (HTCondorQuoting.problem); anything else refused is a defect.
MAY_REFUSE = {
    "python": LINE_BREAKS | {"DOLLAR macro text", "empty"},
    "runner_env": LINE_BREAKS | {"DOLLAR macro text"},
    "host": LINE_BREAKS | {"DOLLAR macro text"},
    "htcondor_env": LINE_BREAKS | {"DOLLAR macro text"},
    "password_file": LINE_BREAKS | {"DOLLAR macro text", "empty"},
    "image": set(HOSTILE),  # an image reference is written bare: only plain references are taken
}


def compile_field(tmp_path, field, value):
    values = {k: yaml_scalar(v) for k, v in DEFAULTS.items()}
    values[field] = yaml_scalar(value)
    folder = tmp_path / ("%s-%d" % (field, len(list(tmp_path.iterdir()))))
    folder.mkdir()
    (folder / "djflow.yaml").write_text(SPEC.format(**values), encoding="utf-8")
    result = djflow("compile", folder / "djflow.yaml", "--target", "htcondor", "--out", folder / "gen", check=None)
    return folder, result


def test_every_hostile_string_reaches_the_job_or_is_refused_at_its_line(tmp_path):
    requests, expected, refused = [], {}, {}
    for field in LINES:
        for label, value in HOSTILE.items():
            folder, result = compile_field(tmp_path, field, value)
            if result.returncode != 0:
                assert result.returncode == 2, result.stderr
                assert ("djflow.yaml:%d:" % LINES[field]) in result.stderr and " error: " in result.stderr, (field, label, result.stderr)
                assert not (folder / "gen").exists(), "nothing written"
                refused.setdefault(field, set()).add(label)
                continue
            name = "%s/%s" % (field, label)
            requests.append({"name": name, "text": (folder / "gen/htcondor/w0-a/a.sub").read_text(encoding="utf-8")})
            expected[name] = (field, value)
    results, _ = parse_submits(requests, tmp_path, CREDENTIALS)
    for result in results:
        field, value = expected[result["name"]]
        assert result["ok"], result
        [proc] = result["procs"]
        if field == "image":  # docker:// is added unless the reference has a scheme or names a .sif file
            value = value if "://" in value or value.endswith(".sif") else "docker://" + value
        assert ARRIVAL[field](proc) == value, result["name"]
        assert ad_environment(proc)["LAB_USER"] == "alice" and ad_arguments(proc)[3:5] == ["--module", "lab.pipeline"]
    for field, labels in refused.items():
        assert labels <= MAY_REFUSE[field], (field, labels - MAY_REFUSE[field])
    assert refused["runner_env"] == LINE_BREAKS | {"DOLLAR macro text"}
    print("\n[%d values reached the job, %d refused at their line]" % (len(results), sum(map(len, refused.values()))))


def test_dollar_dollar_reaches_the_job_and_the_old_spelling_did_not(tmp_path):
    """The issue's case: $$(OpSys) written $(DOLLAR)$(DOLLAR)(OpSys) came out as $$(DOLLAR)(OpSys), a
    match-time reference to a machine attribute DOLLAR."""
    old = 'executable = /bin/true\narguments = "\'$(DOLLAR)$(DOLLAR)(OpSys)\'"\nqueue\n'
    results, _ = parse_submits([{"name": "old", "text": old}], tmp_path)
    assert results[0]["procs"][0]["Arguments"] == "$$(DOLLAR)(OpSys)"
    with pytest.raises(MatchError):
        ad_arguments(results[0]["procs"][0])
    for value in ["$$(OpSys)", "$$", "$$$(x)", "a$$$$b$", "$$([1 + 1])", "$$(DOLLAR)", "$(x)$$(y)"]:
        folder, result = compile_field(tmp_path, "runner_env", value)
        assert result.returncode == 0, result.stderr
        results, _ = parse_submits([{"name": "a", "text": (folder / "gen/htcondor/w0-a/a.sub").read_text()}], folder, CREDENTIALS)
        proc = results[0]["procs"][0]
        assert ad_environment(proc, machine={"OpSys": "LINUX", "x": "X", "y": "Y"})["H"] == value


def test_restrictions_with_dollars_reach_the_arguments_through_djflow_restrict(tmp_path):
    folder, result = compile_field(tmp_path, "runner_env", "1")
    assert result.returncode == 0, result.stderr
    gen = folder / "gen/htcondor"
    values = [json.dumps({"subject": v}, ensure_ascii=False) for k, v in HOSTILE.items() if k != "DOLLAR macro text"]
    values += [json.dumps(v) for v in HOSTILE.values() if v != "$(DOLLAR)"]
    for restriction in values:
        out = subprocess.run([sys.executable, str(gen / "djflow_restrict.py"), str(gen / "w0-a.dag"), restriction],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        # DAGMan's VARS value: between the quotes, with \" and \\ unescaped (condor.Dag reads it so).
        from condor import Dag
        node = Dag(gen / "w0-a.restricted.dag", root=gen).nodes["a"]
        results, _ = parse_submits([{"name": "a", "text": (gen / node.submit).read_text(), "prepend": {"RETRY": "0"},
                                     "append": node.append}], gen, CREDENTIALS)
        assert results[0]["ok"], results
        assert ad_arguments(results[0]["procs"][0])[1] == restriction
    refused = subprocess.run([sys.executable, str(gen / "djflow_restrict.py"), str(gen / "w0-a.dag"), '"$(DOLLAR)"'],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "$(DOLLAR)" in refused.stderr


def test_a_trailing_backslash_would_continue_the_line_so_it_is_refused(tmp_path):
    # What HTCondor does with it: the next command becomes part of the image name.
    text = "universe = container\ncontainer_image = docker://img\\\nexecutable = /bin/true\nqueue\n"
    results, _ = parse_submits([{"name": "t", "text": text}], tmp_path)
    [proc] = results[0]["procs"]
    assert proc["ContainerImage"] == "docker://imgexecutable = /bin/true" and proc["Cmd"] == "", proc
    (tmp_path / "djflow.yaml").write_text("""pipeline: p
runner: {module: m, image: "img\\\\"}
tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
targets:
  htcondor:
    extra: ['requirements = (OpSys == "LINUX") \\\\']
""")
    result = djflow("compile", tmp_path / "djflow.yaml", "--target", "htcondor", "--out", tmp_path / "gen", check=2)
    assert "djflow.yaml:2:28: error: runner.image must be an image reference without spaces, quotes, '$' or '\\'" in result.stderr
    assert "djflow.yaml:6:13: error: the value of 'requirements' ends in a backslash" in result.stderr
    assert not (tmp_path / "gen").exists()


FAKE = """#!/usr/bin/env python3
import json, sys
json.dump(sys.argv[1:], open(%r, "w"))
"""


@pytest.mark.parametrize("shell", ["sh", "bash --posix"])
def test_an_interpreter_named_like_an_option_runs_through_the_node_script(tmp_path, shell):
    """bash (also as /bin/sh, as on RHEL) takes `exec -x` for an option of exec; dash runs it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.json"
    for name in ["-djflow-python", "~djflow-python"]:
        (bin_dir / name).write_text(FAKE % str(record))
        (bin_dir / name).chmod(0o755)
    relative = tmp_path / "-venv" / "bin"
    relative.mkdir(parents=True)
    shutil.copy2(bin_dir / "-djflow-python", relative / "python")
    node = REPO / "Templates/htcondor/djflow_node.sh"
    env = {"PATH": "%s:/usr/bin:/bin" % bin_dir, "DJ_USER": "u", "DJ_PASS": "p"}
    for python in ["-djflow-python", "~djflow-python", "-venv/bin/python"]:
        if record.exists():
            record.unlink()
        out = subprocess.run([*shell.split(), str(node), "0", "", python, "--module", "m", "--table", "A"],
                             env=env, cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, (python, out.stderr)
        argv = json.loads(record.read_text())
        assert argv == [str(node.parent / "djflow_populate.py"), "--module", "m", "--table", "A"], argv


def test_a_password_with_dollar_dollar_is_changed_by_the_schedd_so_the_readme_points_to_password_file(tmp_path):
    """getenv copies the password into the job ad, where the schedd expands $$(…) at match time: an HTCondor
    behaviour djflow cannot quote around (the value never passes through djflow). README: password_file."""
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nrunner: {module: m}\ndatabase: {secret: {user_env: LAB_USER, password_env: LAB_PASS}}\n"
                                         "tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\n")
    djflow("compile", tmp_path / "djflow.yaml", "--target", "htcondor", "--out", tmp_path / "gen")
    folder = tmp_path / "gen/htcondor"
    text = (folder / "w0-a/a.sub").read_text()
    assert "getenv = LAB_USER, LAB_PASS" in text
    results, _ = parse_submits([{"name": "a", "text": text}], folder, dict(CREDENTIALS, LAB_PASS="pa$$(OpSys)ss"))
    assert "pa$$(OpSys)ss" in results[0]["procs"][0]["Environment"]
    assert ad_environment(results[0]["procs"][0], machine={"OpSys": "LINUX"})["LAB_PASS"] == "paLINUXss"
    readme = (REPO / "README.md").read_text()
    assert "$$(" in readme and "password_file" in readme


# Item 4: extra lines that would replace what djflow writes, through an alias or as the job attribute itself.
FIGHTS = [
    ("+RequestCpus = 8", "RequestCpus", 8), ("My.RequestMemory = 1", "RequestMemory", 1), ("RequestCpus = 8", None, None),
    ('+Cmd = "/bin/other"', "Cmd", "/bin/other"), ('+Arguments = "x"', "Arguments", "x"), ('+Environment = "Y=2"', "Environment", "Y=2"),
    ('+Out = "elsewhere"', "Out", "elsewhere"), ("+AllowedExecuteDuration = 5", "AllowedExecuteDuration", 5),
    ('+Iwd = "/tmp"', "Iwd", "/tmp"), ("initial_dir = /tmp", "Iwd", "/tmp"), ("get_env = true", None, None),
    ("requestgpus = 3", "RequestGpus", 3), ('+ContainerImage = "docker://other"', "ContainerImage", "docker://other"),
]


@pytest.mark.parametrize("line,attribute,value", FIGHTS, ids=[f[0] for f in FIGHTS])
def test_extra_lines_that_replace_what_djflow_writes_are_refused_at_their_line(tmp_path, line, attribute, value):
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nrunner: {module: m, image: 'lab/img:1'}\n"
                                          "tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S], resources: {cpus: 2, memory: 2G, time: '1:00:00'}}}\n"
                                          "targets:\n  htcondor:\n    extra: [%s]\n" % yaml_scalar(line))
    result = djflow("compile", tmp_path / "djflow.yaml", "--target", "htcondor", "--out", tmp_path / "gen", check=2)
    assert "djflow.yaml:6:13: error: " in result.stderr and ("written by djflow" in result.stderr or "djflow writes" in result.stderr), result.stderr
    if attribute is None:
        return
    # What HTCondor's parser does with the line after djflow's commands: the attribute is replaced.
    (tmp_path / "ok.yaml").write_text((tmp_path / "djflow.yaml").read_text().replace("    extra: [%s]\n" % yaml_scalar(line), ""))
    djflow("compile", tmp_path / "ok.yaml", "--target", "htcondor", "--out", tmp_path / "gen")
    text = (tmp_path / "gen/htcondor/w0-a/a.sub").read_text().replace("\nqueue 1\n", "\n%s\nqueue 1\n" % line)
    results, _ = parse_submits([{"name": "a", "text": text, "attributes": [attribute]}], tmp_path / "gen/htcondor", {"DJ_USER": "u", "DJ_PASS": "p"})
    assert results[0]["ok"], results
    assert results[0]["procs"][0]["_extra"][attribute] == value
