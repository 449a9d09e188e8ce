"""The CI integration users copy, run as written (issue 13, item 9):

- `.pre-commit-hooks.yaml` through pre-commit from PyPI (.venv/precommit): a pipeline repository that uses
  the hook as the README shows passes while its committed output is fresh, and a commit that changes the
  pipeline without recompiling is refused until the output is compiled again;
- `docs/ci/github-actions.yml`: parsed, and its `run:` steps executed in order with bash as GitHub runs them
  (`bash --noprofile --norc -eo pipefail`, the workflow's `env:`, `$GITHUB_PATH`, `$RUNNER_TEMP`), in a
  checkout of a pipeline repository. `actions/checkout` is that checkout; `actions/cache` is a cache hit (the
  djflow binary already in ~/.local/bin), so the install step's build branch runs only with
  DJFLOW_CI_INSTALL=1 (a fresh clone and release build: minutes).

Run: `.venv/precommit/bin/python -m pytest integration/ci` with DJFLOW_BIN set (default .build/debug/djflow).
"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(os.environ.get("PRE_COMMIT_VENV_BIN", REPO / ".venv" / "precommit" / "bin"))
GIT_ENV = {"GIT_AUTHOR_NAME": "lab", "GIT_AUTHOR_EMAIL": "lab@example.org",
           "GIT_COMMITTER_NAME": "lab", "GIT_COMMITTER_EMAIL": "lab@example.org"}


@pytest.fixture(scope="session")
def djflow_bin():
    path = pathlib.Path(os.environ.get("DJFLOW_BIN") or REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), f"build djflow first: {path}"
    return path


@pytest.fixture
def env(tmp_path, djflow_bin):
    """A clean environment: its own HOME, djflow and pre-commit on PATH, nothing else of this machine's setup."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "djflow").symlink_to(djflow_bin)
    return {"HOME": str(home), "PATH": f"{home / 'bin'}:{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"), **GIT_ENV}


def run(args, cwd, env, check=None):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check is not None:
        assert result.returncode == check, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def git(cwd, env, *args):
    return run(["git", *args], cwd, env, check=0).stdout.strip()


@pytest.fixture
def pipeline_repo(tmp_path, env, djflow_bin):
    """A lab's pipeline repository: the tutorial sample with its SLURM output compiled and committed."""
    repo = tmp_path / "lab-pipeline"
    repo.mkdir()
    for name in ("djflow.yaml", "tutorial_pipeline.py"):
        shutil.copy(REPO / "Samples" / "tutorial" / name, repo / name)
    git(repo, env, "init", "-q", "-b", "main")
    run([str(djflow_bin), "compile", "--out", "generated"], repo, env, check=0)
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "pipeline and its compiled output")
    return repo


def edit_pipeline(repo):
    """A change that alters the output: one more worker for Spikes."""
    text = (repo / "djflow.yaml").read_text()
    assert text.count("    workers: 2\n") == 1
    (repo / "djflow.yaml").write_text(text.replace("    workers: 2\n", "    workers: 3\n"))


# pre-commit


def readme_precommit_config():
    """The .pre-commit-config.yaml the README shows."""
    text = (REPO / "README.md").read_text()
    found = re.findall(r"```yml\n(repos:\n.*?)```", text, re.S)
    assert len(found) == 1, "the README shows one .pre-commit-config.yaml"
    return found[0]


def test_the_hook_definition_is_what_pre_commit_expects():
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["djflow-check"]
    hook = hooks[0]
    assert hook["entry"] == "djflow compile --check"
    assert hook["language"] == "system" and hook["pass_filenames"] is False


