"""Run benchmark on the real SLURM cluster (scripts/bench-run.sh; prints figures, never pass/fail).

The ephys sample, staged with extra subjects so that about a hundred make() calls of BENCH_SLEEP seconds
run, is computed five ways on the same cluster and database, each in a fresh schema:
  (a) sequential   one process calls populate() of every table in order (what DataJoint users run today)
  (b) table        djflow's SLURM output with `pipelining: false` (table-level afterok ordering)
  (c) pipelined    djflow's SLURM output with the defaults (pipelining) and `workers: auto`
  (d) diy          per workflow, a job array of BENCH_SLOTS workers each looping
                   populate(reserve_jobs=True, suppress_errors=True) over the workflow's tables until
                   nothing is left (the do-it-yourself setup DataJoint's documentation describes)
  (e) pool         djflow's SLURM output with `defaults: {pool: BENCH_SLOTS}`: one job of BENCH_SLOTS CPUs
                   per workflow whose runner imports the pipeline once and forks BENCH_SLOTS workers that
                   take keys of every table of the workflow as their inputs are committed
Staging between workflows (the gates) is done the same way for all and counted in every makespan.
Prints each makespan, the ratios, the per-key critical path and total-work-per-slot bounds (from the make()
log of each run), and the scheduler latency per table link of (b). Needs the services of scripts/test.sh.
"""

import collections
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "integration" / "e2e"))
sys.path.insert(0, str(REPO / "integration"))
import slurm_cluster  # noqa: E402
import testdb  # noqa: E402

SLEEP = float(os.environ.get("BENCH_SLEEP", "0.5"))
SUBJECTS = int(os.environ.get("BENCH_SUBJECTS", "2"))
SLOTS = int(os.environ.get("BENCH_SLOTS", "8"))
WORKFLOWS = [("w0-recording", ["Recording", "LFP"], None),
             ("w1-clustering_task", ["Clustering"], "clustering-tasks"),
             ("w2-curation", ["CuratedClustering", "Waveforms", "QualityMetrics"], "curations")]
PARENTS = {"LFP": ["Recording"], "Clustering": ["Recording"], "CuratedClustering": ["Clustering"],
           "Waveforms": ["CuratedClustering"], "QualityMetrics": ["CuratedClustering"], "Recording": []}
SAMPLE = REPO / "Samples" / "ephys"


def environment(work, mode):
    env = slurm_cluster.up()
    env.update({k: v for k, v in testdb.start().items() if k.startswith("DJ_")})
    env["PATH"] = str(pathlib.Path(sys.executable).parent) + os.pathsep + env["PATH"]
    env.update(PYTHONPATH=str(SAMPLE), DJ_IGNORE_CONFIG_FILE="true", DJFLOW_SAMPLE_SLEEP=str(SLEEP),
               DJFLOW_SAMPLE_SCHEMA="djflow_bench_%s_%s" % (mode, uuid.uuid4().hex[:6]),
               DJFLOW_SAMPLE_LOG=str(work / ("%s.jsonl" % mode)), DJFLOW_RETRY_DELAY="1")
    return env


def stage(env, step):
    args = [sys.executable, "stage.py", step]
    subprocess.run(args, cwd=SAMPLE, env=env, check=True, capture_output=True)
    if step == "initial":
        code = "import stage\nfor i in range(%d): stage.extra_subject('bench%%d' %% i)\n" % SUBJECTS
        subprocess.run([sys.executable, "-c", code], cwd=SAMPLE, env=env, check=True, capture_output=True)


def drop(env):
    subprocess.run([sys.executable, "-c", "import datajoint as dj, os; dj.config['safemode']=False; "
                    "dj.Schema(os.environ['DJFLOW_SAMPLE_SCHEMA']).drop(prompt=False)"],
                   cwd=SAMPLE, env=env, capture_output=True)


def compile_spec(work, mode, env, djflow):
    spec = yaml.safe_load((SAMPLE / "djflow.yaml").read_text())
    spec["database"]["host"] = env["DJ_HOST"]
    spec["defaults"]["resources"] = {"cpus": 1, "memory": "512M", "time": "0:30:00"}
    for table in spec["tables"].values():
        table.pop("resources", None)
        if mode == "pipelined":
            table.pop("workers", None)
    if mode == "table":
        spec["defaults"]["pipelining"] = False
    elif mode == "pool":
        spec["defaults"]["pool"] = SLOTS
        for table in spec["tables"].values():
            table.pop("workers", None)
    else:
        spec["defaults"].update(workers="auto", max_workers=SLOTS)
    folder = work / mode
    folder.mkdir()
    (folder / "djflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    subprocess.run([djflow, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder, check=True,
                   capture_output=True)
    (folder / "run").mkdir()
    return folder / "gen" / "slurm", folder / "run"


