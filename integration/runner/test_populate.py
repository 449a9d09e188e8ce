"""The populate runner against a real MariaDB with real DataJoint (2.3.5 or 0.14.10).

Every test runs Templates/runner/djflow_populate.py as a subprocess in a fresh
schema staged by Samples/*/stage.py, then checks the exit code, the one JSON
summary line, the database and the sample make() log.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import conftest
import testdb
from conftest import DJ2, DJ_VERSION, free_port, only_dj2, wait_for

ALL_RECORDINGS = 8  # stage.py initial: 2 subjects x 2 sessions x 2 insertions
CHANNELS = 4 * 4 + 2 * 4  # 4 neuropixels insertions x 4 channels + 4 tetrode insertions x 2


def key_tuple(key):
    return tuple(sorted(key.items()))


def assert_summary(res, **expected):
    s = res.summary
    for field in ("table", "success_count", "error_count", "seconds", "job_id", "worker", "datajoint", "status",
                  "errors"):
        assert field in s, "summary lacks %r: %s" % (field, s)
    assert s["datajoint"] == DJ_VERSION
    for k, v in expected.items():
        assert s[k] == v, "summary[%r] = %r, expected %r (rc=%s)\nstderr tail:\n%s" % (
            k, s[k], v, res.rc, res.stderr[-3000:])


# ---------------------------------------------------------------------------
# happy path
# ---------------------------------------------------------------------------


def test_full_populate_workflow0(ephys):
    ephys.stage("initial")
    env = {"DJFLOW_JOB_ID": "4242_7"}
    res = ephys.run("--table", "Recording", "--worker", "1/1", env=env)
    assert res.rc == 0, res
    assert_summary(res, table="Recording", success_count=ALL_RECORDINGS, error_count=0, status="ok",
                   job_id="4242_7", worker="1/1", errors=[], remaining=ALL_RECORDINGS, total=ALL_RECORDINGS)
    assert isinstance(res.summary["seconds"], float) and res.summary["seconds"] > 0
    assert res.summary["full_table_name"] == ephys.q("_recording")
    if DJ2:
        assert res.summary["refresh"]["added"] == ALL_RECORDINGS  # single worker refreshes the queue itself
    assert ephys.count("_recording") == ALL_RECORDINGS
    assert ephys.count("_recording__channel") == CHANNELS  # parts filled by the master's make()

    res = ephys.run("--table", "LFP", env=env)
    assert res.rc == 0, res
    assert_summary(res, table="LFP", success_count=ALL_RECORDINGS, error_count=0, status="ok")
    assert ephys.count("__l_f_p") == ALL_RECORDINGS

    # the make() log: every key exactly once, all LFP after all Recording, job id passed through
    rec, lfp = ephys.made("Recording"), ephys.made("LFP")
    assert len(rec) == len({key_tuple(r["key"]) for r in rec}) == ALL_RECORDINGS
    assert len(lfp) == len({key_tuple(r["key"]) for r in lfp}) == ALL_RECORDINGS
    assert max(r["end"] for r in rec) <= min(r["start"] for r in lfp)
    assert {r["job_id"] for r in rec + lfp} == {"4242_7"}

    # nothing left: a rerun is a successful no-op, and no job rows linger
    res = ephys.run("--table", "Recording")
    assert res.rc == 0 and res.summary["success_count"] == 0 and res.summary["remaining"] == 0, res
    assert [r for r in ephys.job_rows("_recording") if r["status"] != "success"] == []


def test_max_calls_and_processes(ephys):
    ephys.stage("initial")
    res = ephys.run("--table", "Recording", "--max-calls", "3")
    assert res.rc == 0 and res.summary["success_count"] == 3, res
    # make() takes a moment, so that the second pool process gets keys before the first one took them all
    res = ephys.run("--table", "Recording", "--processes", "2", env={"DJFLOW_SAMPLE_SLEEP": "0.3"})
    assert res.rc == 0 and res.summary["success_count"] == ALL_RECORDINGS - 3, res
    rec = ephys.made("Recording")
    assert len({key_tuple(r["key"]) for r in rec}) == len(rec) == ALL_RECORDINGS
    assert len({r["pid"] for r in rec[3:]}) == 2, "expected the two pool processes to share the keys"


def test_tutorial_pipeline(tutorial):
    tutorial.stage("initial")
    for table, n in (("Neuron", 6), ("ActivityStatistics", 18), ("Spikes", 36)):
        res = tutorial.run("--table", table, *(["--processes", "2"] if table == "Spikes" else []))
        assert res.rc == 0, res
        assert_summary(res, table=table, success_count=n, error_count=0, status="ok")
    assert tutorial.count("_neuron") == 18  # 6 sessions x 3 neurons, one make() per session
    assert tutorial.count("__spikes") == 36


# ---------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------


def test_failing_key_exit_1(ephys):
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--table", "Recording")
    assert res.rc == 1, res
    assert_summary(res, success_count=ALL_RECORDINGS, error_count=1, status="errors")
    assert "RuntimeError" in res.summary["errors"][0] and "corrupt" in res.summary["errors"][0]
    assert res.summary["error_keys"] == [{"subject": "mouse1", "session_id": 99, "insertion_number": 1}]
    assert ephys.count("_recording") == ALL_RECORDINGS  # every other key was attempted and done
    errors = [r for r in ephys.job_rows("_recording") if r["status"] == "error"]
    assert len(errors) == 1 and errors[0]["error_message"].startswith("RuntimeError")

    # the error stays in the jobs table: a rerun does not retry it (DataJoint semantics), and it still
    # fails, because the table is not done (integration/runner/test_job_health.py has the details)
    res = ephys.run("--table", "Recording")
    assert res.rc == 1 and res.summary["success_count"] == 0 and res.summary["remaining"] == 1, res
    assert res.summary["error_count"] == 0 and res.summary["scope_errors"]["count"] == 1, res


def test_clear_errors_retries_failed_keys(ephys, tmp_path):
    """A retry attempt (--clear-errors) gives the failed key back to the queue and attempts it again."""
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--table", "Recording")
    assert res.rc == 1 and res.summary["error_count"] == 1, res
    res = ephys.run("--table", "Recording", "--clear-errors")
    assert res.rc == 1, res
    assert res.summary["cleared_errors"] == 1 and res.summary["error_count"] == 1, res
    assert len([r for r in ephys.job_rows("_recording") if r["status"] == "error"]) == 1
    # Restricted to other keys, the error row stays where it is.
    res = ephys.run("--table", "Recording", "--clear-errors", "--restriction", '{"subject": "mouse2"}')
    assert res.rc == 0 and res.summary["cleared_errors"] == 0, res
    assert len([r for r in ephys.job_rows("_recording") if r["status"] == "error"]) == 1


def test_suppress_errors_exit_0(ephys):
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--table", "Recording", "--suppress-errors")
    assert res.rc == 0, res
    assert_summary(res, success_count=ALL_RECORDINGS, error_count=1, status="errors")
    assert len([r for r in ephys.job_rows("_recording") if r["status"] == "error"]) == 1


@pytest.mark.parametrize("args, fragment", [
    (["--table", "NoSuchTable"], "unknown table"),
    (["--table", "Subject"], "only Imported/Computed"),
    (["--table", "Recording.Channel"], "run --table Recording"),
    (["--table", "LFP", "--restriction", "{not json"], "not valid JSON"),
    (["--table", "LFP", "--restriction", "42"], "must be a JSON object"),
    (["--table", "LFP", "--restriction", '{"subjet": "mouse1"}'], "subjet"),
    (["--table", "LFP", "--restriction", '"no_such_column = 1"'], "cannot be applied"),
    (["--table", "LFP", "--max-calls", "zero"], "max-calls"),
    (["--restriction", "{}"], "--table"),
], ids=["unknown-table", "manual-table", "part-table", "bad-json", "json-number", "unknown-attribute",
        "bad-sql", "bad-int", "missing-table"])
def test_usage_errors_exit_2(ephys, args, fragment):
    ephys.stage("initial")
    res = ephys.run(*args)
    assert res.rc == 2, res
    assert_summary(res, status="usage", success_count=0)
    assert fragment in res.summary["errors"][0], res.summary
    assert ephys.count("_recording") == 0


def test_bad_module_exit_2(ephys):
    res = ephys.run("--table", "Recording", module="no_such_pipeline_module")
    assert res.rc == 2, res
    assert res.summary["status"] == "usage" and "no_such_pipeline_module" in res.summary["errors"][0]


def test_module_with_broken_import_exit_2(ephys):
    (ephys.tmp_path / "broken_pipeline.py").write_text("import ephys_pipeline\nraise ValueError('boom')\n")
    res = ephys.run("--table", "LFP", module="broken_pipeline")
    assert res.rc == 2 and "boom" in res.summary["errors"][0], res


def test_database_unreachable_exit_75(ephys):
    res = ephys.run("--table", "Recording", env={"DJ_HOST": "127.0.0.1:%d" % free_port()})
    assert res.rc == 75, res
    assert_summary(res, status="transient", success_count=0)
    if conftest.PG:
        assert "Connection refused" in res.summary["errors"][0], res.summary  # psycopg2 OperationalError
    else:
        assert "2003" in res.summary["errors"][0]  # Can't connect to MySQL server


def test_wrong_password_is_not_transient(ephys):
    res = ephys.run("--table", "Recording", env={"DJ_PASS": "definitely-wrong"})
    assert res.rc == 2, res
    fragment = "password authentication failed" if conftest.PG else "1045"
    assert res.summary["status"] == "usage" and fragment in res.summary["errors"][0], res


# ---------------------------------------------------------------------------
# SIGTERM
# ---------------------------------------------------------------------------


def _reserved(ephys, n=1):
    return len([r for r in ephys.job_rows("_recording") if r["status"] == "reserved"]) >= n


def test_sigterm_during_make_releases_key(ephys):
    ephys.stage("initial")
    key = {"subject": "mouse2", "session_id": 2, "insertion_number": 1}
    restriction = json.dumps(key)
    proc = ephys.start("--table", "Recording", "--restriction", restriction, env={"DJFLOW_SAMPLE_SLEEP": "60"})
    wait_for(lambda: _reserved(ephys), timeout=60, what="the key to be reserved (make() running)")
    time.sleep(0.3)  # inside make()'s sleep
    t = time.time()
    proc.send_signal(signal.SIGTERM)
    res = ephys.finish(proc, timeout=60)
    assert time.time() - t < 20
    assert res.rc == 143, res
    assert_summary(res, status="terminated", success_count=0)
    assert "SIGTERM" in res.summary["errors"][0]

    rows = ephys.job_rows("_recording")
    assert [r for r in rows if r["status"] in ("error", "reserved")] == [], rows
    if DJ2:
        assert [r["status"] for r in rows] == ["pending"]  # re-pended: even --no-refresh workers retry it
    else:
        assert rows == []  # 0.14: the row is deleted, so the key is "to do" again
    assert ephys.count("_recording") == 0  # make() rolled back

    res = ephys.run("--table", "Recording", "--restriction", restriction, *(["--no-refresh"] if DJ2 else []))
    assert res.rc == 0 and res.summary["success_count"] == 1, res
    assert [r["key"] for r in ephys.made("Recording")] == [key]


def test_key_released_when_a_repeated_signal_cuts_the_rollback_short(ephys):
    """Under SLURM a worker gets SIGTERM more than once (slurmstepd signals every process of the step, and a
    pool's parent forwards its own). DataJoint's handler raises on each, so a second one can land in
    populate()'s clean-up before the rollback of make()'s transaction (seen in a requeue on the SLURM
    cluster). The runner must still give the key back: its release must not run inside that transaction,
    which the server rolls back when the process exits."""
    ephys.stage("initial")
    wrapper = ephys.tmp_path / "twice_pipeline.py"
    wrapper.write_text(
        "import os, signal, time\n"
        "import datajoint as dj\n"
        "_rollback, _fired = dj.Connection.cancel_transaction, []\n"
        "def cancel_transaction(self):\n"
        "    if not _fired:  # the repeated signal lands before the first rollback is sent\n"
        "        _fired.append(1)\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(5)\n"
        "    _rollback(self)\n"
        "dj.Connection.cancel_transaction = cancel_transaction\n"
        "from ephys_pipeline import *\n")
    key = {"subject": "mouse2", "session_id": 2, "insertion_number": 1}
    restriction = json.dumps(key)
    proc = ephys.start("--table", "Recording", "--restriction", restriction, module="twice_pipeline",
                       env={"DJFLOW_SAMPLE_SLEEP": "60"})
    wait_for(lambda: _reserved(ephys), timeout=60, what="the key to be reserved (make() running)")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    res = ephys.finish(proc, timeout=60)
    assert res.rc == 143 and res.summary["status"] == "terminated", res
    assert "released 1 job row(s)" in res.stderr, res.stderr[-3000:]
    rows = ephys.job_rows("_recording")
    assert [r for r in rows if r["status"] == "reserved"] == [], rows
    assert ephys.count("_recording") == 0  # make()'s insert was rolled back

    res = ephys.run("--table", "Recording", "--restriction", restriction, *(["--no-refresh"] if DJ2 else []))
    assert res.rc == 0 and res.summary["success_count"] == 1, res


def test_sigterm_with_pool_processes(ephys):
    """SLURM signals the whole job step: the runner and its pool processes all get SIGTERM."""
    ephys.stage("initial")
    proc = ephys.start("--table", "Recording", "--processes", "2", env={"DJFLOW_SAMPLE_SLEEP": "60"})
    try:
        wait_for(lambda: _reserved(ephys, 2), timeout=60, what="two keys reserved by the pool")
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)
        res = ephys.finish(proc, timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert res.rc == 143, res
    rows = ephys.job_rows("_recording")
    assert [r for r in rows if r["status"] in ("error", "reserved")] == [], rows
    res = ephys.run("--table", "Recording")
    assert res.rc == 0 and res.summary["success_count"] == ALL_RECORDINGS, res


def test_sigterm_before_populate_exit_143(ephys):
    """A signal while still importing/connecting: nothing reserved, exit 143."""
    ephys.stage("initial")
    slow = ephys.tmp_path / "slow_pipeline.py"
    slow.write_text("import time\ntime.sleep(30)\nfrom ephys_pipeline import *\n")
    proc = ephys.start("--table", "LFP", module="slow_pipeline")
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    res = ephys.finish(proc, timeout=30)
    assert res.rc == 143 and res.summary["status"] == "terminated", res


def test_sigterm_swallowed_by_an_import_still_stops_the_job(ephys):
    """DataJoint 0.14 imports matplotlib under a bare ``except:``, which swallows the SystemExit the runner's
    SIGTERM handler raises (a pipeline module may do the same): the runner still stops, before reserving
    anything, with exit 143."""
    ephys.stage("initial")
    greedy = ephys.tmp_path / "greedy_pipeline.py"
    greedy.write_text("import time\ntry:\n    time.sleep(30)\nexcept BaseException:\n    pass\n"
                      "from ephys_pipeline import *\n")
    proc = ephys.start("--table", "LFP", module="greedy_pipeline")
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    res = ephys.finish(proc, timeout=30)
    assert res.rc == 143 and res.summary["status"] == "terminated", res
    assert res.summary["success_count"] == 0 and ephys.count("__l_f_p") == 0, res
    assert [r for r in ephys.job_rows("__l_f_p") if r["status"] == "reserved"] == []


def _catches(pid, signum):
    """Whether process pid runs a handler for signum (else the default action or ignore applies)."""
    with open("/proc/%d/status" % pid) as f:
        caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signum - 1)))


def test_pool_worker_waiting_for_work_dies_on_sigterm_at_once(ephys):
    """Pool.terminate() stops idle workers with SIGTERM while it holds the task queue's lock. A worker that
    handles SIGTERM in Python can miss it right before it blocks on that lock and then wait forever, and the
    job with it (seen on PostgreSQL about once in ten runs). So a worker leaves SIGTERM to its default action
    while it waits for work, and raises it (DataJoint's contract: the key is rolled back and released) only
    while it runs a key."""
    ephys.stage("initial")
    marker = ephys.tmp_path / "slow_key"
    (ephys.tmp_path / "one_slow_pipeline.py").write_text(
        "import os, time\n"
        "import ephys_pipeline\n"
        "from ephys_pipeline import *\n"
        "_make = ephys_pipeline.Recording.make\n"
        "def make(self, key):\n"
        "    try:\n"
        "        fd = os.open(%r, os.O_CREAT | os.O_EXCL | os.O_WRONLY)\n"
        "    except FileExistsError:\n"
        "        return _make(self, key)\n"
        "    os.write(fd, str(os.getpid()).encode()); os.close(fd)\n"
        "    time.sleep(120)\n"
        "ephys_pipeline.Recording.make = make\n" % str(marker))
    proc = ephys.start("--table", "Recording", "--processes", "2", module="one_slow_pipeline")
    wait_for(lambda: len(ephys.made("Recording")) == ALL_RECORDINGS - 1, timeout=90,
             what="every key but the slow one")
    busy = int(marker.read_text())
    with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
        idle = [int(p) for p in f.read().split() if int(p) != busy]
    assert len(idle) == 1, idle
    assert not _catches(idle[0], signal.SIGTERM), "a worker waiting for work must die on SIGTERM"
    assert _catches(busy, signal.SIGTERM), "a worker running a key must turn SIGTERM into SystemExit"
    proc.send_signal(signal.SIGTERM)
    res = ephys.finish(proc, timeout=60)
    assert res.rc == 143 and res.summary["status"] == "terminated", res
    assert ephys.count("_recording") == ALL_RECORDINGS - 1
    assert [r for r in ephys.job_rows("_recording") if r["status"] in ("reserved", "error")] == []


# ---------------------------------------------------------------------------
# concurrency: refresh once, then parallel workers
# ---------------------------------------------------------------------------


def test_refresh_only_then_two_no_refresh_workers(ephys):
    ephys.stage("initial")
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0, res
    assert_summary(res, success_count=0, error_count=0, status="ok")
    assert ephys.count("_recording") == 0
    if DJ2:
        assert res.summary["refresh"]["added"] == ALL_RECORDINGS
        assert Counter(r["status"] for r in ephys.job_rows("_recording")) == {"pending": ALL_RECORDINGS}
    else:
        assert res.summary["refresh"] is None and "no-op" in " ".join(res.summary["notes"])

    # a key that appears after the refresh step: --no-refresh workers must not see it (2.x)
    ephys.query("INSERT INTO %s (subject, session_id, insertion_number, probe_type) "
                "VALUES ('mouse1', 1, 3, 'tetrode')" % ephys.q("probe_insertion"))

    env = {"DJFLOW_SAMPLE_SLEEP": "0.5"}
    workers = [ephys.start("--table", "Recording", "--no-refresh", "--worker", "%d/2" % i,
                           env=dict(env, DJFLOW_JOB_ID="99_%d" % i)) for i in (1, 2)]
    results = [ephys.finish(w) for w in workers]
    for i, r in enumerate(results, 1):
        assert r.rc == 0, r
        assert r.summary["worker"] == "%d/2" % i and r.summary["job_id"] == "99_%d" % i
        assert r.summary["refresh"] is None  # the workers did not refresh
    counts = [r.summary["success_count"] for r in results]
    assert all(c > 0 for c in counts), counts  # the keys were split across both workers ...

    rec = ephys.made("Recording")
    keys = [key_tuple(r["key"]) for r in rec]
    assert len(keys) == len(set(keys)), "a key was made twice"  # ... without duplicates
    assert {r["job_id"] for r in rec} == {"99_1", "99_2"}
    assert len({r["pid"] for r in rec}) == 2
    new_key = {"subject": "mouse1", "session_id": 1, "insertion_number": 3}
    if DJ2:
        assert sum(counts) == ALL_RECORDINGS
        assert new_key not in [r["key"] for r in rec]  # queue was refreshed exactly once, before the workers
        res = ephys.run("--table", "Recording")  # a refreshing run picks the late key up
        assert res.rc == 0 and res.summary["success_count"] == 1 and res.summary["refresh"]["added"] == 1, res
    else:
        assert sum(counts) == ALL_RECORDINGS + 1  # 0.14 workers look up their keys themselves
    assert ephys.count("_recording") == ALL_RECORDINGS + 1


def test_workers_started_together_on_a_fresh_table(ephys):
    """Three refreshing workers start at once on a table whose jobs table does not exist yet (no refresh
    step before them). On PostgreSQL their concurrent declarations of the jobs table race (one fails in
    CREATE TABLE or CREATE INDEX); the runner finds the table declared by the winner and goes on."""
    ephys.stage("initial")
    assert ephys.job_rows("_recording") == []
    # the workers leave their (slow) imports at the same moment, so that they declare together
    (ephys.tmp_path / "together_pipeline.py").write_text(
        "import os, time\nfrom ephys_pipeline import *  # noqa\n"
        "time.sleep(max(0.0, float(os.environ['START_AT']) - time.time()))\n")
    start_at = str(time.time() + 6)
    workers = [ephys.start("--table", "Recording", "--worker", "%d/3" % i, module="together_pipeline",
                           env={"DJFLOW_SAMPLE_SLEEP": "0.3", "DJFLOW_JOB_ID": "77_%d" % i, "START_AT": start_at})
               for i in (1, 2, 3)]
    results = [ephys.finish(w) for w in workers]
    for r in results:
        assert r.rc == 0 and r.summary["status"] == "ok", r
    assert sum(r.summary["success_count"] for r in results) == ALL_RECORDINGS
    keys = [key_tuple(r["key"]) for r in ephys.made("Recording")]
    assert len(keys) == len(set(keys)) == ALL_RECORDINGS, "a key was made twice or not at all"
    assert ephys.count("_recording") == ALL_RECORDINGS


@only_dj2
def test_priority_and_orphan_timeout(ephys):
    ephys.stage("initial")
    res = ephys.run("--table", "Recording", "--refresh-only", "--priority", "2",
                    "--restriction", json.dumps({"subject": "mouse1"}))
    assert res.rc == 0 and res.summary["refresh"]["added"] == 4, res
    res = ephys.run("--table", "Recording", "--refresh-only", "--priority", "7")
    assert res.rc == 0 and res.summary["refresh"]["added"] == 4, res
    # workers at priority 2 take only the urgent (mouse1) jobs
    res = ephys.run("--table", "Recording", "--no-refresh", "--priority", "2")
    assert res.rc == 0 and res.summary["success_count"] == 4, res
    assert {r["key"]["subject"] for r in ephys.made("Recording")} == {"mouse1"}

    # a worker killed with SIGKILL leaves its key reserved; the refresh step reclaims it because its
    # connection is gone (no age option needed)
    proc = ephys.start("--table", "Recording", "--no-refresh", "--max-calls", "1", env={"DJFLOW_SAMPLE_SLEEP": "60"})
    try:
        wait_for(lambda: _reserved(ephys), timeout=60, what="a reserved key")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    pg = ephys.env.get("DJ_BACKEND", "mysql").lower() in ("postgres", "postgresql")
    jobs = ('"%s"."~~recording"' if pg else "`%s`.`~~recording`") % ephys.schema
    live = "SELECT pid FROM pg_stat_activity" if pg else "SELECT ID FROM information_schema.PROCESSLIST"
    wait_for(lambda: not ephys.query("SELECT connection_id FROM %s WHERE status='reserved' AND connection_id IN (%s)"
                                     % (jobs, live)),
             timeout=30, what="the server to drop the killed worker's connection")
    assert _reserved(ephys)
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0 and res.summary["reclaimed"] == 1 and res.summary["refresh"]["orphaned"] == 0, res
    # --orphan-timeout still re-pends by age (for servers that do not list connections), even a row
    # whose connection is alive: here this test's own, reserved a few seconds ago (after the server started:
    # a row reserved before it is dead whatever its connection)
    uptime = ("SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())" if pg
              else "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='UPTIME'")
    wait_for(lambda: float(ephys.query(uptime)[0][0]) >= 6, timeout=10, what="the server to be up for 6 s")
    own = ephys.query("SELECT pg_backend_pid()" if pg else "SELECT CONNECTION_ID()")[0][0]
    key = ephys.query("SELECT subject, session_id, insertion_number FROM %s WHERE status='pending' "
                      "ORDER BY subject, session_id, insertion_number" % jobs)[0]
    ephys.query("UPDATE %s SET status='reserved', connection_id=%%s, reserved_time=%s "
                "WHERE subject=%%s AND session_id=%%s AND insertion_number=%%s"
                % (jobs, "LOCALTIMESTAMP - INTERVAL '3 seconds'" if pg else "NOW(3) - INTERVAL 3 SECOND"),
                (own,) + key)
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0 and res.summary["reclaimed"] == 0 and res.summary["refresh"]["orphaned"] == 0, res
    res = ephys.run("--table", "Recording", "--refresh-only", "--orphan-timeout", "2")
    assert res.rc == 0 and res.summary["reclaimed"] == 0 and res.summary["refresh"]["orphaned"] == 1, res
    res = ephys.run("--table", "Recording", "--no-refresh")
    assert res.rc == 0 and res.summary["success_count"] == 4, res
    assert ephys.count("_recording") == ALL_RECORDINGS


# ---------------------------------------------------------------------------
# restrictions
# ---------------------------------------------------------------------------

# quotes, backslash, percent, command substitution, backtick, unicode (13 chars; subject is varchar(16)).
# DataJoint 0.14.10 does not escape '"' in dict restrictions (nor in any key it restricts by), so
# the 0.14 run uses the same string without the double quote; DataJoint 2.3.5 doubles '\\' in dict
# restrictions on PostgreSQL too (MySQL escaping), so the PostgreSQL run has no backslash.
if conftest.PG:
    HOSTILE = "a'\"%$(id)`ü☃"
else:
    HOSTILE = "a'\"\\%$(id)`ü☃" if DJ2 else "a'\\%$(id)`ü☃"


def test_hostile_restriction_is_byte_exact(ephys):
    ephys.stage("initial")
    decoys = ["a", HOSTILE[:-1], HOSTILE.replace("$(id)", "uid=0"), "a'" + HOSTILE[1:]]
    for name in [HOSTILE] + decoys:
        ephys.query("INSERT INTO %s (subject, sex) VALUES (%%s, 'U')" % ephys.q("subject"), (name,))
        ephys.query("INSERT INTO %s (subject, session_id, session_note) VALUES (%%s, 1, 'ok')"
                    % ephys.q("session"), (name,))
        ephys.query("INSERT INTO %s (subject, session_id, insertion_number, probe_type) "
                    "VALUES (%%s, 1, 1, 'tetrode')" % ephys.q("probe_insertion"), (name,))
    restriction = json.dumps({"subject": HOSTILE}, ensure_ascii=False)

    res = ephys.run("--table", "Recording", "--restriction", restriction)
    assert res.rc == 0, res
    assert res.summary["success_count"] == 1 and res.summary["total"] == 1, res
    rows = ephys.query("SELECT subject FROM %s" % ephys.q("_recording"))
    assert [r[0] for r in rows] == [HOSTILE]
    assert [r["key"]["subject"] for r in ephys.made("Recording")] == [HOSTILE]

    # the same through a shell command line, quoted as a generated job script would
    line = " ".join(shlex.quote(a) for a in ephys.cmd("--table", "LFP", "--restriction", restriction))
    res = ephys.run_argv(["bash", "-c", line])
    assert res.rc == 0 and res.summary["success_count"] == 1, res
    assert [r["key"]["subject"] for r in ephys.made("LFP")] == [HOSTILE]


@pytest.mark.skipif(not conftest.PG, reason="DataJoint 2.3.5 quotes a backslash correctly on MySQL (byte-exact test)")
def test_backslash_value_refused_on_postgresql(ephys):
    """DataJoint 2.3.5 writes a backslash in a dict restriction as two on every backend, so on PostgreSQL
    the restriction matches nothing (and such a key is never populated): a usage error, not an empty run."""
    ephys.stage("initial", "--extra-subject", "back\\slash")
    res = ephys.run("--table", "Recording", "--restriction", json.dumps({"subject": "back\\slash"}))
    assert res.rc == 2 and "backslash" in res.summary["errors"][0], res
    assert ephys.count("_recording") == 0


@pytest.mark.skipif(DJ2, reason="DataJoint 2.x quotes '\"' correctly (covered by the byte-exact test)")
def test_double_quote_value_refused_on_014(ephys):
    ephys.stage("initial")
    res = ephys.run("--table", "Recording", "--restriction", json.dumps({"subject": 'a"b'}))
    assert res.rc == 2 and "double quote" in res.summary["errors"][0], res


def test_or_list_and_sql_restrictions(ephys):
    ephys.stage("initial")
    restriction = json.dumps([{"subject": "mouse1", "session_id": 1}, "subject = 'mouse2' AND session_id = 2"])
    res = ephys.run("--table", "Recording", "--restriction", restriction)
    assert res.rc == 0 and res.summary["success_count"] == 4 and res.summary["total"] == 4, res
    got = {(r["key"]["subject"], r["key"]["session_id"]) for r in ephys.made("Recording")}
    assert got == {("mouse1", 1), ("mouse2", 2)}
    res = ephys.run("--table", "Recording", "--restriction", json.dumps("insertion_number = 2"))
    assert res.rc == 0 and res.summary["success_count"] == 2, res  # mouse1/2 and mouse2/1, insertion 2


# ---------------------------------------------------------------------------
# table resolution
# ---------------------------------------------------------------------------


def test_master_part_resolution(ephys):
    res = ephys.run("--table", "Recording.Channel", "--describe")
    assert res.rc == 0, res
    d = res.summary["describe"]
    assert d["tier"] == "part" and d["master"] == "Recording" and d["class"] == "Channel"
    assert d["full_table_name"] == ephys.q("_recording__channel")
    res = ephys.run("--table", "CuratedClustering.Unit", "--describe")
    assert res.rc == 0 and res.summary["describe"]["master"] == "CuratedClustering", res
    res = ephys.run("--table", "Recording.Channel")
    assert res.rc == 2 and "Part table" in res.summary["errors"][0], res


def test_schema_qualified_resolution(ephys):
    ephys.stage("initial")
    t = ephys.tmp_path
    (t / "combo.py").write_text("import ephys_pipeline as ephys\n")  # getattr(module, 'ephys')
    (t / "pkg").mkdir()
    (t / "pkg" / "__init__.py").write_text("")
    (t / "pkg" / "sub.py").write_text("from ephys_pipeline import Recording, LFP\n")  # module pkg.sub
    for module, table in (("combo", "ephys.Recording"), ("pkg", "sub.Recording"), ("combo", "ephys_pipeline.LFP"),
                          ("combo", "ephys.Recording.Channel")):
        r = ephys.run("--table", table, "--describe", module=module)
        assert r.rc == 0, (module, table, r)
        assert r.summary["describe"]["class"] == table.split(".")[-1]
        assert r.summary["full_table_name"].startswith(testdb.quote(ephys.env, ephys.schema) + ".")
    # and a real populate through a schema-qualified name
    r = ephys.run("--table", "sub.Recording", module="pkg")
    assert r.rc == 0 and r.summary["success_count"] == ALL_RECORDINGS, r
    # unknown qualifier
    res = ephys.run("--table", "nosuchmodule.Recording")
    assert res.rc == 2 and "unknown table" in res.summary["errors"][0], res


def test_describe_reports_progress(ephys):
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--table", "Recording", "--describe", "--restriction", json.dumps({"subject": "mouse2"}))
    assert res.rc == 0, res
    d = res.summary["describe"]
    assert d["tier"] == "imported" and d["remaining"] == 4 and d["total"] == 4
    assert ephys.count("_recording") == 0


ELEMENT_MODULE = '''
import datajoint as dj

schema = dj.Schema() if hasattr(dj, "Schema") else dj.schema()   # deferred: activated by the workflow


def activate(name, linking_module=None):
    schema.activate(name, create_schema=True, create_tables=True, add_objects=linking_module.__dict__)


@schema
class Source(dj.Manual):
    definition = """
    source_id: int
    """


@schema
class Doubled(dj.Computed):
    definition = """
    -> Source
    ---
    value: int
    """

    def make(self, key):
        self.insert1(dict(key, value=2 * key["source_id"]))
'''

WORKFLOW_MODULE = '''
import os
from mylab_element import element as element

element.activate(os.environ["DJFLOW_SAMPLE_SCHEMA"], linking_module=__import__(__name__))
'''


def test_elements_activation_runs_through_the_workflow_module(ephys):
    t = ephys.tmp_path
    (t / "mylab_element").mkdir()
    (t / "mylab_element" / "__init__.py").write_text("")
    (t / "mylab_element" / "element.py").write_text(ELEMENT_MODULE)
    (t / "mylab_workflow.py").write_text(WORKFLOW_MODULE)
    code = ("import datajoint as dj\n"
            "if not DJ2: dj.config['database.use_tls'] = False  # 0.14 reads no DJ_USE_TLS\n"
            "import mylab_workflow, mylab_element.element as e\n"
            "e.Source.insert([(1,), (2,), (3,)])\n").replace("DJ2", repr(DJ2))
    proc = subprocess.run([sys.executable, "-c", code], env=ephys.env, cwd=str(t),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # what djflow generates for an element table: import the activating module, resolve by full path
    r = ephys.run("--table", "mylab_element.element.Doubled", module="mylab_workflow")
    assert r.rc == 0 and r.summary["success_count"] == 3, r
    assert r.summary["full_table_name"] == ephys.q("__doubled"), r
    assert sorted(v for (v,) in ephys.query("SELECT value FROM %s" % ephys.q("__doubled"))) == [2, 4, 6]
    # several runner modules: all imported, in order
    r = ephys.run("--table", "mylab_element.element.Doubled", module="mylab_element.element,mylab_workflow")
    assert r.rc == 0 and r.summary["success_count"] == 0, r


def test_a_table_never_activated_is_a_usage_error_naming_runner_module(ephys):
    t = ephys.tmp_path
    (t / "mylab_element").mkdir()
    (t / "mylab_element" / "__init__.py").write_text("")
    (t / "mylab_element" / "element.py").write_text(ELEMENT_MODULE)
    # the bug users met: only the defining module is imported, nothing activates its schema
    r = ephys.run("--table", "Doubled", module="mylab_element.element")
    assert r.rc == 2, r
    message = r.summary["errors"][0]
    assert "not declared" in message and "mylab_element.element" in message and "runner.module" in message, message
    assert r.summary["status"] == "usage"
    r = ephys.run("--table", "mylab_element.element.Doubled", module="mylab_element.element")
    assert r.rc == 2 and "runner.module" in r.summary["errors"][0], r
