"""SLURM submit scripts as operators use them: --only, --from, --skip-done, --retry-failed, each with --dry-run.

No cluster and no database: the printed sbatch commands are parsed back, and --skip-done talks to a fake
interpreter (runner.python) that answers the runner's --describe-tables with canned progress."""
import json
import pathlib
import subprocess

import pytest

from conftest import REPO

FAKE_PYTHON = """#!/usr/bin/env python3
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"argv": argv, "user": os.environ.get("DJ_USER")}) + "\\n")
if "--describe-tables" not in argv:
    sys.exit(0)  # a job's runner call
answer = json.loads(os.environ["FAKE_PROGRESS"])
if "exit" in answer:
    sys.exit(answer["exit"])
for i, word in enumerate(argv):
    if word == "--table":
        print(answer[argv[i + 1]], argv[i + 1])
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The ephys sample compiled for SLURM with runner.python = a fake that reports progress."""
    import os

    folder = tmp_path_factory.mktemp("submit")
    fake = folder / "fake python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    spec = (REPO / "Samples/ephys/djflow.yaml").read_text().replace("  python: python3\n", "  python: %s\n" % json.dumps(str(fake)), 1)
    assert str(fake) in spec
    (folder / "djflow.yaml").write_text(spec)
    binary = os.environ.get("DJFLOW_BIN") or str(REPO / ".build/debug/djflow")
    subprocess.run([binary, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder, check=True,
                   capture_output=True)
    return folder / "gen/slurm"


def words(line):
    """A printed (%q-quoted) command parsed back by bash."""
    out = subprocess.run(["bash", "-c", 'eval "args=($1)"; printf "%s\\0" "${args[@]}"', "_", line],
                         capture_output=True, check=True).stdout
    return [w.decode() for w in out.split(b"\0")[:-1]]


class Submission:
    def __init__(self, result, root, log):
        self.rc, self.stdout, self.stderr = result.returncode, result.stdout, result.stderr
        self.calls = []
        self.dependencies = {}
        for line in result.stdout.splitlines():
            if not line.startswith("sbatch "):
                continue
            argv = words(line)
            script = next(w for w in argv if w.endswith(".sbatch"))
            dependency = next((w.split("=", 1)[1] for w in argv if w.startswith("--dependency=")), "")
            deps = dependency.split(":", 1)[1] if dependency else ""
            after_script = argv[argv.index(script) + 1:]
            assert after_script[0] == str(root)
            self.calls.append((pathlib.Path(script).name, deps, after_script[1:]))
            self.dependencies[pathlib.Path(script).name] = dependency
        self.described = [json.loads(l)["argv"] for l in log.read_text().splitlines()] if log.exists() else []

    @property
    def scripts(self):
        return [c[0] for c in self.calls]

    def deps(self):
        return {c[0]: c[1] for c in self.calls}

    def dependency(self, script):
        """The whole --dependency value of a script's sbatch call (afterok:…, after:…_0, or both)."""
        return self.dependencies[script]


def submit(slurm, tmp_path, script, *args, progress=None, env=None):
    log = tmp_path / "fake.jsonl"
    if log.exists():
        log.unlink()
    run_env = {"PATH": "/usr/bin:/bin", "DJ_USER": "alice", "DJ_PASS": "secret", "FAKE_LOG": str(log),
               "FAKE_PROGRESS": json.dumps(progress or {})}
    run_env.update(env or {})
    result = subprocess.run(["bash", str(slurm / script), "--dry-run", *args], cwd=tmp_path, env=run_env,
                            capture_output=True, text=True)
    return Submission(result, slurm, log)


ALL = ["recording.refresh.sbatch", "recording.sbatch", "lfp.sbatch", "clustering.refresh.sbatch", "clustering.sbatch",
       "curated_clustering.sbatch", "quality_metrics.sbatch", "waveforms.sbatch"]


def test_without_options_every_table_is_submitted_as_before(slurm, tmp_path):
    s = submit(slurm, tmp_path, "submit_all.sh")
    assert s.rc == 0, s.stderr
    assert s.scripts == ALL
    assert s.deps()["clustering.refresh.sbatch"] == "DRYRUN_recording"
    # LFP follows Recording key by key: it may start once Recording's first array task has started.
    assert s.dependency("lfp.sbatch") == "after:DRYRUN_recording_0"
    assert s.dependency("clustering.refresh.sbatch") == "afterok:DRYRUN_recording"
    assert all(call[2] == ["", "0"] for call in s.calls), "no retry-failed argument unless asked"
    assert s.described == [], "the database is asked only with --skip-done"


def test_only_submits_the_named_tables_and_keeps_their_order_through_the_others(slurm, tmp_path):
    # By table name or job id, comma-separated or repeated.
    s = submit(slurm, tmp_path, "submit_all.sh", "--only", "Recording,curated_clustering", "--only", "Waveforms")
    assert s.rc == 0, s.stderr
    assert s.scripts == ["recording.refresh.sbatch", "recording.sbatch", "curated_clustering.sbatch",
                         "waveforms.sbatch"]
    deps = s.deps()
    assert deps["recording.refresh.sbatch"] == ""
    # Clustering is left out: CuratedClustering waits for what Clustering would have waited for.
    assert deps["curated_clustering.sbatch"] == "DRYRUN_recording"
    assert s.dependency("waveforms.sbatch") == "after:DRYRUN_curated_clustering_0"
    table = [line.split() for line in s.stdout.splitlines() if not line.startswith("sbatch ")]
    assert table[0] == ["table", "job", "id"] and [row[0] for row in table[1:]] == [
        "Recording", "Recording", "CuratedClustering", "Waveforms"]


def test_only_a_table_without_its_upstream_has_no_dependency_except_after(slurm, tmp_path):
    s = submit(slurm, tmp_path, "w2-curation/submit.sh", "--only", "QualityMetrics")
    assert s.rc == 0 and s.scripts == ["quality_metrics.sbatch"] and s.deps() == {"quality_metrics.sbatch": ""}
    s = submit(slurm, tmp_path, "w2-curation/submit.sh", "--only", "QualityMetrics", "--after", "41:42")
    assert s.deps() == {"quality_metrics.sbatch": "41:42"}


def test_from_submits_a_table_and_what_depends_on_it(slurm, tmp_path):
    s = submit(slurm, tmp_path, "submit_all.sh", "--from", "Clustering", "--after", "7")
    assert s.rc == 0, s.stderr
    assert s.scripts == ALL[3:]
    deps = s.deps()
    assert deps["clustering.refresh.sbatch"] == "7", "Recording is left out: its --after passes on"
    assert deps["curated_clustering.sbatch"] == "DRYRUN_clustering"
    # Inside one workflow's script: only that workflow's tables depend on it.
    s = submit(slurm, tmp_path, "w0-recording/submit.sh", "--from", "recording")
    assert s.scripts == ["recording.refresh.sbatch", "recording.sbatch", "lfp.sbatch"]
    s = submit(slurm, tmp_path, "w2-curation/submit.sh", "--from", "curated_clustering,QualityMetrics")
    assert s.scripts == ["curated_clustering.sbatch", "quality_metrics.sbatch", "waveforms.sbatch"]


def test_retry_failed_reaches_the_first_step_of_each_table(slurm, tmp_path):
    s = submit(slurm, tmp_path, "w0-recording/submit.sh", "--retry-failed")
    assert s.rc == 0, s.stderr
    extra = {name: args for name, _, args in s.calls}
    assert extra == {"recording.refresh.sbatch": ["", "0", "retry-failed"],  # the refresh step, not the workers
                     "recording.sbatch": ["", "0"],
                     "lfp.sbatch": ["", "0", "retry-failed"]}
    s = submit(slurm, tmp_path, "submit_all.sh", "--retry-failed", "--only", "Clustering", "--restriction", '{"subject": "M1"}')
    assert [(n, a) for n, _, a in s.calls] == [("clustering.refresh.sbatch", ['{"subject": "M1"}', "0", "retry-failed"]),
                                               ("clustering.sbatch", ['{"subject": "M1"}', "0"])]


def test_the_job_script_clears_errors_on_its_first_attempt_with_retry_failed(slurm, tmp_path):
    """The sbatch script itself, run with bash: retry-failed turns into --clear-errors on attempt 0."""
    log = tmp_path / "fake.jsonl"
    env = {"PATH": "/usr/bin:/bin", "DJ_USER": "alice", "DJ_PASS": "secret", "FAKE_LOG": str(log), "FAKE_PROGRESS": "{}"}
    for extra, cleared in [([], False), (["retry-failed"], True)]:
        subprocess.run(["bash", str(slurm / "w0-recording/lfp.sbatch"), str(slurm), "", "0", *extra], env=env, check=True,
                       cwd=tmp_path, capture_output=True)
        argv = json.loads(log.read_text().splitlines()[-1])["argv"]
        assert ("--clear-errors" in argv) == cleared, argv
        assert argv[:5] == [str(slurm / "djflow_populate.py"), "--module", "ephys_pipeline", "--table", "LFP"]


def test_skip_done_leaves_out_tables_with_nothing_to_do_and_rebuilds_the_chain(slurm, tmp_path):
    progress = {"Recording": "0 8", "LFP": "3 8", "Clustering": "0 16", "CuratedClustering": "0 16",
                "QualityMetrics": "2 16", "Waveforms": "0 40"}
    s = submit(slurm, tmp_path, "submit_all.sh", "--skip-done", progress=progress)
    assert s.rc == 0, s.stderr
    assert s.scripts == ["lfp.sbatch", "quality_metrics.sbatch"]
    assert s.deps() == {"lfp.sbatch": "", "quality_metrics.sbatch": ""}
    # One runner start for every table, with the jobs' interpreter, environment and module.
    assert len(s.described) == 1
    argv = s.described[0]
    assert argv[:4] == [str(slurm / "djflow_populate.py"), "--describe-tables", "--module", "ephys_pipeline"]
    assert [argv[i + 1] for i, w in enumerate(argv) if w == "--table"] == list(progress)
    assert "submit: Recording: nothing to do, not submitted" in s.stderr
    assert "submit: LFP: 3 of 8 keys to do" in s.stderr


def test_skip_done_never_skips_a_table_below_one_that_is_submitted(slurm, tmp_path):
    """A table downstream of a submitted one may get new keys from it: it is submitted too, in order."""
    progress = {"Recording": "1 9", "LFP": "0 8", "Clustering": "0 16", "CuratedClustering": "0 16",
                "QualityMetrics": "0 16", "Waveforms": "0 40"}
    s = submit(slurm, tmp_path, "submit_all.sh", "--skip-done", progress=progress)
    assert s.scripts == ALL
    assert s.dependency("lfp.sbatch") == "after:DRYRUN_recording_0"
    s = submit(slurm, tmp_path, "w2-curation/submit.sh", "--skip-done", progress={
        "CuratedClustering": "0 16", "QualityMetrics": "0 16", "Waveforms": "5 40"})
    assert s.scripts == ["waveforms.sbatch"]
    assert s.deps()["waveforms.sbatch"] == ""


def test_skip_done_with_only_and_after_and_restriction(slurm, tmp_path):
    progress = {"Recording": "0 8", "CuratedClustering": "4 16"}
    s = submit(slurm, tmp_path, "submit_all.sh", "--skip-done", "--only", "Recording,CuratedClustering", "--after", "5:6",
               "--restriction", '{"subject": "M1"}', progress=progress)
    assert s.rc == 0, s.stderr
    assert s.scripts == ["curated_clustering.sbatch"]
    # Recording is done and Clustering not chosen: CuratedClustering waits only for --after.
    assert s.deps() == {"curated_clustering.sbatch": "5:6"}
    argv = s.described[0]
    assert [argv[i + 1] for i, w in enumerate(argv) if w == "--table"] == ["Recording", "CuratedClustering"]
    assert argv[argv.index("--restriction") + 1] == '{"subject": "M1"}'


def test_skip_done_with_everything_done_submits_nothing(slurm, tmp_path):
    s = submit(slurm, tmp_path, "w0-recording/submit.sh", "--skip-done", progress={"Recording": "0 8", "LFP": "0 8"})
    assert s.rc == 0 and s.calls == []
    assert s.stdout.splitlines() == ["table                                    job id"]
    assert "nothing to submit" in s.stderr


@pytest.mark.parametrize("code", [2, 75, 1])
def test_skip_done_stops_before_any_sbatch_when_the_progress_cannot_be_read(slurm, tmp_path, code):
    s = submit(slurm, tmp_path, "w0-recording/submit.sh", "--skip-done", progress={"exit": code})
    assert s.rc == code and s.calls == [] and "nothing submitted" in s.stderr


def test_skip_done_needs_the_credentials_like_the_jobs(slurm, tmp_path):
    log = tmp_path / "fake.jsonl"
    result = subprocess.run(["bash", str(slurm / "w0-recording/submit.sh"), "--dry-run", "--skip-done"], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "FAKE_LOG": str(log), "FAKE_PROGRESS": "{}"},
                            capture_output=True, text=True)
    assert result.returncode == 2 and "DJ_USER is not set" in result.stderr and "sbatch" not in result.stdout
    assert not log.exists()


