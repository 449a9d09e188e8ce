"""Every YAML example in the README is a pipeline definition a user may copy: each one validates.

Examples are validated in a folder holding what they refer to: the ephys sample's module, and the
Elements workflow's package with `elements/` linked to the installed Elements (scripts/venvs/elements.sh).
"""
import re
import shutil

import pytest

from conftest import REPO

ELEMENTS_SITE = next(iter(sorted((REPO / ".venv" / "elements" / "lib").glob("python3*/site-packages"))), None)


def readme_examples():
    text = (REPO / "README.md").read_text()
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"```yaml\n(.*?)```", text, re.S)]


def test_the_readme_has_examples():
    lines = [line for line, _ in readme_examples()]
    assert len(lines) >= 3, lines


@pytest.mark.parametrize("line,example", readme_examples(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_readme_example_validates(djflow, tmp_path, line, example):
    for path in (REPO / "Samples" / "ephys").glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(REPO / "integration" / "elements_workflow" / "mylab", tmp_path / "mylab")
    if ELEMENTS_SITE is not None:
        (tmp_path / "elements").symlink_to(ELEMENTS_SITE)
    if "elements/" in example and ELEMENTS_SITE is None:
        pytest.fail("the Elements are not installed: run scripts/venvs/elements.sh")
    (tmp_path / "djflow.yaml").write_text(example)
    result = djflow("validate", "djflow.yaml", cwd=tmp_path)
    assert result.returncode == 0, "README.md:%d: example does not validate:\n%s%s" % (line, result.stdout, result.stderr)
    assert "error:" not in result.stderr
