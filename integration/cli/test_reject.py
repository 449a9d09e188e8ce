"""Malformed input of each kind, through the binary: a located error on the line at fault, all at once,
exit 2, nothing written, well under a second (issue #13, item 1)."""
import time

import pytest

HEADER = """pipeline: t
runner: {module: lab, image: 'r/x:1'}
database: {host: h, secret: {name: s}}
"""


def bomb(levels=9, width=10):
    lines = ["x0: &a0 [S]"]
    for level in range(1, levels + 1):
        lines.append(f"x{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


CASES = {
    # name: (YAML, the error's line:col, message, the caret's line)
    "alias bomb in depends_on": (
        bomb() + HEADER + "tables:\n  S: {tier: manual}\n  A: {tier: computed, depends_on: *a9}\n",
        "16:35", "alias '*a9' stands for 2111111111 YAML nodes", "  A: {tier: computed, depends_on: *a9}"),
    "alias bomb in a target option": (
        bomb() + HEADER + "tables:\n  S: {tier: manual}\n  A: {tier: computed, depends_on: [S]}\n"
        "targets:\n  slurm: {extra: *a9}\n",
        "18:18", "alias '*a9' stands for", "  slurm: {extra: *a9}"),
    "python tag": (
        HEADER + "tables:\n  S: {tier: manual, module: !!python/object/apply:os.system [id]}\n",
        "5:29", "YAML tag '!!python/object/apply:os.system' is not allowed",
        "  S: {tier: manual, module: !!python/object/apply:os.system [id]}"),
    "bare arrow": (
        HEADER + "tables:\n  S: {tier: manual}\n  A:\n    tier: computed\n    definition: |\n      -> S\n      ->\n",
        "10:7", "'->' names no table", "      ->"),
    "unknown option": (
        HEADER + "tables:\n  S: {tier: manual}\n  A:\n    tier: computed\n    definition: |\n      -> [nullabel] S\n",
        "9:11", "unknown foreign key option 'nullabel'; did you mean 'nullable'?", "      -> [nullabel] S"),
    "two names": (
        HEADER + "tables:\n  S: {tier: manual}\n  P: {tier: manual}\n  A:\n    tier: computed\n"
        "    definition: |\n      -> S P\n",
        "10:12", "unexpected 'P' after the reference to 'S'", "      -> S P"),
    "master on its own part": (
        HEADER + "tables:\n  S: {tier: manual}\n  R: {tier: imported, depends_on: [S, R.C], parts: [C]}\n",
        "6:39", "'R' depends on its own part 'R.C'", "  R: {tier: imported, depends_on: [S, R.C], parts: [C]}"),
    "part named like its master": (
        HEADER + "tables:\n  S: {tier: manual}\n  R: {tier: imported, depends_on: [S], parts: [R]}\n",
        "6:48", "part 'R' of 'R' has its master's name", "  R: {tier: imported, depends_on: [S], parts: [R]}"),
}


@pytest.mark.parametrize("name", CASES)
def test_rejected_at_the_line_at_fault_and_nothing_written(djflow, tmp_path, name):
    yaml, where, message, line = CASES[name]
    (tmp_path / "djflow.yaml").write_text(yaml)
    started = time.monotonic()
    result = djflow("compile", "djflow.yaml", "--target", "slurm", "--out", "out", cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert f"djflow.yaml:{where}: error: {message}" in result.stderr, result.stderr
    column = int(where.split(":")[1])
    assert f"\n{line}\n{' ' * (column - 1)}^\n" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def test_every_kind_at_once(djflow, tmp_path):
    """One file with a malformed '->' line, a tag and a structure error: all three reported, exit 2."""
    yaml = HEADER + (
        "tables:\n  S: {tier: manual, module: !custom lab}\n"
        "  R: {tier: imported, depends_on: [S], parts: [R]}\n"
        "  A:\n    tier: computed\n    definition: |\n      -> S.proj(a='b'\n")
    (tmp_path / "djflow.yaml").write_text(yaml)
    result = djflow("validate", "djflow.yaml", cwd=tmp_path)
    assert result.returncode == 2
    for expected in ("djflow.yaml:5:29: error: YAML tag '!custom'", "djflow.yaml:6:48: error: part 'R' of 'R'",
                     "djflow.yaml:10:16: error: unclosed '('"):
        assert expected in result.stderr, result.stderr
    assert "3 errors generated." in result.stderr
