"""What a new user runs into first (issue 13, items 5-7): folders where a file is expected, target choice,
--version and --help, shell completions, and submit.sh --dry-run leaving the folder as it was."""
import json
import pathlib
import shutil
import subprocess

from conftest import REPO, tree_bytes

PIPELINE = """pipeline: p
runner: {module: m}
tables:
  S: {tier: manual, workers: 2}
  A: {tier: computed, depends_on: [S], resources: {time: "1:30", memory: 8Gi}}
"""


def test_a_folder_holding_djflow_yaml_is_that_file(djflow, tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "djflow.yaml").write_text(PIPELINE + "targets: {slurm: {}}\n")
    for given in ("proj", "proj/"):
        result = djflow("validate", given, cwd=tmp_path, check=0)
        assert result.stdout == "proj/djflow.yaml: ok: 2 tables, 1 jobs, 1 workflows\n"
    djflow("compile", "proj", "--out", "gen", cwd=tmp_path, check=0)
    assert (tmp_path / "gen" / "slurm" / "w0-a" / "a.sbatch").is_file()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "other.yaml").write_text(PIPELINE)
    result = djflow("validate", "empty", cwd=tmp_path, check=74)
    assert result.stderr == "djflow: error: 'empty' is a folder without a djflow.yaml (it holds 'other.yaml': give the file)\n"


def test_a_folder_in_sources_reads_its_python_files_sorted(djflow, tmp_path):
    pkg = tmp_path / "pipe"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "b.py").write_text("import datajoint as dj\nschema = dj.Schema('s')\n@schema\nclass Subject(dj.Manual):\n"
                              "    definition = 'subject: int'\n")
    (pkg / "sub" / "a.py").write_text("import datajoint as dj\nfrom b import Subject\nschema = dj.Schema('t')\n@schema\n"
                                      "class Session(dj.Imported):\n    definition = '-> Subject\\nsession: int'\n")
    (pkg / "notes.txt").write_text("not python\n")
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nsources: [pipe]\ntables:\n  Session: {workers: 2}\ntargets: {slurm: {}}\n")
    result = djflow("validate", cwd=tmp_path, check=0)
    assert result.stdout == "djflow.yaml: ok: 2 tables, 1 jobs, 1 workflows\n", result.stderr
    # Read in sorted path order (pipe/b.py before pipe/sub/a.py), whatever order the folder lists them in.
    graph = json.loads(djflow("import", "pipe", "--format", "json", cwd=tmp_path, check=0).stdout)
    assert [(t["module"], t["name"]) for t in graph["tables"]] == [("b", "Subject"), ("sub.a", "Session")]
    for written in ("pipe/", "./pipe", "pipe"):   # a list or a single string, with or without the slash
        (tmp_path / "djflow.yaml").write_text(f"pipeline: p\nsources: {written}\ntargets: {{slurm: {{}}}}\n")
        assert djflow("validate", cwd=tmp_path, check=0).stdout == "djflow.yaml: ok: 2 tables, 1 jobs, 1 workflows\n"


def test_a_missing_source_is_one_error_with_a_suggestion(djflow, tmp_path):
    shutil.copy(REPO / "Samples/ephys/ephys_pipeline.py", tmp_path)
    text = (REPO / "Samples/ephys/djflow.python.yaml").read_text().replace("sources: [ephys_pipeline.py]", "sources: [ephys_pipelin.py]")
    (tmp_path / "djflow.yaml").write_text(text)
    result = djflow("validate", cwd=tmp_path, check=2)
    assert "error: cannot read 'ephys_pipelin.py': no such file or folder" in result.stderr
    assert "did you mean 'ephys_pipeline.py'?" in result.stderr
    assert "note: 6 tables of 'tables:' not found in the sources read" in result.stderr
    assert result.stderr.count("error:") == 1 and "1 error generated." in result.stderr, result.stderr


