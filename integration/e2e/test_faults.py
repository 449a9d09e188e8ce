"""Faults on the real SLURM cluster and the real MariaDB (issue #10, point 3), each judged from the database.

The pipeline (integration/e2e/faults/) has one computed table, Work, filled by a refresh step and two workers (one
array task each, retries 4, retry delay 1 s). Every make() first writes an Attempt row (key, attempt uuid,
job, pid, the database's NOW(6)) on a connection of its own, so an attempt that never commits stays visible,
then sleeps, then inserts its Work row naming its attempt. "Every key computed exactly once, none lost" is
read from the database: every item has its Work row; the only Attempt rows not named by Work are the makes
the fault interrupted (one per interrupted key, started before the fault); no jobs-table row is left
reserved or in error.

1. SIGKILL of a worker's runner in the middle of make() (as the OOM killer does); the workflow is submitted
   again: its refresh step gives the dead worker's reserved row back and the key is computed once.
2. SIGTERM to a worker's batch shell (what `#SBATCH --signal=B:TERM@60` delivers before the time limit) and
   `scontrol requeue` of the other, running, array task: the terminated runner releases its key (exit 143),
   the requeued task starts again and computes every key left, in the same submission.
3. The database restarted while the workers are in make(): they exit 75 and the job script retries them.
   After a restart MariaDB numbers connections from 1 again, so a dead worker's reserved row can name a live
   connection: the test fills those ids with connections of its own before the retries reach the database
   (the workers are suspended meanwhile); the runner must still see the rows as dead (reserved before the
   server started). The server restarted is the one the test environment's DJ_HOST points at, managed by
   scripts/db/up.sh (its pid file); it is left running.
4. Two submissions of the same workflow at once: each key made once.
"""
import collections
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid

import pytest

import slurm_cluster
import testdb
from conftest import REPO
from test_slurm_e2e import submit, wait

FAULTS = pathlib.Path(__file__).resolve().parent / "faults"


# ---------------------------------------------------------------------------
# the database, read through one connection per server that is opened again after a restart
# ---------------------------------------------------------------------------

_connections = {}


def sql(env, query, args=None):
    conn = _connections.get(env["DJ_HOST"])
    try:
        if conn is None:
            raise ConnectionError
        conn.ping(reconnect=False)
    except Exception:
        if conn is not None:
            conn.close()
        conn = _connections[env["DJ_HOST"]] = testdb.connect(env)
    with conn.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


