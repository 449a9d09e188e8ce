"""Writes a synthetic DataJoint package for the static reader: N tables across F modules of package
`synth` (module k imports earlier modules and references their tables module-qualified), every fifth
table a master with a part, definitions in triple-quoted strings, plus a djflow.yaml with
`sources: [synth/*.py]`. Deterministic (seeded).

    python3 scripts/bench/synthetic_python.py 300 20 OUTDIR
"""
import os
import random
import sys


def main(n: int, files: int, out: str) -> None:
    rng = random.Random(42)
    pkg = os.path.join(out, "synth")
    os.makedirs(pkg, exist_ok=True)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    per = max(1, n // files)
    names = []  # (module index, class name)
    for k in range(files):
        lines = ['"""Synthetic module %d."""' % k, "import datajoint as dj", ""]
        lines += ["from . import m%02d" % j for j in range(max(0, k - 3), k)]
        lines += ["", "schema = dj.Schema('synth_m%02d')" % k, ""]
        for i in range(per):
            index = k * per + i
            name = "T%04d" % index
            if not names:
                tier, refs = "Manual", []
            else:
                tier = "Computed" if index % 10 else "Manual"
                refs = set()
                for _ in range(rng.randint(1, 3)):
                    mk, cls = names[rng.randrange(max(0, len(names) - 30), len(names))]
                    if mk == k:
                        refs.add(cls)
                    elif mk >= k - 3:
                        refs.add("m%02d.%s" % (mk, cls))
                refs = sorted(refs) or [names[-1][1] if names[-1][0] == k else "m%02d.%s" % names[-1]]
            lines += ["", "@schema", "class %s(dj.%s):" % (name, tier), '    definition = """',
                      "    # synthetic table %d" % index]
            lines += ["    -> %s" % r for r in refs]
            lines += ["    id_%d: int" % index, "    ---", "    value: float   # a value", '    """']
            if index % 5 == 0:
                lines += ["", "    class Part(dj.Part):", '        definition = """', "        -> master",
                          "        part: int", '        """']
            lines += ["", "    def make(self, key):", "        self.insert1(dict(key, value=1.0))"]
            names.append((k, name))
        with open(os.path.join(pkg, "m%02d.py" % k), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "djflow.yaml"), "w") as f:
        f.write("pipeline: synthetic\nsources: ['synth/*.py']\ndefaults: {workers: 2}\n"
                "targets: {slurm: {partition: compute}}\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
