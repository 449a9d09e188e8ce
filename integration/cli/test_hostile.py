"""Issue 13, items 3 and 4 on SLURM: every hostile string, in every field that reaches a job script, is read
by bash (the generated .sbatch run outside SLURM with a recording interpreter) and must reach the runner's
argv or environment byte for byte, or be refused by djflow with an error at its line; the scripts pass
shellcheck; `extra` lines are read by sbatch's own #SBATCH parser (sbatch -vv with a minimal slurm.conf
prints what it read, then fails to reach a controller: no cluster needed)."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "integration"))
from hostile_strings import HOSTILE, yaml_scalar  # noqa: E402

RECORDER = """#!/usr/bin/python3
import json, os, sys
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps({"name": os.path.basename(sys.argv[0]), "argv": sys.argv[1:],
                        "env": {k: v for k, v in os.environ.items() if k in ("H", "K", "DJ_HOST", "DJ_USER", "DJ_PASS")}}) + "\\n")
"""

SPEC = """pipeline: hostile
runner:
  module: lab.pipeline
  python: {python}
  env: {{H: {runner_env}}}
  image: ghcr.io/lab/img:1
database:
  host: {host}
  secret: {{user_env: LAB_USER, password_env: LAB_PASS}}
tables:
  S: {{tier: manual}}
  A: {{tier: computed, depends_on: [S]}}