class Faults:
    """One run of the fault pipeline: its own schema and run folder."""

    def __init__(self, env, slurm, folder, keys, sleep):
        self.env = dict(env)
        self.schema = "djflow_faults_" + uuid.uuid4().hex[:8]
        self.env.update(DJFLOW_FAULTS_SCHEMA=self.schema, DJFLOW_FAULTS_SLEEP=str(sleep),
                        PYTHONPATH=str(FAULTS), DJFLOW_RETRY_DELAY="1")
        self.keys = keys
        self.script = slurm / "w0-work" / "submit.sh"
        self.run = folder
        self.run.mkdir()
        subprocess.run([sys.executable, "-c", "import faults_pipeline as f; f.Item.insert([{'item_id': i} for i in "
                        "range(%d)]); f.Work.jobs" % keys], env=self.env, cwd=self.run, check=True, capture_output=True)

    def q(self, table):
        return "`%s`.`%s`" % (self.schema, table)

    def reserved(self):
        """{item_id: (connection_id, pid)} of the reserved rows of Work's jobs table."""
        rows = sql(self.env, "SELECT item_id, connection_id, pid FROM %s WHERE status='reserved'" % self.q("~~work"))
        return {item: (connection, pid) for item, connection, pid in rows}

    def statuses(self):
        return dict(sql(self.env, "SELECT item_id, status FROM %s" % self.q("~~work")))

    def attempts(self):
        rows = sql(self.env, "SELECT item_id, attempt, job_id, pid, started FROM %s ORDER BY started"
                   % self.q("attempt"))
        return [dict(zip(("item", "attempt", "job_id", "pid", "started"), r)) for r in rows]

    def in_make(self, min_age=0.0, max_age=None):
        """{item_id: attempt row} of the reserved keys whose make() is running (its Attempt row written,
        started at least min_age and, if given, at most max_age seconds ago by the database's clock)."""
        held = self.reserved()
        if not held:
            return {}
        rows = sql(self.env, "SELECT a.item_id, a.attempt, a.job_id, a.pid, TIMESTAMPDIFF(MICROSECOND, a.started, "
                   "NOW(6)) / 1e6 FROM %s a JOIN %s j ON a.item_id = j.item_id AND a.pid = j.pid "
                   "WHERE j.status='reserved'" % (self.q("attempt"), self.q("~~work")))
        found = {}
        for item, attempt, job, pid, age in rows:
            if float(age) >= min_age and (max_age is None or float(age) <= max_age):
                found[item] = {"item": item, "attempt": attempt, "job_id": job, "pid": pid}
        return found

    def wait_in_make(self, n, timeout=60, **ages):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.in_make(**ages)
            if len(found) >= n:
                return found
            time.sleep(0.1)
        raise AssertionError("no %d worker(s) in make() after %ss: reserved %s, attempts %s"
                             % (n, timeout, self.reserved(), self.attempts()))

    def submit(self, *args):
        return submit(self.env, self.script, self.run, *args)

    def logs(self, job_id, task):
        """The stdout and stderr of one array task (both runs of a requeued task), for failure messages."""
        found = []
        for path in sorted((self.run / "logs").glob("*_%s_%d.*" % (job_id, task))):
            found.append("--- %s\n%s" % (path.name, path.read_text()))
        return "\n".join(found) or "no logs for %s_%d" % (job_id, task)

    def summaries(self):
        """The runners' JSON summary lines, per log file name."""
        found = {}
        for path in sorted((self.run / "logs").glob("*.out")):
            found[path.name] = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
        return found

    def assert_each_key_once(self, interrupted):
        """Every key is in Work, made by exactly one attempt; the attempts that did not commit are exactly
        the interrupted makes (a list of attempt uuids), each started before the one that made its key."""
        work = dict(sql(self.env, "SELECT item_id, attempt FROM %s" % self.q("__work")))
        attempts = self.attempts()
        assert sorted(work) == list(range(self.keys)), "keys lost: %s" % sorted(set(range(self.keys)) - set(work))
        by_uuid = {a["attempt"]: a for a in attempts}
        assert all(work[item] in by_uuid and by_uuid[work[item]]["item"] == item for item in work), (work, attempts)
        uncommitted = sorted(a["attempt"] for a in attempts if a["attempt"] != work[a["item"]])
        assert uncommitted == sorted(interrupted), (
            "makes that did not commit %s, interrupted %s: %s" % (uncommitted, interrupted, attempts))
        for attempt in interrupted:
            item = by_uuid[attempt]["item"]
            assert by_uuid[attempt]["started"] < by_uuid[work[item]]["started"], (item, attempts)
        jobs = collections.Counter(self.statuses().values())
        assert not jobs["reserved"] and not jobs["error"], jobs


