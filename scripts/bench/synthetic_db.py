"""Writes a synthetic DataJoint package that can be declared for real, for `djflow status` benchmarks:
one Manual root `Subject` and N-1 Computed tables in F modules of package `synthdb`, each computed table
depending on the root (half of them) or on one earlier table (a forest, so every primary key is `subject_id` and a
table's key source has one key per subject), plus djflow.yaml with `sources: [synthdb/*.py]`.
Schemas are named <prefix>m<k> (prefix from SYNTH_PREFIX). Deterministic (seeded).

    python3 scripts/bench/synthetic_db.py 300 10 OUTDIR
"""
import os
import random
import sys


def main(n: int, files: int, out: str) -> None:
    rng = random.Random(7)
    pkg = os.path.join(out, "synthdb")
    os.makedirs(pkg, exist_ok=True)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    per = max(1, n // files)
    names = []  # (module index, class name)
    for k in range(files):
        lines = ['"""Synthetic module %d."""' % k, "import os", "", "import datajoint as dj", ""]
        lines += ["from . import m%02d" % j for j in range(k)]
        lines += ["", "schema = dj.Schema(os.environ.get('SYNTH_PREFIX', 'synthdb_') + 'm%02d')" % k, ""]
        for i in range(per):
            index = k * per + i
            if not names:
                lines += ["", "@schema", "class Subject(dj.Manual):", '    definition = """', "    subject_id: int",
                          '    """']
                names.append((k, "Subject"))
                continue
            name = "T%04d" % index
            # half hang off the root (10,000 keys each to do), half off an earlier table (keys appear as it fills)
            mk, parent = names[0] if rng.random() < 0.5 else names[rng.randrange(max(0, len(names) - 40), len(names))]
            ref = parent if mk == k else "m%02d.%s" % (mk, parent)
            lines += ["", "@schema", "class %s(dj.Computed):" % name, '    definition = """', "    -> %s" % ref,
                      "    ---", "    value: float", '    """', "", "    def make(self, key):",
                      "        self.insert1(dict(key, value=1.0))"]
            names.append((k, name))
        with open(os.path.join(pkg, "m%02d.py" % k), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "djflow.yaml"), "w") as f:
        f.write("pipeline: synthdb\nsources: ['synthdb/*.py']\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