HOSTILE_NAMES = ["$(touch /tmp/djflow-submit-pwned)", "`touch /tmp/djflow-submit-pwned`", "ids[$(touch /tmp/djflow-submit-pwned)]",
                 "Recording\n$(touch /tmp/djflow-submit-pwned)", "Recording;touch /tmp/djflow-submit-pwned", "recording ",
                 "", "*", "Recording.Channel", "-x", "'", "ünï"]


@pytest.mark.parametrize("option", ["--only", "--from"])
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_unknown_and_hostile_table_names_are_refused(slurm, tmp_path, option, name):
    s = submit(slurm, tmp_path, "submit_all.sh", option, name, "--skip-done", progress={"exit": 9})
    assert s.rc == 2, (s.rc, s.stderr)
    assert s.stdout == "" and s.described == []
    assert "submit: unknown table: " in s.stderr
    assert "the tables of this script (name or job id): Recording (recording), LFP (lfp), Clustering (clustering)" in s.stderr
    assert not pathlib.Path("/tmp/djflow-submit-pwned").exists()
    # One bad name among good ones refuses the whole submission too.
    s = submit(slurm, tmp_path, "submit_all.sh", option, "LFP," + name)
    assert s.rc == 2 and s.calls == []


def test_a_table_of_another_workflow_is_unknown_to_a_workflow_script(slurm, tmp_path):
    s = submit(slurm, tmp_path, "w0-recording/submit.sh", "--only", "Clustering")
    assert s.rc == 2 and "the tables of this script (name or job id): Recording (recording), LFP (lfp)\n" in s.stderr


def test_only_and_from_together_and_missing_values_are_usage_errors(slurm, tmp_path):
    s = submit(slurm, tmp_path, "submit_all.sh", "--only", "LFP", "--from", "Recording")
    assert s.rc == 2 and "not both" in s.stderr
    for option in ("--only", "--from"):
        s = submit(slurm, tmp_path, "submit_all.sh", option)
        assert s.rc == 2 and "needs table names" in s.stderr
    help_text = subprocess.run(["bash", str(slurm / "submit_all.sh"), "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--only T[,T...]", "--from T[,T...]", "--skip-done", "--retry-failed", "--dry-run"):
        assert option in help_text
    assert "Tables: Recording (recording), LFP (lfp)" in help_text