def test_precommit_hook_passes_when_fresh_and_refuses_a_stale_commit(tmp_path, env, pipeline_repo):
    # The hook repository as pre-commit clones it: djflow's .pre-commit-hooks.yaml, committed.
    hooks = tmp_path / "djflow-hooks"
    hooks.mkdir()
    shutil.copy(REPO / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    git(hooks, env, "init", "-q", "-b", "main")
    git(hooks, env, "add", "-A")
    git(hooks, env, "commit", "-q", "-m", "hooks")
    rev = git(hooks, env, "rev-parse", "HEAD")

    config = readme_precommit_config()
    assert "id: djflow-check" in config
    config = re.sub(r"repo: .*", f"repo: {hooks.as_uri()}", config, count=1)
    config = re.sub(r"rev: .*", f"rev: {rev}", config, count=1)
    (pipeline_repo / ".pre-commit-config.yaml").write_text(config)
    git(pipeline_repo, env, "add", ".pre-commit-config.yaml")
    git(pipeline_repo, env, "commit", "-q", "-m", "pre-commit")

    fresh = run(["pre-commit", "run", "--all-files"], pipeline_repo, env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert re.search(r"djflow compile --check\.+Passed", fresh.stdout), fresh.stdout

    # As a user works: the hook installed in .git/hooks, a commit of an edited pipeline without recompiling.
    run(["pre-commit", "install"], pipeline_repo, env, check=0)
    edit_pipeline(pipeline_repo)
    refused = run(["git", "commit", "-am", "more workers"], pipeline_repo, env)
    assert refused.returncode != 0, refused.stdout
    out = refused.stdout + refused.stderr
    assert re.search(r"djflow compile --check\.+Failed", out), out
    assert "stale:   generated/slurm/w0-neuron/spikes.sbatch" in out, out
    assert "generated is out of date: run 'djflow compile djflow.yaml --out generated'" in out, out
    assert git(pipeline_repo, env, "log", "--format=%s", "-1") == "pre-commit", "nothing was committed"

    # The fix the hook names, then the commit goes through.
    run(["djflow", "compile", "djflow.yaml", "--out", "generated"], pipeline_repo, env, check=0)
    git(pipeline_repo, env, "add", "-A")
    done = run(["git", "commit", "-m", "more workers"], pipeline_repo, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(pipeline_repo, env, "log", "--format=%s", "-1") == "more workers"


# the example workflow


def load_workflow():
    # PyYAML reads the key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    return yaml.safe_load((REPO / "docs" / "ci" / "github-actions.yml").read_text())


def run_workflow(workflow, workspace, env, tmp_path):
    """Runs the job's steps in order as GitHub does; returns [(name, exit code, output)] up to the first failure."""
    (job,) = workflow["jobs"].values()
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    github_path = tmp_path / "github-path"
    github_path.write_text("")
    base = {**env, **{k: str(v) for k, v in workflow.get("env", {}).items()}, **{k: str(v) for k, v in job.get("env", {}).items()},
            "GITHUB_PATH": str(github_path), "RUNNER_TEMP": str(runner_temp), "GITHUB_WORKSPACE": str(workspace), "CI": "true"}
    results = []
    for index, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses") or f"step {index}"
        if "uses" in step:
            assert step["uses"].split("@")[0] in ("actions/checkout", "actions/cache"), step["uses"]
            continue   # the checkout is `workspace`; the cache is a hit (djflow in ~/.local/bin) or a miss
        script = step["run"]
        assert "${{" not in script, f"{name}: expressions in run: are not executed by this test"
        added = [line for line in github_path.read_text().splitlines() if line]
        step_env = {**base, **{k: str(v) for k, v in step.get("env", {}).items()},
                    "PATH": ":".join(reversed(added)) + (":" if added else "") + base["PATH"]}
        path = tmp_path / f"step{index}.sh"
        path.write_text(script)
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=workspace,
                                env=step_env, capture_output=True, text=True)
        results.append((name, result.returncode, result.stdout + result.stderr))
        if result.returncode != 0:
            break
    return results


def test_the_workflow_is_a_github_actions_workflow():
    workflow = load_workflow()
    assert set(workflow[True]) == {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] and job["container"].startswith("swift:6.")
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/cache"]
    names = [s.get("name") for s in job["steps"] if "run" in s]
    assert names == ["Install djflow", "Validate the pipeline", "The committed output is up to date"]
    assert any("scripts/install.sh" in s.get("run", "") for s in job["steps"])
    assert any("djflow compile" in s.get("run", "") and "--check" in s["run"] for s in job["steps"])


def test_the_workflow_passes_when_fresh_and_fails_when_stale(tmp_path, env, pipeline_repo, djflow_bin):
    workflow = load_workflow()
    # The cache hit: the binary restored to ~/.local/bin (the path the cache step names).
    local_bin = pathlib.Path(env["HOME"]) / ".local" / "bin"
    local_bin.mkdir(parents=True)
    shutil.copy(djflow_bin, local_bin / "djflow")
    clean = {**env, "PATH": "/usr/local/bin:/usr/bin:/bin"}   # djflow only through the workflow's own steps

    fresh = run_workflow(workflow, pipeline_repo, clean, tmp_path)
    assert [(name, code) for name, code, _ in fresh] == [
        ("Install djflow", 0), ("Validate the pipeline", 0), ("The committed output is up to date", 0)], fresh
    assert "up to date: " in fresh[-1][2]

    edit_pipeline(pipeline_repo)
    stale = run_workflow(workflow, pipeline_repo, clean, tmp_path)
    assert [(name, code) for name, code, _ in stale] == [
        ("Install djflow", 0), ("Validate the pipeline", 0), ("The committed output is up to date", 1)], stale
    assert "stale:   generated/slurm/w0-neuron/spikes.sbatch" in stale[-1][2]


@pytest.mark.skipif(os.environ.get("DJFLOW_CI_INSTALL") != "1", reason="a fresh clone and release build take minutes: DJFLOW_CI_INSTALL=1")
def test_the_workflow_installs_djflow_from_a_clone(tmp_path, env, pipeline_repo):
    """The cache miss: the install step clones DJFLOW_REPO at DJFLOW_REF and runs scripts/install.sh."""
    source = tmp_path / "djflow-src"
    source.mkdir()
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], REPO, env, check=0).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    git(source, env, "init", "-q", "-b", "main")
    git(source, env, "add", "-A")
    git(source, env, "commit", "-q", "-m", "djflow as in this working tree")
    workflow = load_workflow()
    workflow["env"].update({"DJFLOW_REPO": str(source), "DJFLOW_REF": git(source, env, "rev-parse", "HEAD")})
    swift = shutil.which("swift")
    clean = {**env, "PATH": f"{pathlib.Path(swift).parent}:/usr/local/bin:/usr/bin:/bin"}
    results = run_workflow(workflow, pipeline_repo, clean, tmp_path)
    assert [(name, code) for name, code, _ in results] == [
        ("Install djflow", 0), ("Validate the pipeline", 0), ("The committed output is up to date", 0)], results
    assert (pathlib.Path(env["HOME"]) / ".local" / "bin" / "djflow").is_file()
