"""The static reader on every DataJoint Element on PyPI that declares tables (integration/element-sources.txt,
downloaded and unpacked by scripts/venvs/element-sources.sh; nothing is installed or imported).

For each package folder, `djflow import FOLDER` must exit 0, find the recorded number of tables, and warn
only of what the static reader cannot know by design (names the element receives at run time through
activate(linking_module=...) or virtual modules); the YAML it prints must validate as printed.

Recorded per package: tables read (masters and parts), and what `djflow validate` of the printed YAML
says (master tables, including the run-time names read as tables outside the pipeline; jobs).
"""

import json
import os
import re
import subprocess

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "venvs" / "element-sources.sh"
LISTING = REPO / "integration" / "element-sources.txt"

# package: (tables read by import, validate's tables, validate's jobs)
EXPECTED = {
    "element_animal": (32, 25, 0),
    "element_array_ephys": (99, 74, 28),
    "element_calcium_imaging": (95, 64, 27),
    "element_deeplabcut": (15, 13, 4),
    "element_electrode_localization": (8, 6, 1),
    "element_event": (12, 10, 5),
    "element_facemap": (10, 7, 3),
    "element_lab": (24, 22, 0),
    "element_miniscope": (30, 23, 9),
    "element_optogenetics": (8, 8, 0),
    "element_session": (12, 13, 0),
    "element_zstack": (9, 8, 3),
}

# The only warnings the elements may give: names supplied at run time (linking_module / add_objects,
# module-level names assigned in activate(), virtual modules), each read as a table outside the pipeline.
UNDERSTOOD = [
    re.compile(r"'[\w.]+' is not defined in module '[\w.]+': it is supplied (there )?at run time \('(linking_module|add_objects|spawn_missing_classes)' at [^)]*\); read as the pipeline table '[\w.]+'$"),
    re.compile(r"'\w+' is (None here and )?assigned at run time \(line \d+\); read '[\w.]+' as a pipeline table name$"),
    re.compile(r"'\w+' is a virtual module created at run time \(line \d+\); read '[\w.]+' as a pipeline table name$"),
]


def packages():
    names = []
    for line in LISTING.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            names.append((re.sub(r"[-_.]+", "_", name).lower(), version))
    return names


@pytest.fixture(scope="module")
def sources():
    """The unpacked packages (downloads them on the first run; a no-op afterwards)."""
    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_every_listed_package_is_expected():
    assert sorted(stem for stem, _ in packages()) == sorted(EXPECTED)


@pytest.mark.parametrize("stem,version", packages())
def test_static_reader_reads_the_element(stem, version, sources, djflow, tmp_path):
    folder = os.path.join(sources, "%s-%s" % (stem, version), stem)
    assert os.path.isfile(os.path.join(folder, "__init__.py")), folder
    tables, validated, jobs = EXPECTED[stem]

    graph = subprocess.run([djflow, "import", "--format", "json", folder], capture_output=True, text=True, cwd=str(tmp_path))
    assert graph.returncode == 0, graph.stderr
    read = json.loads(graph.stdout)["tables"]
    assert len(read) == tables, "%s: %d tables (recorded %d)" % (stem, len(read), tables)
    assert all(t["module"] == stem or t["module"].startswith(stem + ".") for t in read)
    assert all(t["static"] for t in read), [t["name"] for t in read if not t["static"]]

    diagnostics = [line for line in graph.stderr.splitlines() if re.match(r"^\S+:\d+:\d+: (error|warning|note): ", line)]
    assert not [d for d in diagnostics if ": error: " in d], graph.stderr
    for line in diagnostics:
        message = line.split(": warning: ", 1)[-1]
        assert any(p.search(message) for p in UNDERSTOOD), "not an understood warning: %s" % line
    assert re.search(r"^djflow import: %d tables from \d+ files; 0 errors, %d warnings?$" % (tables, len(diagnostics)),
                     graph.stderr, re.M), graph.stderr

    # The starting YAML validates as printed.
    yaml_text = subprocess.run([djflow, "import", folder], capture_output=True, text=True, cwd=str(tmp_path))
    assert yaml_text.returncode == 0, yaml_text.stderr
    (tmp_path / "djflow.yaml").write_text(yaml_text.stdout)
    check = subprocess.run([djflow, "validate"], capture_output=True, text=True, cwd=str(tmp_path))
    assert check.returncode == 0, check.stderr
    expected = ("ok: %d tables, %d jobs," % (validated, jobs) if jobs
                else "valid, but no job to run (%d tables)" % validated)  # an element of manual tables only
    assert expected in check.stdout, check.stdout