def submit(script, run, env):
    out = subprocess.run(["bash", str(script)], cwd=run, env=env, check=True, capture_output=True, text=True).stdout
    ids = {}
    for line in out.splitlines()[1:]:
        label, _, got = line.rpartition(" ")
        ids[label.strip()] = got.split(":")
    return ids


def wait(ids, env):
    flat = [i for group in ids.values() for i in group]
    slurm_cluster.wait_for(flat, timeout=900, env=env)
    return flat


def run_sequential(work, env, djflow):
    code = ("import ephys_pipeline as ep, stage, sys\n"
            "step = sys.argv[1]\n"
            "for name in sys.argv[2:]: getattr(ep, name).populate()\n")
    started = time.time()
    for _wid, tables, gate in WORKFLOWS:
        if gate:
            stage(env, gate)
        subprocess.run([sys.executable, "-c", code, "x"] + tables, cwd=SAMPLE, env=env, check=True, capture_output=True)
    return time.time() - started, []


def run_djflow(work, env, djflow, mode):
    slurm, run = compile_spec(work, mode, env, djflow)
    started, jobs = time.time(), []
    for wid, _tables, gate in WORKFLOWS:
        if gate:
            stage(env, gate)
        ids = submit(slurm / wid / "submit.sh", run, env)
        jobs.append(ids)
        wait(ids, env)
    return time.time() - started, jobs


# The loop of (d) and (e): populate every table of the workflow until no key is left.
LOOP = """
while True:
    made = sum(int(t.populate(reserve_jobs=True, suppress_errors=True).get("success_count") or 0) for t in tables)
    left = sum(len(t.key_source - t.proj()) for t in tables)
    if not left:
        break
    if not made:
        time.sleep(0.5)
"""

DIY_WORKER = """
import sys, time
import ephys_pipeline as ep
tables = [getattr(ep, name) for name in sys.argv[1:]]
""" + LOOP


