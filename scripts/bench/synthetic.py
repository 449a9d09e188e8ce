"""Writes a synthetic djflow.yaml: N tables in layers, each computed table depending on 1-3 tables
above it, a gate every `gate_every` layers. Deterministic (seeded).

usage: synthetic.py N PATH [--containers]   (--containers: a runner image and a database secret, so that
                                             every target, Kubernetes included, compiles it)"""
import random
import sys


def main(n: int, path: str, gate_every: int = 10, containers: bool = False) -> None:
    rng = random.Random(42)
    if containers:
        lines = ["pipeline: synthetic", "runner: {module: synthetic_pipeline, image: 'ghcr.io/lab/synthetic:1'}",
                 "database: {host: 'db:3306', backend: mysql, secret: {name: db}}"]
    else:
        lines = ["pipeline: synthetic", "runner: {module: synthetic_pipeline}", "database: {host: 'db:3306', backend: mysql}"]
    lines += ["tables:", "  T0000: {tier: manual}"]
    for i in range(1, n):
        name = f"T{i:04d}"
        if i % (gate_every * 10) == 0:
            lines.append(f"  {name}: {{tier: manual, depends_on: [T{i - 1:04d}]}}")
            continue
        parents = sorted({f"T{rng.randrange(max(0, i - 30), i):04d}" for _ in range(rng.randint(1, 3))})
        workers = rng.choice([1, 1, 1, 2, 4])
        lines.append(f"  {name}: {{tier: computed, depends_on: [{', '.join(parents)}], workers: {workers}}}")
    lines.append("targets: {slurm: {partition: compute}}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], containers="--containers" in sys.argv[3:])