targets:
  slurm:
    env: {{K: {slurm_env}}}
{apptainer}"""
APPTAINER = "    apptainer: {{image: {image}, binds: [{bind}], options: [{option}]}}\n"
LINES = {"python": 4, "runner_env": 5, "host": 8, "slurm_env": 15, "image": 16, "bind": 16, "option": 16}
DEFAULTS = {"python": "python3", "runner_env": "1", "host": "db:3306", "slurm_env": "1", "image": "/img.sif",
            "bind": "/data", "option": "--cleanenv"}
LINE_BREAKS = {"carriage return", "CRLF", "LF", "trailing LF"}


@pytest.fixture(scope="module")
def fake_bin(tmp_path_factory):
    """A PATH folder whose python3, apptainer, and one command named by each hostile string all record."""
    folder = tmp_path_factory.mktemp("bin")
    recorder = folder / ".recorder"
    recorder.write_text(RECORDER)
    recorder.chmod(0o755)
    for name in ["python3", "apptainer", *(v for v in HOSTILE.values() if v and "/" not in v)]:
        (folder / name).symlink_to(recorder)
    return folder


def compile_field(djflow, tmp_path, field, value):
    values = {k: yaml_scalar(v) for k, v in DEFAULTS.items()}
    values[field] = yaml_scalar(value)
    values["apptainer"] = APPTAINER.format(**values) if field in ("image", "bind", "option") else ""
    folder = tmp_path / ("%s-%d" % (field, len(list(tmp_path.iterdir()))))
    folder.mkdir()
    (folder / "djflow.yaml").write_text(SPEC.format(**values), encoding="utf-8")
    return folder, djflow("compile", folder / "djflow.yaml", "--target", "slurm", "--out", folder / "gen")


def run_job(folder, fake_bin, restriction=""):
    record = folder / "record.jsonl"
    env = {"PATH": "%s:/usr/bin:/bin" % fake_bin, "LAB_USER": "alice", "LAB_PASS": "secret", "RECORD": str(record)}
    root = folder / "gen/slurm"
    result = subprocess.run(["bash", str(root / "w0-a/a.sbatch"), str(root), restriction, "0"], env=env, cwd=folder,
                            capture_output=True)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    [call] = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return call


def test_every_hostile_string_reaches_the_runner_or_is_refused_at_its_line(djflow, tmp_path, fake_bin, shellcheck):
    refused, scripts, reached = {}, [], 0
    for field in LINES:
        for label, value in HOSTILE.items():
            folder, result = compile_field(djflow, tmp_path, field, value)
            if result.returncode != 0:
                assert result.returncode == 2, result.stderr
                assert ("djflow.yaml:%d:" % LINES[field]) in result.stderr and " error: " in result.stderr, (field, label, result.stderr)
                assert not (folder / "gen").exists()
                refused.setdefault(field, set()).add(label)
                continue
            script = (folder / "gen/slurm/w0-a/a.sbatch").read_bytes()
            assert b"\r" not in script, "a raw CR would be read as part of a CRLF line end"
            scripts.append(folder / "gen/slurm/w0-a/a.sbatch")
            call = run_job(folder, fake_bin)
            root = str(folder / "gen/slurm")
            if field in ("image", "bind", "option"):
                argv = call["argv"]
                assert call["name"] == "apptainer" and argv[0] == "exec", call
                seen = {"image": argv[argv.index("python3") - 1], "bind": argv[argv.index("--bind") + 1],
                        "option": argv[argv.index(root) + 1]}[field]
            else:
                seen = {"python": call["name"], "runner_env": call["env"].get("H"), "host": call["env"].get("DJ_HOST"),
                        "slurm_env": call["env"].get("K")}[field]
                assert call["argv"][:5] == [root + "/djflow_populate.py", "--module", "lab.pipeline", "--table", "A"], call
            assert seen == value, (field, label, call)
            assert call["env"]["DJ_USER"] == "alice" and call["env"]["DJ_PASS"] == "secret"
            reached += 1
    assert refused == {"python": {"empty"}, "image": {"empty"}}, "bash carries every other string: %s" % refused
    # Every script passes shellcheck (a bare `export X==` was SC1097). Two notes are about the values being
    # literal on purpose: SC2016 ("expressions don't expand in single quotes": '$(HOME)' must not) and
    # SC1003 ("want to escape a single quote?": 'ends in \' is a backslash, as written).
    result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", "--exclude=SC2016,SC1003", *map(str, scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[:3000]
    print("\n[%d values reached the runner through bash, %d refused at their line]" % (reached, sum(map(len, refused.values()))))


def test_crlf_inside_a_value_keeps_its_cr(djflow, tmp_path, fake_bin):
    """The defect: `export X='crlf\\r\\nline'` lost its CR to the CRLF -> LF pass of every generated file."""
    folder, result = compile_field(djflow, tmp_path, "slurm_env", "crlf\r\nline")
    assert result.returncode == 0, result.stderr
    assert "export K='crlf'$'\\r''\nline'" in (folder / "gen/slurm/w0-a/a.sbatch").read_text()
    assert run_job(folder, fake_bin)["env"]["K"] == "crlf\r\nline"


def test_hostile_restrictions_reach_the_runner(djflow, tmp_path, fake_bin):
    folder, result = compile_field(djflow, tmp_path, "runner_env", "1")
    assert result.returncode == 0, result.stderr
    for value in HOSTILE.values():
        for restriction in (json.dumps({"subject": value}, ensure_ascii=False), value):
            if not restriction:
                continue  # empty: every key, no --restriction
            (folder / "record.jsonl").unlink(missing_ok=True)
            argv = run_job(folder, fake_bin, restriction)["argv"]
            assert argv[argv.index("--restriction") + 1] == restriction


def test_a_ten_thousand_character_log_dir_is_refused_at_its_line(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nrunner: {module: m}\ntables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\n"
                                          "targets:\n  slurm: {log_dir: %s}\n  htcondor: {log_dir: %s}\n" % ("l" * 10_000, "l" * 10_000))
    for target in ("slurm", "htcondor"):
        result = djflow("compile", tmp_path / "djflow.yaml", "--target", target, "--out", tmp_path / "gen")
        assert result.returncode == 2, result.stderr
        line = 5 if target == "slurm" else 6
        assert "djflow.yaml:%d:" % line in result.stderr and "'log_dir' is too long" in result.stderr, result.stderr
        assert not (tmp_path / "gen").exists()


# --- sbatch's own #SBATCH parser ---------------------------------------------------------------------

SLURM_CONF = """ClusterName=djflowparse
SlurmctldHost=localhost
SlurmctldPort=%d
AuthType=auth/none
CredType=cred/none
NodeName=localhost CPUs=1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES
"""


@pytest.fixture(scope="module")
def sbatch_reads(tmp_path_factory):
    """What sbatch reads from a script's #SBATCH lines: {option: value} from `sbatch -vv`'s "defined
    options", or ("fatal", message). sbatch is stopped once it has printed them (it would then try to reach a
    controller that does not exist)."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        pytest.fail("sbatch is not installed: the test command installs slurm-wlm (scripts/test.sh)")
    folder = tmp_path_factory.mktemp("sbatch")
    (folder / "slurm.conf").write_text(SLURM_CONF % 6999)

    def read(script_text):
        script = folder / "job.sbatch"
        script.write_text(script_text)
        env = {"PATH": "/usr/bin:/bin", "SLURM_CONF": str(folder / "slurm.conf")}
        proc = subprocess.Popen([sbatch, "-vv", str(script)], env=env, cwd=folder, stderr=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, text=True)
        options, inside, complete, lines = {}, False, False, []
        try:
            for line in proc.stderr:
                line = line.rstrip("\n")
                lines.append(line)
                if line.endswith("end of defined options"):
                    complete = True
                    break
                if line.endswith("defined options"):
                    inside = True
                elif inside:
                    match = re.match(r"sbatch: (\S+)\s+: (.*)$", line)
                    if match:
                        options[match.group(1)] = match.group(2)
        finally:
            proc.kill()
            proc.wait()
        if not complete:  # sbatch stopped before listing its options: its message
            return ("fatal", "\n".join(l for l in lines if "error" in l or "fatal" in l))
        return options

    return read