def run_looping(work, env, mode):
    """(d) `diy`: a job array of SLOTS one-CPU workers per workflow."""
    folder = work / mode
    folder.mkdir()
    (folder / "worker.py").write_text(DIY_WORKER)
    started, jobs = time.time(), []
    for wid, tables, gate in WORKFLOWS:
        if gate:
            stage(env, gate)
        script = folder / ("%s.sbatch" % wid)
        script.write_text("#!/bin/bash\n#SBATCH --cpus-per-task=1\n#SBATCH --mem=512M\n#SBATCH --output=/dev/null\n"
                          "exec python3 %s %s\n" % (folder / "worker.py", " ".join(tables)))
        out = subprocess.run(["sbatch", "--parsable", "--array=0-%d" % (SLOTS - 1), "--partition=compute",
                              "--chdir=%s" % SAMPLE, str(script)],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        ids = {wid: [out.split(";")[0]]}
        jobs.append(ids)
        wait(ids, env)
    return time.time() - started, jobs


def made_log(env):
    path = pathlib.Path(env["DJFLOW_SAMPLE_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def bounds(log):
    """(per-key critical path, total work / slots, make() calls) from a make() log."""
    duration = collections.defaultdict(dict)
    for entry in log:
        duration[entry["table"]][json.dumps(entry["key"], sort_keys=True)] = entry["end"] - entry["start"]
    chain = collections.defaultdict(dict)
    order = ["Recording", "LFP", "Clustering", "CuratedClustering", "Waveforms", "QualityMetrics"]
    for table in order:
        for key, seconds in duration[table].items():
            k = json.loads(key)
            best = 0.0
            for parent in PARENTS[table]:
                for pkey, pchain in chain[parent].items():
                    if all(k.get(a) == v for a, v in json.loads(pkey).items()):
                        best = max(best, pchain)
            chain[table][key] = best + seconds
    critical = max((c for t in chain.values() for c in t.values()), default=0.0)
    total = sum(sum(t.values()) for t in duration.values())
    return critical, total / SLOTS, sum(len(t) for t in duration.values())


def link_latency(jobs, env):
    """Mean seconds between an upstream job's last end and its dependent's first start ((b): afterok)."""
    spans = collections.defaultdict(lambda: [float("inf"), float("-inf")])
    for name, _job, _sub, start, end, _state in task_spans(jobs, env):
        span = spans[(name or "").split(".")[0]]
        span[0], span[1] = min(span[0], start), max(span[1], end)
    gaps = []
    for child, parents in PARENTS.items():
        for parent in parents:
            c, p = spans.get("ephys-" + snake(child)), spans.get("ephys-" + snake(parent))
            if c and p and c[0] >= p[1] - 1:
                gaps.append(c[0] - p[1])
    return sum(gaps) / len(gaps) if gaps else float("nan")


def task_spans(jobs, env):
    """(job name, task id, submit, start, end, state) of every task, from `scontrol show job` (works until
    MinJobAge after the end; this cluster keeps no accounting database)."""
    import datetime

    def stamp(text):
        try:
            return datetime.datetime.fromisoformat(text).timestamp()
        except (TypeError, ValueError):
            return float("nan")

    rows = []
    for ids in jobs:
        for group in ids.values():
            for job in group:
                for t in slurm_cluster.final_state(job, env=env):
                    rows.append((t.get("JobName"), t.get("JobId"), stamp(t.get("SubmitTime")), stamp(t.get("StartTime")),
                                 stamp(t.get("EndTime")), t.get("JobState")))
    return rows


def timeline(jobs, env, log):
    """Each scheduler task's start and end, and each table's make() span, in seconds from the first submit."""
    rows = task_spans(jobs, env)
    t0 = min(r[2] for r in rows)
    for name, job, sub, start, end, state in rows:
        print("    %-6s %-34s submit %5.1f start %5.1f end %5.1f %s" % (job, name, sub - t0, start - t0, end - t0, state))
    spans = collections.defaultdict(list)
    for e in log:
        spans[e["table"]].append((e["start"] - t0, e["end"] - t0))
    for table, s in spans.items():
        print("    make %-20s first start %5.1f last end %5.1f n=%d" % (table, min(a for a, _ in s), max(b for _, b in s), len(s)))


def snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out += "_"
        out += ch.lower()
    return out


def main():
    djflow = sys.argv[1]
    work = pathlib.Path(sys.argv[2])
    results = {}
    chosen = os.environ.get("BENCH_MODES", "sequential,table,pipelined,diy,pool").split(",")
    for mode, runner in [("sequential", run_sequential), ("table", None), ("pipelined", None), ("diy", run_looping),
                         ("pool", None)]:
        if mode not in chosen:
            continue
        env = environment(work, mode)
        try:
            stage(env, "initial")
            if runner is None:
                makespan, jobs = run_djflow(work, env, djflow, mode)
            elif runner is run_looping:
                makespan, jobs = runner(work, env, mode)
            else:
                makespan, jobs = runner(work, env, djflow)
            log = made_log(env)
            critical, per_slot, calls = bounds(log)
            keys = collections.Counter((e["table"], json.dumps(e["key"], sort_keys=True)) for e in log)
            twice = sum(1 for n in keys.values() if n > 1)
            results[mode] = dict(makespan=makespan, critical=critical, per_slot=per_slot, calls=calls, twice=twice,
                                 latency=link_latency(jobs, env) if mode == "table" else None)
            print("%-11s makespan %6.1f s   make() calls %3d (twice: %d)" % (mode, makespan, calls, twice), flush=True)
            if os.environ.get("BENCH_TIMELINE") and jobs:
                timeline(jobs, env, log)
        finally:
            drop(env)
    if not all(m in results for m in ("sequential", "table", "pipelined", "diy", "pool")):
        return
    seq, table, piped, diy = (results[m]["makespan"] for m in ("sequential", "table", "pipelined", "diy"))
    critical = max(r["critical"] for r in results.values())
    per_slot = max(r["per_slot"] for r in results.values())
    print()
    print("make() sleeps %.2f s; %d slots; per-key critical path %.1f s; total work / slots %.1f s"
          % (SLEEP, SLOTS, critical, per_slot))
    print("(a) sequential %.1f s   (b) table-level %.1f s   (c) pipelined + workers: auto %.1f s   (d) DIY loop %.1f s"
          % (seq, table, piped, diy))
    print("(c) vs (a): %.2fx   (c) vs (d): %.2fx   (c) vs (b): %.2fx   (b) vs (a): %.2fx"
          % (seq / piped, diy / piped, table / piped, seq / table))
    print("(c) / max(bounds): %.2f   (b) scheduler latency per table link (upstream end -> dependent start): %.1f s"
          % (piped / max(critical, per_slot), results["table"]["latency"]))
    pool = results["pool"]["makespan"]
    print("(e) workflow pools %.1f s: (e) vs (a): %.2fx   (e) vs (d): %.2fx   (e) / max(bounds): %.2f"
          % (pool, seq / pool, diy / pool, pool / max(critical, per_slot)))


if __name__ == "__main__":
    main()