def test_warnings_do_not_stop_compile(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text(PIPELINE + "targets: {slurm: {}}\n")
    result = djflow("compile", "--out", "gen", cwd=tmp_path, check=0)
    assert "djflow.yaml:4:21: warning: 'workers' has no effect: manual table 'S' is filled by people" in result.stderr
    assert "djflow.yaml:5:58: warning: 'time: 1:30' is 1 minute 30 seconds" in result.stderr
    assert "error" not in result.stderr
    script = (tmp_path / "gen/slurm/w0-a/a.sbatch").read_text()
    assert "#SBATCH --mem=8G\n" in script and "#SBATCH --time=0:01:30\n" in script


def test_validate_of_a_pipeline_without_a_job_says_so(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nrunner: {module: m}\ntables:\n  S: {tier: manual}\ntargets: {slurm: {}}\n")
    result = djflow("validate", cwd=tmp_path, check=0)
    assert result.stdout == "djflow.yaml: valid, but no job to run (1 tables)\n"
    assert "djflow.yaml:4:3: warning: the pipeline has no job" in result.stderr


def test_a_tab_in_the_indentation_is_named(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nrunner: {module: m}\ntables:\n\tS: {tier: manual}\n")
    result = djflow("validate", cwd=tmp_path, check=2)
    assert result.stderr.startswith("djflow.yaml:4:1: error: a tab in the indentation: YAML indents with spaces only"), result.stderr


# Target selection


def test_compile_without_target_uses_the_configured_targets(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text(PIPELINE + "targets: {slurm: {partition: compute}, airflow: {}}\n")
    result = djflow("compile", "--out", "gen", cwd=tmp_path, check=0)
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == ["airflow", "slurm"]
    check = djflow("compile", "--out", "gen", "--check", cwd=tmp_path, check=0)
    assert "up to date" in check.stdout
    (tmp_path / "gen/slurm/w0-a/a.sbatch").write_text("edited\n")
    stale = djflow("compile", "--out", "gen", "--check", cwd=tmp_path, check=1)
    assert "run 'djflow compile djflow.yaml --out gen'" in stale.stdout, "the command to run is the one that was run"
    assert result.stdout == "wrote 7 files to gen\n"


def test_compile_without_any_target_says_how_to_choose(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text(PIPELINE)
    result = djflow("compile", "--out", "gen", cwd=tmp_path, check=64)
    assert "djflow: error: no target to compile: djflow.yaml configures none under 'targets:'" in result.stderr
    assert "--target (airflow, htcondor, kubernetes, slurm or all)" in result.stderr
    assert "targets: {slurm: {partition: compute}}" in result.stderr
    assert "Usage: djflow <subcommand>" not in result.stderr
    assert not (tmp_path / "gen").exists()
    validate = djflow("validate", cwd=tmp_path, check=0)
    assert "djflow.yaml:1:1: warning: no target is configured under 'targets:', so no target's options were checked" in validate.stderr


def test_target_all_reports_what_kubernetes_needs_where_it_belongs(djflow, tmp_path):
    (tmp_path / "djflow.yaml").write_text("pipeline: p\nrunner:\n  module: m\ndatabase:\n  host: db\n"
                                          "tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\ntargets: {slurm: {}}\n")
    result = djflow("compile", "--target", "all", "--out", "gen", cwd=tmp_path, check=2)
    err = result.stderr
    assert "djflow.yaml:2:1: error: the kubernetes target needs 'runner.image'" in err
    assert "djflow.yaml:4:1: error: the kubernetes target needs 'database.secret.name'" in err
    assert "note: add it under database:, e.g. 'secret: {name: p-db}'" in err
    assert "kubernetes is not named under 'targets:'" in err
    assert ":1:11:" not in err
    assert not (tmp_path / "gen").exists()


# --version, --help, completions


def test_version_is_in_the_binary_and_not_in_generated_files(djflow, tmp_path):
    version = djflow("--version", check=0).stdout.strip()
    assert version and version[0].isdigit() and version.count(".") == 2, version
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "all", "--out", tmp_path / "gen", check=0)
    for path, (data, _) in tree_bytes(tmp_path / "gen").items():
        assert f"djflow {version}".encode() not in data and f"djflow v{version}".encode() not in data, path


def test_help_names_all_four_targets_and_completions(djflow):
    text = djflow("--help", check=0).stdout
    assert "SLURM, HTCondor, Kubernetes and Airflow" in text
    for target in ("slurm", "htcondor", "kubernetes", "airflow"):
        assert f"\n  {target} " in text, target
    assert "--generate-completion-script" in text
    assert "(SLURM)." not in text
    assert "airflow, htcondor, kubernetes, slurm or all" in " ".join(djflow("compile", "--help", check=0).stdout.split())


def test_shell_completions_as_the_readme_documents_them(djflow, tmp_path):
    readme = (REPO / "README.md").read_text()
    assert "djflow --generate-completion-script bash" in readme
    for shell in ("bash", "zsh", "fish"):
        script = djflow("--generate-completion-script", shell, check=0).stdout
        assert "compile" in script and "validate" in script, shell
    bash = djflow("--generate-completion-script", "bash", check=0).stdout
    path = tmp_path / "djflow.bash"
    path.write_text(bash)
    # The completion script loads in bash and completes the --target values.
    probe = f"""
source {path}
COMP_WORDS=(djflow compile --target ku); COMP_CWORD=3; COMP_LINE="djflow compile --target ku"; COMP_POINT=${{#COMP_LINE}}
_djflow djflow ku --target 2>/dev/null || true
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "kubernetes" in result.stdout.split(), result.stdout


# SLURM submit.sh


def test_submit_dry_run_creates_no_log_folder(djflow, tmp_path):
    out = tmp_path / "gen"
    djflow("compile", "Samples/ephys/djflow.yaml", "--target", "slurm", "--out", out, check=0)
    run = tmp_path / "run"
    run.mkdir()
    result = subprocess.run(["bash", str(out / "slurm/w0-recording/submit.sh"), "--dry-run"], cwd=run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "sbatch --parsable" in result.stdout
    assert list(run.iterdir()) == [], "a dry run leaves the folder as it was"


def test_templates_show_of_an_unknown_name_suggests_one(djflow):
    result = djflow("templates", "show", "slurm/job.sbach", check=64)
    assert result.stderr == "djflow: error: no template named 'slurm/job.sbach'; did you mean 'slurm/job.sbatch.mustache'? (see 'djflow templates list')\n"
    assert "Usage: djflow <subcommand>" not in result.stderr
