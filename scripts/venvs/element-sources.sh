#!/usr/bin/env bash
# Download and unpack the source of every DataJoint Element on PyPI that declares tables (pinned in
# integration/element-sources.txt) for the static reader's test (integration/python_sources/test_elements_static.py).
# Nothing is installed: `pip download --no-deps` fetches each wheel (or sdist) into
# .venv/element-sources/dist and each is unpacked into .venv/element-sources/<distribution>-<version>/,
# which holds the package folder (element_lab/, ...). Idempotent: a stamp holding the hash of the list
# makes a second run a no-op. Prints the folder on stdout.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
list="$REPO/integration/element-sources.txt"
out="$REPO/.venv/element-sources"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x "$REPO/.venv/dj2/bin/python" ]; then PY="$REPO/.venv/dj2/bin/python"; else PY=python3; fi
fi
want="$(sha256sum "$list" | cut -d' ' -f1)"
stamp="$out/.djflow-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$out"
    exit 0
fi
start=$(date +%s)
rm -f "$stamp"
mkdir -p "$out/dist"
"$PY" -m pip download -q --disable-pip-version-check --no-input --no-deps -d "$out/dist" -r "$list" \
    >"$out/pip.log" 2>&1 || { echo "element-sources.sh: pip download failed:" >&2; tail -n 30 "$out/pip.log" >&2; exit 1; }
"$PY" - "$list" "$out" <<'PYTHON'
import os, re, shutil, sys, tarfile, zipfile

listing, out = sys.argv[1], sys.argv[2]
dist = os.path.join(out, "dist")
files = os.listdir(dist)
for line in open(listing):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    stem = re.sub(r"[-_.]+", "_", name).lower()
    target = os.path.join(out, "%s-%s" % (stem, version))
    wheel = [f for f in files if f.lower().startswith("%s-%s-" % (stem, version)) and f.endswith(".whl")]
    sdist = [f for f in files if re.sub(r"[-_.]+", "_", f).lower().startswith("%s_%s_tar" % (stem, version.replace(".", "_")))]
    shutil.rmtree(target, ignore_errors=True)
    if wheel:
        with zipfile.ZipFile(os.path.join(dist, wheel[0])) as archive:
            archive.extractall(target)
    elif sdist:
        with tarfile.open(os.path.join(dist, sdist[0])) as archive:
            archive.extractall(os.path.join(out, ".sdist"))
        top = os.path.join(out, ".sdist", sdist[0][: -len(".tar.gz")])
        shutil.move(top, target)
    else:
        sys.exit("element-sources.sh: no download for %s==%s in %s" % (name, version, dist))
PYTHON
echo "$want" >"$stamp"
echo "element-sources.sh: $out ready in $(( $(date +%s) - start )) s" >&2
echo "$out"