@pytest.fixture(scope="module")
def faults_slurm(cluster_env, djflow_bin, tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    spec = (FAULTS / "djflow.yaml").read_text().replace("host: db.example.org:3306",
                                                       "host: '%s'" % cluster_env["DJ_HOST"])
    (folder / "djflow.yaml").write_text(spec)
    subprocess.run([djflow_bin, "compile", "djflow.yaml", "--target", "slurm", "--out", "gen"], cwd=folder, check=True)
    return folder / "gen" / "slurm"


@pytest.fixture
def faults(cluster_env, faults_slurm, tmp_path):
    made = []

    def make(keys, sleep):
        made.append(Faults(cluster_env, faults_slurm, tmp_path / "run", keys, sleep))
        return made[-1]
    yield make
    for f in made:
        sql(f.env, "DROP DATABASE IF EXISTS `%s`" % f.schema)


def tasks(states, label="Work"):
    """{array task id: final state} of a table's worker array."""
    return {int(t["ArrayTaskId"]): t for t in states[label]}


def task_of(job_id):
    """'12_1' (DJFLOW_JOB_ID) -> 1."""
    return int(job_id.rpartition("_")[2])


def slurm(env, *argv):
    result = subprocess.run(list(argv), env=env, capture_output=True, text=True)
    assert result.returncode == 0, (argv, result.stderr)
    return result.stdout


def connection_live(env, connection_id):
    return bool(sql(env, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID=%s", (connection_id,))[0][0])


def wait_until(predicate, timeout, what, poll=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


# ---------------------------------------------------------------------------
# 1. SIGKILL in the middle of make(), then the workflow submitted again
# ---------------------------------------------------------------------------


def test_worker_killed_in_make_is_reclaimed_by_the_rerun(faults):
    f = faults(keys=3, sleep=1.5)
    ids = f.submit()
    # Both runners busy in make(): each has passed its start, where a runner gives back dead workers' rows (a
    # worker that started after the kill would reclaim the victim's row at once, and the rerun would have
    # nothing to reclaim). One of them is the victim.
    victim = min(f.wait_in_make(2, min_age=0.2).values(), key=lambda a: a["job_id"])
    cmdline = pathlib.Path("/proc/%d/cmdline" % victim["pid"]).read_bytes()
    assert b"djflow_populate.py" in cmdline and b"--no-refresh" in cmdline, cmdline
    os.kill(victim["pid"], signal.SIGKILL)
    states = wait(f.env, ids)
    workers = tasks(states)
    killed = task_of(victim["job_id"])
    assert workers[killed]["JobState"] == "FAILED" and workers[killed]["ExitCode"] == "137:0", workers
    assert workers[1 - killed]["JobState"] == "COMPLETED", workers

    # The killed make() never committed; its row stays reserved, naming a connection that is gone.
    held = f.reserved()
    assert list(held) == [victim["item"]], held
    wait_until(lambda: not connection_live(f.env, held[victim["item"]][0]), 30, "the server to drop the connection")
    assert sql(f.env, "SELECT COUNT(*) FROM %s" % f.q("__work"))[0][0] == f.keys - 1

    ids = f.submit()
    states = wait(f.env, ids)
    assert all(t["JobState"] == "COMPLETED" for jobs in states.values() for t in jobs), states
    f.assert_each_key_once([victim["attempt"]])
    refresh = [s for name, lines in f.summaries().items()
               if name.startswith("faults-work.refresh_%s." % ids["Work (refresh)"][0]) for s in lines]
    assert [s["reclaimed"] for s in refresh] == [1], refresh   # the rerun's refresh step gave it back


# ---------------------------------------------------------------------------
# 2. SIGTERM before the time limit, and scontrol requeue of a running array task
# ---------------------------------------------------------------------------


def test_sigterm_and_requeue_release_their_keys(faults, faults_slurm):
    sbatch = (faults_slurm / "w0-work" / "work.sbatch").read_text()
    assert "#SBATCH --signal=B:TERM@60\n" in sbatch and "#SBATCH --requeue\n" in sbatch
    f = faults(keys=3, sleep=1.5)
    ids = f.submit()
    workers_job = ids["Work"][0]
    busy = f.wait_in_make(2, min_age=0.2)
    first, second = sorted(busy.values(), key=lambda a: a["job_id"])

    # SIGTERM to the batch shell only, as --signal=B:TERM@60 sends it 60 s before the time limit: the job
    # script forwards it to the runner, which aborts make(), gives its key back and exits 143.
    slurm(f.env, "scancel", "--batch", "--signal=TERM", first["job_id"])
    wait_until(lambda: f.statuses().get(first["item"]) == "pending", 30, "the terminated worker's key to be pending")

    # Requeue the other task while it is in make() (its current key, or the next one it took).
    other = wait_until(lambda: [a for a in f.in_make(min_age=0.2).values() if a["job_id"] == second["job_id"]],
                       30, "the other worker in make()")[0]
    slurm(f.env, "scontrol", "requeue", other["job_id"])
    wait_until(lambda: "PENDING" in slurm(f.env, "squeue", "-h", "-j", other["job_id"], "-o", "%T"), 30,
               "the requeued task to be pending")
    assert f.statuses().get(other["item"]) == "pending", f.statuses()   # released by the runner on SIGTERM
    slurm_cluster.start_requeued(other["job_id"], f.env)

    states = wait(f.env, ids)
    workers = tasks(states)
    assert workers[task_of(first["job_id"])]["JobState"] == "FAILED", workers
    assert workers[task_of(first["job_id"])]["ExitCode"] == "143:0", workers
    requeued = workers[task_of(other["job_id"])]
    assert requeued["JobState"] == "COMPLETED" and requeued["Restarts"] == "1", (
        requeued, f.logs(workers_job, task_of(other["job_id"])))
    f.assert_each_key_once([first["attempt"], other["attempt"]])
    terminated = f.summaries()["faults-work_%s_%d.out" % (workers_job, task_of(first["job_id"]))]
    assert [s["status"] for s in terminated] == ["terminated"], terminated


# ---------------------------------------------------------------------------
# 3. the database restarted while workers run
# ---------------------------------------------------------------------------


class Database:
    """The MariaDB server at the environment's DJ_HOST, managed by scripts/db/up.sh (same DJFLOW_STATE)."""

    def __init__(self, env):
        self.env = env
        pid_file, port = sql(env, "SELECT @@pid_file, @@port")[0]
        state = pathlib.Path(os.environ.get("DJFLOW_STATE") or REPO / ".state") / "db"
        if pathlib.Path(pid_file).resolve() != (state / "mariadb.pid").resolve():
            pytest.skip("the database at %s (pid file %s) is not the one scripts/db/up.sh manages in %s"
                        % (env["DJ_HOST"], pid_file, state))
        assert env["DJ_HOST"].endswith(":%d" % port), (env["DJ_HOST"], port)
        self.pid_file = pathlib.Path(pid_file)
        self.down = False

    def stop(self, how=signal.SIGTERM):
        """SIGTERM: a clean shutdown, as a restart by an operator; SIGKILL: a crash."""
        pid = int(self.pid_file.read_text())
        self.down = True
        os.kill(pid, how)

        def gone():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            # a zombie main thread is gone only once its other threads are (they hold the port until then)
            zombie = pathlib.Path("/proc/%d/stat" % pid).read_text().rpartition(")")[2].split()[0] == "Z"
            return zombie and len(os.listdir("/proc/%d/task" % pid)) <= 1
        wait_until(gone, 60, "mariadbd %d to stop" % pid)

    def start(self):
        env = testdb.start()   # scripts/db/up.sh: same state folder, port and password
        assert env["DJ_HOST"] == self.env["DJ_HOST"] and env["DJ_PASS"] == self.env["DJ_PASS"]
        self.down = False


def test_database_restart_workers_exit_75_and_retry(faults, cluster_env):
    db = Database(cluster_env)
    squatters, suspended = [], []
    try:
        db.stop(signal.SIGKILL)   # connection ids from 1: the dead workers' ids are taken again below
        db.start()
        while True:   # the workers' ids come after these, above the few that scripts/db/up.sh takes
            conn = testdb.connect(cluster_env)
            conn.close()
            if conn.thread_id() >= 20:
                break
        f = faults(keys=2, sleep=3)
        ids = f.submit()
        workers_job = ids["Work"][0]
        busy = f.wait_in_make(2, max_age=1.5)   # both workers well inside their 3 s make()
        held = f.reserved()
        assert sorted(held) == sorted(busy), (held, busy)

        db.stop()
        err = {task: f.run / "logs" / ("faults-work_%s_%d.err" % (workers_job, task)) for task in (0, 1)}
        wait_until(lambda: all(p.exists() and "djflow: exit 75; retry" in p.read_text() for p in err.values()),
                   30, "both workers to exit 75 and be retried")
        worker_tasks = ["%s_%d" % (workers_job, task) for task in (0, 1)]
        for task in worker_tasks:   # hold the retries until the dead workers' connection ids are taken
            slurm(f.env, "scontrol", "suspend", task)
            suspended.append(task)
        db.start()
        stale = sorted(connection for connection, _pid in held.values())
        assert stale[-1] < 400, "connection ids too high to take them all again: %s" % stale
        while not squatters or squatters[-1].thread_id() < stale[-1]:
            squatters.append(testdb.connect(f.env))
        assert all(connection_live(f.env, c) for c in stale), stale
        while suspended:
            slurm(f.env, "scontrol", "resume", suspended.pop())

        states = wait(f.env, ids)
        assert all(t["JobState"] == "COMPLETED" for jobs in states.values() for t in jobs), states
        f.assert_each_key_once([a["attempt"] for a in busy.values()])
        logs = f.summaries()
        for task in (0, 1):   # exit 75 (transient), retried by the job script, then done
            lines = logs["faults-work_%s_%d.out" % (workers_job, task)]
            assert lines[0]["status"] == "transient" and lines[-1]["status"] == "ok", lines
        reclaimed = sum(s["reclaimed"] or 0 for lines in logs.values() for s in lines)
        assert reclaimed == len(held), logs
    finally:
        if db.down:
            db.start()
        for task in suspended:
            subprocess.run(["scontrol", "resume", task], env=cluster_env, capture_output=True)
        for conn in squatters:
            conn.close()


# ---------------------------------------------------------------------------
# 4. two submissions of the same workflow at once
# ---------------------------------------------------------------------------


def test_two_submissions_at_once_compute_each_key_once(faults):
    f = faults(keys=8, sleep=1)
    procs = [subprocess.Popen(["bash", str(f.script)], cwd=f.run, env=f.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    ids = collections.defaultdict(list)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        for line in out.splitlines()[1:]:
            label, job = line.rsplit(None, 1)
            ids[label.strip()].append(job)
    assert len(ids["Work"]) == 2, ids
    states = wait(f.env, ids)
    assert all(t["JobState"] == "COMPLETED" for jobs in states.values() for t in jobs), states
    f.assert_each_key_once([])
    submissions = {a["job_id"].partition("_")[0] for a in f.attempts()}
    assert submissions == set(ids["Work"]), "the workers of both submissions made keys: %s" % f.attempts()