def compile_extra(djflow, tmp_path, extras):
    folder = tmp_path / ("x%d" % len(list(tmp_path.iterdir())))
    folder.mkdir()
    (folder / "djflow.yaml").write_text(
        "pipeline: p\nrunner: {module: m}\ntables:\n  S: {tier: manual}\n"
        "  A: {tier: computed, depends_on: [S], resources: {time: '1:00:00'}}\n"
        "targets:\n  slurm:\n    extra: [%s]\n" % ", ".join(yaml_scalar(e) for e in extras))
    return folder, djflow("compile", folder / "djflow.yaml", "--target", "slurm", "--out", folder / "gen")


def test_accepted_extra_lines_are_read_by_sbatch_as_written(djflow, tmp_path, sbatch_reads):
    extras = ['--comment="nightly run #3"', "--mail-type=END", "--mail-user=lab@example.org", "--exclusive",
              "--comment='it\"s'", "--begin=now+60", "--nice=10"]
    folder, result = compile_extra(djflow, tmp_path, extras)
    assert result.returncode == 0, result.stderr
    script = (folder / "gen/slurm/w0-a/a.sbatch").read_text()
    read = sbatch_reads(script)
    assert read["comment"] == 'it"s', read   # the last --comment wins, as for any option
    assert read["mail-type"] == "END" and read["mail-user"] == "lab@example.org" and "exclusive" in read
    assert read["time"] == "01:00:00" and read["job-name"] == "p-a", "djflow's own options are intact: %s" % read
    folder, _ = compile_extra(djflow, tmp_path, ['--comment="nightly run #3"'])
    assert sbatch_reads((folder / "gen/slurm/w0-a/a.sbatch").read_text())["comment"] == "nightly run #3"


REFUSED = [
    # (entry, what sbatch makes of the raw line, the djflow error)
    ("--time=2:00:00", lambda r: r["time"] == "02:00:00", "which djflow writes: use 'time:'"),
    ("--time 2:00:00", lambda r: r["time"] == "02:00:00", "which djflow writes: use 'time:'"),
    ("-t 5", lambda r: r["time"] == "00:05:00", "which djflow writes: use 'time:'"),
    ("--cpus-per-t=4", lambda r: r["cpus-per-task"] == "4", "which djflow writes: use 'cpus:'"),
    ("--job-name=other", lambda r: r["job-name"] == "other", "djflow names each job"),
    ("--comment=run #3", lambda r: r["comment"] == "run", "starts a comment"),
    ("--comment=my job", lambda r: r[0] == "fatal" and "Invalid directive found in batch script: job" in r[1], "is 2 arguments to sbatch"),
    ("--comment='unbalanced", lambda r: r[0] == "fatal" and "Unmatched" in r[1], "unmatched '"),
]


@pytest.mark.parametrize("entry,sbatch_does,error", REFUSED, ids=[r[0] for r in REFUSED])
def test_extra_lines_that_would_change_or_break_the_job_are_refused_at_their_line(djflow, tmp_path, sbatch_reads, entry, sbatch_does, error):
    folder, result = compile_extra(djflow, tmp_path, ["--mail-type=END"])
    assert result.returncode == 0, result.stderr
    script = (folder / "gen/slurm/w0-a/a.sbatch").read_text()
    raw = script.replace("#SBATCH --mail-type=END\n", "#SBATCH %s\n" % entry)
    assert sbatch_does(sbatch_reads(raw)), "sbatch reads the raw line so (the defect djflow refuses): %s" % (sbatch_reads(raw),)
    folder, result = compile_extra(djflow, tmp_path, [entry])
    assert result.returncode == 2 and "djflow.yaml:8:" in result.stderr and error in result.stderr, result.stderr
    assert not (folder / "gen").exists()


def test_generated_scripts_are_read_by_sbatch_without_complaint(djflow, tmp_path, sbatch_reads):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    read = sbatch_reads((out / "slurm/w0-recording/lfp.sbatch").read_text())
    assert isinstance(read, dict) and read["job-name"] == "ephys-lfp" and "requeue" in read and read["signal"].startswith("B:TERM"), read
