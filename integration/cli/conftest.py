import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def djflow():
    """The djflow binary built by the test command (DJFLOW_BIN), else the debug build."""
    path = os.environ.get("DJFLOW_BIN") or str(REPO / ".build" / "debug" / "djflow")
    assert os.access(path, os.X_OK), f"build djflow first: {path}"

    def run(*args, cwd=REPO, check=None):
        result = subprocess.run([path, *map(str, args)], cwd=cwd, capture_output=True, text=True)
        if check is not None:
            assert result.returncode == check, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        return result

    return run


def tree_bytes(folder: pathlib.Path):
    """Every file under folder with its bytes and mode, for byte-for-byte comparisons."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def shellcheck():
    path = shutil.which("shellcheck")
    if path is None:
        pytest.fail("shellcheck is not installed: the test command installs it (scripts/test.sh)")
    return path
