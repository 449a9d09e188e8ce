"""scripts/install.sh (issue 13, item 8): a release binary with the Swift runtime linked in runs where no Swift
toolchain is: copied alone into a clean folder, started with no Swift on PATH and an empty LD_LIBRARY_PATH,
it validates and compiles a sample byte for byte as the debug build does, and needs no libswift*.

The release build takes minutes the first time (about 4 to 7 on 2 cores); install.sh reuses .build/release,
so later runs take seconds. Where the test may hide the toolchain folder itself (root, `unshare -m`), it also
runs the binary with that folder empty.
"""
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import REPO, tree_bytes


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    result = subprocess.run([str(REPO / "scripts" / "install.sh"), "--prefix", str(prefix)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"install.sh: installed {prefix}/bin/djflow (" in result.stderr, result.stderr
    binary = prefix / "bin" / "djflow"
    assert binary.is_file() and os.access(binary, os.X_OK)
    # A clean folder holding only the binary and a sample pipeline, as on a login node.
    node = tmp_path_factory.mktemp("login-node")
    (node / "bin").mkdir()
    shutil.copy2(binary, node / "bin" / "djflow")
    (node / "ephys").mkdir()
    for name in ("djflow.yaml", "djflow.python.yaml", "ephys_pipeline.py"):
        shutil.copy(REPO / "Samples" / "ephys" / name, node / "ephys" / name)
    return node


def bare_env(node):
    env = {"PATH": str(node / "bin"), "LD_LIBRARY_PATH": "", "HOME": str(node), "LANG": "C"}
    assert shutil.which("swift", path=env["PATH"]) is None and shutil.which("swiftc", path=env["PATH"]) is None
    return env


def run_bare(node, *args, prefix=()):
    return subprocess.run([*prefix, str(node / "bin" / "djflow"), *args], cwd=node / "ephys", env=bare_env(node),
                          capture_output=True, text=True)


def test_links_no_swift_library(installed):
    ldd = subprocess.run(["ldd", str(installed / "bin" / "djflow")], capture_output=True, text=True)
    assert ldd.returncode == 0, ldd.stderr
    libraries = [line.split()[0] for line in ldd.stdout.splitlines() if line.strip()]
    assert not [name for name in libraries if "swift" in name.lower() or "foundation" in name.lower() or "dispatch" in name.lower()], ldd.stdout
    assert "not found" not in ldd.stdout


def test_runs_without_swift(installed, djflow, tmp_path):
    version = run_bare(installed, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == djflow("--version", check=0).stdout, "the release build is the version the tests built"

    check = run_bare(installed, "validate", "djflow.yaml")
    assert check.returncode == 0, check.stderr
    assert check.stdout == "djflow.yaml: ok: 13 tables, 6 jobs, 3 workflows\n"
    python = run_bare(installed, "validate", "djflow.python.yaml")
    assert python.returncode == 0, python.stderr

    out = installed / "ephys" / "generated"
    compiled = run_bare(installed, "compile", "djflow.yaml", "--target", "all", "--out", str(out))
    assert compiled.returncode == 0, compiled.stderr
    # Byte for byte what the build under test writes.
    reference = tmp_path / "reference"
    shutil.copytree(installed / "ephys", reference, ignore=shutil.ignore_patterns("generated"))
    djflow("compile", "djflow.yaml", "--target", "all", "--out", reference / "generated", cwd=reference, check=0)
    assert tree_bytes(out) == tree_bytes(reference / "generated")
    assert run_bare(installed, "compile", "djflow.yaml", "--target", "all", "--out", str(out), "--check").returncode == 0


def toolchain_root():
    swift = shutil.which("swift")
    if swift is None:
        return None
    path = pathlib.Path(swift).resolve()          # <root>/usr/bin/swift-driver
    return path.parents[2] if path.parent.name == "bin" and path.parents[1].name == "usr" else path.parents[1]


def test_runs_with_the_toolchain_folder_hidden(installed):
    root = toolchain_root()
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True) if unshare and mount else None
    if root is None or probe is None or probe.returncode != 0:
        pytest.skip("needs the Swift toolchain's folder and permission to hide it (root, unshare -m)")
    script = f"{mount} -t tmpfs none {root} && test ! -e {root}/usr/bin/swift && exec \"$@\""
    result = run_bare(installed, "compile", "djflow.yaml", "--target", "slurm", "--out", "hidden",
                      prefix=(unshare, "-m", "/bin/sh", "-c", script, "sh"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote ") and (installed / "ephys" / "hidden" / "slurm" / "submit_all.sh").is_file()


def test_install_usage(tmp_path):
    bad = subprocess.run([str(REPO / "scripts" / "install.sh"), "--prefx", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument: --prefx" in bad.stderr
    usage = subprocess.run([str(REPO / "scripts" / "install.sh"), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "usage: scripts/install.sh [--prefix DIR]" in usage.stdout
