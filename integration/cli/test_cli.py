"""The djflow command line as users run it: exit codes, --check, atomic output, script validity."""
import json
import pathlib
import shutil
import subprocess

import pytest

from conftest import REPO, tree_bytes

SAMPLES = ["ephys", "tutorial"]
BAD = """pipeline: bad
runner: {module: m}
tables:
  S: {tier: manual}
  A: {tier: computed, depends_on: [Sx]}
  B: {tier: computd, depends_on: [S]}
"""


@pytest.mark.parametrize("target", ["slurm", "airflow", "htcondor", "kubernetes"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_compile_then_check_is_clean(djflow, tmp_path, sample, target):
    out = tmp_path / "gen"
    djflow("compile", f"Samples/{sample}/djflow.yaml", "--target", target, "--out", out, check=0)
    result = djflow("compile", f"Samples/{sample}/djflow.yaml", "--target", target, "--out", out, "--check", check=0)
    assert "up to date" in result.stdout


def test_target_all_writes_every_target_folder(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "all", "--out", out, check=0)
    assert sorted(p.name for p in out.iterdir()) == ["airflow", "htcondor", "kubernetes", "slurm"]
    assert sorted(p.name for p in (out / "airflow").iterdir()) == [
        ".airflowignore", "djflow_populate.py", "w0-recording.py", "w1-clustering_task.py", "w2-curation.py"]
    for dag in (out / "airflow").glob("w*.py"):
        compile(dag.read_text(), str(dag), "exec")  # valid Python


def test_recompiling_replaces_the_output_and_leaves_nothing_beside_it(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "all", "--out", out, check=0)
    first = tree_bytes(out)
    (out / "slurm" / "stale.sbatch").write_text("old\n")
    (out / "notes.txt").write_text("mine\n")
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "all", "--out", out, check=0)
    # The replaced folders and the staging folder are gone; files outside the targets' folders stay.
    assert sorted(p.name for p in out.iterdir()) == ["airflow", "htcondor", "kubernetes", "notes.txt", "slurm"]
    assert {k: v for k, v in tree_bytes(out).items() if k != "notes.txt"} == first


def test_check_lists_stale_missing_and_extra_and_writes_nothing(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "all", "--out", out, check=0)
    (out / "slurm/w0-recording/lfp.sbatch").write_text("edited\n")
    (out / "slurm/w0-recording/recording.sbatch").unlink()
    (out / "slurm/stray.txt").write_text("x\n")
    before = tree_bytes(out)
    result = djflow("compile", "Samples/ephys/djflow.yaml", "--target", "slurm", "--out", out, "--check", check=1)
    assert f"stale:   {out}/slurm/w0-recording/lfp.sbatch" in result.stdout
    assert f"missing: {out}/slurm/w0-recording/recording.sbatch" in result.stdout
    assert f"extra:   {out}/slurm/stray.txt" in result.stdout
    assert tree_bytes(out) == before


def test_bad_pipeline_reports_everything_and_leaves_output_untouched(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    before = tree_bytes(out)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = djflow("compile", bad, "--target", "slurm", "--out", out, check=2)
    assert "bad.yaml:5:36: error: unknown table 'Sx' in the dependencies of 'A'; did you mean 'S'?" in result.stderr
    assert "bad.yaml:6:13: error: unknown tier 'computd'; did you mean 'computed'?" in result.stderr
    assert "2 errors generated." in result.stderr
    assert "  A: {tier: computed, depends_on: [Sx]}\n                                   ^" in result.stderr
    assert tree_bytes(out) == before
    assert not any(p.name.startswith(".djflow-staging") for p in out.iterdir())


def test_bad_pipeline_does_not_create_the_output_folder(djflow, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    djflow("compile", bad, "--target", "slurm", "--out", tmp_path / "new", check=2)
    assert not (tmp_path / "new").exists()


def test_validate_and_exit_codes(djflow, tmp_path):
    assert "ok: 13 tables, 6 jobs, 3 workflows" in djflow("validate", "Samples/ephys/djflow.yaml", check=0).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    djflow("validate", bad, check=2)
    djflow("validate", tmp_path / "missing.yaml", check=74)
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "nomad", check=64)


def test_plan_formats(djflow):
    plan = json.loads(djflow("plan", "Samples/ephys/djflow.yaml", "--format", "json", check=0).stdout)
    assert [w["id"] for w in plan["workflows"]] == ["w0-recording", "w1-clustering_task", "w2-curation"]
    assert plan["criticalPath"]["jobs"] == ["recording", "clustering", "curated_clustering", "waveforms"]
    dot = djflow("plan", "Samples/ephys/djflow.yaml", "--format", "dot", check=0).stdout
    assert dot.startswith('digraph "ephys"') and "cluster_w1-clustering_task" in dot
    mermaid = djflow("plan", "Samples/ephys/djflow.yaml", "--format", "mermaid", check=0).stdout
    assert mermaid.startswith("flowchart TD") and "(gate)" in mermaid
    text = djflow("plan", "Samples/ephys/djflow.yaml", check=0).stdout
    assert "gates (enter data first): ClusteringTask" in text


def test_absolute_pipeline_path_never_reaches_the_output(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", REPO / "Samples/tutorial/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    for path, (data, _) in tree_bytes(out).items():
        assert str(REPO).encode() not in data, path
        assert b"generated by djflow from Samples/tutorial/djflow.yaml, do not edit" in data, path


def test_template_override_by_name(djflow, tmp_path):
    overrides = tmp_path / "templates" / "slurm"
    overrides.mkdir(parents=True)
    original = djflow("templates", "show", "slurm/submit.sh.mustache", check=0).stdout
    (overrides / "submit.sh.mustache").write_text(original.replace("set -euo pipefail", "set -euo pipefail\n# site override"))
    out = tmp_path / "gen"
    djflow("compile", "Samples/tutorial/djflow.yaml", "--target", "slurm", "--out", out, "--templates", tmp_path / "templates", check=0)
    assert "# site override" in (out / "slurm/submit_all.sh").read_text()
    (overrides / "submitt.sh.mustache").write_text("x")
    result = djflow("compile", "Samples/tutorial/djflow.yaml", "--target", "slurm", "--out", out, "--templates", tmp_path / "templates", check=2)
    assert "did you mean 'slurm/submit.sh.mustache'" in result.stderr


def test_template_override_with_a_misspelt_tag_is_a_located_error_and_writes_nothing(djflow, tmp_path):
    overrides = tmp_path / "templates" / "slurm"
    overrides.mkdir(parents=True)
    original = djflow("templates", "show", "slurm/job.sbatch.mustache", check=0).stdout
    assert "{{retries}}" in original
    override = overrides / "job.sbatch.mustache"
    override.write_text(original.replace("{{retries}}", "{{retrys}}"))
    (overrides / "submit.sh.mustache").write_text("{{#jobs}}\n{{/job}}\n")
    out = tmp_path / "gen"
    result = djflow("compile", "Samples/tutorial/djflow.yaml", "--target", "slurm", "--out", out,
                    "--templates", tmp_path / "templates", check=2)
    line = next(i for i, text in enumerate(original.splitlines(), 1) if "{{retries}}" in text)
    assert "%s:%d:" % (override, line) in result.stderr, result.stderr
    assert "error: unknown tag 'retrys' in template 'slurm/job.sbatch.mustache'" in result.stderr
    assert "did you mean 'retries'?" in result.stderr
    assert "submit.sh.mustache:2:4: error: template 'slurm/submit.sh.mustache' does not parse" in result.stderr
    assert "Mustache" not in result.stderr and "ParserError" not in result.stderr, result.stderr
    assert not out.exists(), "nothing is written when an override is refused"


@pytest.mark.parametrize("sample", SAMPLES)
def test_generated_scripts_pass_bash_n_and_shellcheck(djflow, tmp_path, shellcheck, sample):
    out = tmp_path / "gen"
    djflow("compile", f"Samples/{sample}/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    scripts = sorted(p for p in (out / "slurm").rglob("*") if p.suffix in (".sh", ".sbatch"))
    assert scripts
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
    result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


HOSTILE = [
    '{"subject": "M\'1 $(touch /tmp/pwned) `id` \\\\ \\"q\\""}',
    "line1\nline2 ünïcødé ✓ ; | & * ? ~ !",
]


@pytest.mark.parametrize("restriction", HOSTILE)
def test_submit_dry_run_passes_the_restriction_verbatim(djflow, tmp_path, restriction):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    result = subprocess.run(["bash", str(out / "slurm/w0-recording/submit.sh"), "--restriction", restriction, "--dry-run"],
                            cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = [l for l in result.stdout.splitlines() if l.startswith("sbatch ")]
    assert len(lines) == 3  # refresh step, recording array, lfp
    for line in lines:
        # Each printed command is shell-quoted (%q); parsing it back gives the exact restriction argument.
        words = subprocess.run(["bash", "-c", 'eval "args=($1)"; printf "%s\\0" "${args[@]}"', "_", line],
                               capture_output=True, check=True).stdout.split(b"\0")[:-1]
        assert restriction.encode() in words
    assert "--dependency=afterok:DRYRUN_recording_refresh" in result.stdout
    assert "--dependency=afterok:DRYRUN_recording" in result.stdout
    assert "--array=0-1" in result.stdout
    assert not pathlib.Path("/tmp/pwned").exists()


def test_submit_rejects_unknown_arguments(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", "Samples/tutorial/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    result = subprocess.run(["bash", str(out / "slurm/submit_all.sh"), "--restriktion", "{}"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown argument" in result.stderr
    result = subprocess.run(["bash", str(out / "slurm/submit_all.sh"), "--after", "12;rm"], capture_output=True, text=True)
    assert result.returncode == 2
    help_text = subprocess.run(["bash", str(out / "slurm/submit_all.sh"), "--help"], capture_output=True, text=True, check=True).stdout
    assert "--restriction JSON" in help_text


HOSTILE_VALUE = "it's \"quoted\" $(touch /tmp/pwned2) `id` ${HOME} \\ ; | & ünï ✓\nsecond line"


def test_paths_env_values_and_restriction_reach_the_runner_verbatim(djflow, tmp_path):
    """Run a generated sbatch script with bash (outside SLURM) whose interpreter is a fake python that
    records its argv and environment: every user string must arrive byte for byte."""
    odd_dir = tmp_path / "venv with 'quote' and $(x)"
    odd_dir.mkdir()
    fake_python = odd_dir / "python3"
    record = tmp_path / "record.json"
    fake_python.write_text("#!/usr/bin/env python3\nimport json, os, sys\n"
                           f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(record)!r}, 'w'))\n")
    fake_python.chmod(0o755)
    spec = f"""pipeline: hostile
runner:
  module: lab.pipeline
  python: {json.dumps(str(fake_python))}
  env: {{ODD: {json.dumps(HOSTILE_VALUE)}}}
database: {{host: {json.dumps("db.example.org:3306")}, secret: {{user_env: LAB_USER, password_env: LAB_PASS}}}}
tables:
  S: {{tier: manual}}
  A: {{tier: computed, depends_on: [S]}}
targets:
  slurm: {{env: {{SITE_NOTE: {json.dumps(HOSTILE_VALUE[::-1])}}}}}
"""
    (tmp_path / "djflow.yaml").write_text(spec)
    djflow("compile", tmp_path / "djflow.yaml", "--target", "slurm", "--out", tmp_path / "gen", check=0)
    script = tmp_path / "gen/slurm/w0-a/a.sbatch"
    root = tmp_path / "gen/slurm"
    restriction = json.dumps({"subject": HOSTILE_VALUE})
    env = {"PATH": "/usr/bin:/bin", "LAB_USER": "alice", "LAB_PASS": "pa ss'word$"}

    missing = subprocess.run(["bash", str(script), str(root), restriction, "0"], env={"PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "LAB_USER is not set" in missing.stderr

    subprocess.run(["bash", str(script), str(root), restriction, "0"], env=env, check=True, cwd=tmp_path)
    seen = json.loads(record.read_text())
    assert seen["argv"][0] == str(root / "djflow_populate.py")
    assert seen["argv"][seen["argv"].index("--restriction") + 1] == restriction
    assert seen["argv"][seen["argv"].index("--module") + 1] == "lab.pipeline"
    assert seen["env"]["ODD"] == HOSTILE_VALUE
    assert seen["env"]["SITE_NOTE"] == HOSTILE_VALUE[::-1]
    assert seen["env"]["DJ_USER"] == "alice" and seen["env"]["DJ_PASS"] == "pa ss'word$"
    assert seen["env"]["DJ_HOST"] == "db.example.org:3306"
    assert not pathlib.Path("/tmp/pwned2").exists()
    assert "pa ss'word$" not in "".join(p.read_text() for p in root.rglob("*.sbatch"))


def test_a_copied_binary_works_alone(djflow, tmp_path):
    """Templates and the runner are embedded: a copy of the binary compiles anywhere."""
    import os
    copy = tmp_path / "bin" / "djflow"
    copy.parent.mkdir()
    shutil.copy2(os.environ.get("DJFLOW_BIN") or REPO / ".build/debug/djflow", copy)
    shutil.copy2(REPO / "Samples/tutorial/djflow.yaml", tmp_path / "djflow.yaml")
    subprocess.run([str(copy), "compile", "--target", "slurm", "--out", "gen"], cwd=tmp_path, check=True, capture_output=True)
    runner = (tmp_path / "gen/slurm/djflow_populate.py").read_text()
    assert runner.startswith("# generated by djflow from djflow.yaml, do not edit\n")
    assert runner.split("\n", 1)[1] == (REPO / "Templates/runner/djflow_populate.py").read_text()


@pytest.mark.parametrize("sample", SAMPLES)
def test_htcondor_compile_then_check_is_clean_and_the_node_script_passes_shellcheck(djflow, tmp_path, shellcheck, sample):
    out = tmp_path / "gen"
    djflow("compile", f"Samples/{sample}/djflow.yaml", "--target", "htcondor", "--out", out, check=0)
    result = djflow("compile", f"Samples/{sample}/djflow.yaml", "--target", "htcondor", "--out", out, "--check", check=0)
    assert "up to date" in result.stdout
    node = out / "htcondor/djflow_node.sh"
    assert node.stat().st_mode & 0o111 and (out / "htcondor/logs").is_dir()
    subprocess.run(["sh", "-n", str(node)], check=True)
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(node)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    usage = subprocess.run(["sh", str(node)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr
