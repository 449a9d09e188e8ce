"""Job health (issue #10, points 1 and 2), on a real MariaDB with DataJoint 2.3.5 or 0.14.10.

1. A job succeeds only when its table is done in scope: error rows of keys within the
   restriction, left by this run or an earlier one, fail it (exit 1) and are listed in the
   summary's scope_errors, unless --suppress-errors; --clear-errors gives them back.
2. Reservations of dead workers are reclaimed by connection liveness (no age option): a worker
   killed with SIGKILL leaves a reserved row whose connection is gone, and the next job or refresh
   step gives it back; a live worker's reservation (also of pool processes) is never touched.
"""

import importlib.util
import json
import os
import signal
import time

import pytest

import testdb
from conftest import DJ2, RUNNER_TEMPLATE, wait_for

ALL_RECORDINGS = 8
FAILING_KEY = {"subject": "mouse1", "session_id": 99, "insertion_number": 1}  # stage.py --with-failure


def key_tuple(key):
    return tuple(sorted(key.items()))


def postgres(env):
    return env.get("DJ_BACKEND", "mysql").lower() in ("postgres", "postgresql")


def qname(ephys, table_name):
    return ('"%s"."%s"' if postgres(ephys.env) else "`%s`.`%s`") % (ephys.schema, table_name)


def jobs_table(ephys, table_name):
    if DJ2:
        return qname(ephys, "~~" + table_name.lstrip("_")), "TRUE", ()
    return qname(ephys, "~jobs"), "table_name=%s", (table_name,)


def reserved(ephys, table_name="_recording"):
    """connection ids of the table's reserved job rows."""
    table, where, args = jobs_table(ephys, table_name)
    try:
        rows = ephys.query("SELECT connection_id FROM %s WHERE %s AND status='reserved'" % (table, where), args)
    except Exception as e:
        if "doesn't exist" in str(e) or "does not exist" in str(e):
            return []
        raise
    return [r[0] for r in rows]


def connection_alive(ephys, connection_id):
    sql = ("SELECT COUNT(*) FROM pg_stat_activity WHERE pid=%s" if postgres(ephys.env)
           else "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID=%s")
    return bool(ephys.query(sql, (connection_id,))[0][0])


def kill_when_reserved(ephys, proc, table_name="_recording", n=1):
    """SIGKILL the runner's process group once it holds n reservations (inside make()); return their
    connection ids after the server has dropped the connections."""
    try:
        ids = wait_for(lambda: len(reserved(ephys, table_name)) >= n and reserved(ephys, table_name),
                       timeout=60, what="%d reserved row(s) (make() running)" % n)
        time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()  # reaped: no zombie that could look alive
    wait_for(lambda: not any(connection_alive(ephys, c) for c in ids), timeout=30,
             what="the server to drop the killed worker's connection")
    assert sorted(reserved(ephys, table_name)) == sorted(ids)  # SIGKILL: the rows stay reserved
    return ids


def assert_each_key_once(ephys, table, n):
    made = ephys.made(table)
    keys = [key_tuple(r["key"]) for r in made]
    assert len(keys) == len(set(keys)) == n, made


# ---------------------------------------------------------------------------
# 1. errors within the scope fail the job
# ---------------------------------------------------------------------------


def test_error_left_by_an_earlier_run_fails_later_runs_until_cleared(ephys):
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--table", "Recording")
    assert res.rc == 1 and res.summary["error_count"] == 1, res
    assert res.summary["scope_errors"]["count"] == 1, res

    # A later plain run has nothing to do (populate() skips error rows), but the table is not done.
    res = ephys.run("--table", "Recording")
    assert res.rc == 1, res
    s = res.summary
    assert (s["status"], s["success_count"], s["error_count"], s["remaining"]) == ("errors", 0, 0, 1), s
    found = s["scope_errors"]
    assert found["count"] == 1 and found["keys"] == [FAILING_KEY], found
    assert found["messages"][0].startswith("RuntimeError") and "corrupt" in found["messages"][0], found

    # The scope is the restriction: a dict, and an SQL string that leaves the failing key out.
    res = ephys.run("--table", "Recording", "--restriction", json.dumps({"subject": "mouse1", "session_id": 99}))
    assert res.rc == 1 and res.summary["scope_errors"]["keys"] == [FAILING_KEY], res
    for outside in ({"subject": "mouse2"}, "session_id < 99"):
        res = ephys.run("--table", "Recording", "--restriction", json.dumps(outside))
        assert res.rc == 0 and res.summary["status"] == "ok", (outside, res)
        assert res.summary["scope_errors"] == {"count": 0, "messages": [], "keys": []}, res

    # on_error: continue
    res = ephys.run("--table", "Recording", "--suppress-errors")
    assert res.rc == 0 and res.summary["status"] == "errors" and res.summary["scope_errors"]["count"] == 1, res
    # the refresh step does not fail on errors
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0 and res.summary["status"] == "ok" and res.summary["scope_errors"] is None, res
    # a key parked on purpose (DataJoint's 'ignore' status) does not fail the job
    table, where, args = jobs_table(ephys, "_recording")
    set_status = "UPDATE %s SET status=%%s WHERE %s AND status=%%s" % (table, where)
    ephys.query(set_status, ("ignore",) + args + ("error",))
    res = ephys.run("--table", "Recording")
    assert res.rc == 0 and res.summary["status"] == "ok" and res.summary["scope_errors"]["count"] == 0, res
    ephys.query(set_status, ("error",) + args + ("ignore",))

    # The input is fixed; a retry attempt (--clear-errors) gives the row back and the job succeeds.
    ephys.query("UPDATE %s SET session_note='fixed' WHERE subject='mouse1' AND session_id=99"
                % qname(ephys, "session"))
    res = ephys.run("--table", "Recording", "--clear-errors")
    assert res.rc == 0 and res.summary["status"] == "ok", res
    assert res.summary["cleared_errors"] == 1 and res.summary["success_count"] == 1, res
    assert res.summary["scope_errors"]["count"] == 0, res
    assert_each_key_once(ephys, "Recording", ALL_RECORDINGS + 1)
    assert [r for r in ephys.job_rows("_recording") if r["status"] == "error"] == []


# ---------------------------------------------------------------------------
# 2. reservations of dead workers
# ---------------------------------------------------------------------------


def test_worker_killed_with_sigkill_is_reclaimed_without_an_age_option(ephys):
    ephys.stage("initial")
    proc = ephys.start("--table", "Recording", env={"DJFLOW_SAMPLE_SLEEP": "60"})
    kill_when_reserved(ephys, proc)

    # the next job reclaims the row before it populates, and computes that key exactly once
    res = ephys.run("--table", "Recording")
    assert res.rc == 0, res
    assert res.summary["reclaimed"] == 1 and res.summary["success_count"] == ALL_RECORDINGS, res
    assert res.summary["notes"] == [], res
    assert ephys.count("_recording") == ALL_RECORDINGS
    assert_each_key_once(ephys, "Recording", ALL_RECORDINGS)
    assert reserved(ephys) == []

    # the refresh step reclaims too: 2.x re-pends (--no-refresh workers then take it), 0.14 deletes
    proc = ephys.start("--table", "LFP", env={"DJFLOW_SAMPLE_SLEEP": "60"})
    kill_when_reserved(ephys, proc, "__l_f_p")
    res = ephys.run("--table", "LFP", "--refresh-only")
    assert res.rc == 0 and res.summary["reclaimed"] == 1, res
    statuses = [r["status"] for r in ephys.job_rows("__l_f_p")]
    assert statuses == (["pending"] * ALL_RECORDINGS if DJ2 else []), statuses
    res = ephys.run("--table", "LFP", "--no-refresh")
    assert res.rc == 0 and res.summary["reclaimed"] == 0 and res.summary["success_count"] == ALL_RECORDINGS, res
    assert_each_key_once(ephys, "LFP", ALL_RECORDINGS)


def own_connection_id(ephys):
    return ephys.query("SELECT pg_backend_pid()" if postgres(ephys.env) else "SELECT CONNECTION_ID()")[0][0]


def date_reserved_before_the_server_started(ephys, table_name="_recording"):
    """Set the reserved rows' reservation time to an hour before the server's start, as a restart leaves a
    dead worker's rows (the server's start by its own clock: Uptime, or pg_postmaster_start_time())."""
    table, where, args = jobs_table(ephys, table_name)
    column = "reserved_time" if DJ2 else "`timestamp`"
    if postgres(ephys.env):
        start = "pg_postmaster_start_time() - interval '1 hour'"
    else:
        start = ("(SELECT NOW() - INTERVAL (VARIABLE_VALUE + 3600) SECOND FROM information_schema.GLOBAL_STATUS "
                 "WHERE VARIABLE_NAME='UPTIME')")
    ephys.query("UPDATE %s SET %s = %s WHERE %s AND status='reserved'" % (table, column, start, where), args)


def test_reservation_older_than_the_server_is_dead_whatever_its_connection_id(ephys):
    """After a restart the server gives connection ids out again from 1 (PostgreSQL: a backend pid can come
    back), so a dead worker's reserved row can name a live, unrelated connection. A row reserved before the
    server started is dead whatever its connection_id; a row reserved since, naming a live connection, is not
    touched."""
    ephys.stage("initial")
    proc = ephys.start("--table", "Recording", env={"DJFLOW_SAMPLE_SLEEP": "60"})
    kill_when_reserved(ephys, proc)
    live = own_connection_id(ephys)   # this test's connection stays open during the runs below
    table, where, args = jobs_table(ephys, "_recording")
    ephys.query("UPDATE %s SET connection_id=%%s WHERE %s AND status='reserved'" % (table, where), (live,) + args)
    assert connection_alive(ephys, live) and reserved(ephys) == [live]

    # reserved since the server started, by what is now a live connection: left alone
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0 and res.summary["reclaimed"] == 0, res
    assert reserved(ephys) == [live]

    # the same row, reserved before the server started: dead, although its connection id is live
    date_reserved_before_the_server_started(ephys)
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0 and res.summary["reclaimed"] == 1, res
    assert not [note for note in res.summary["notes"] if "reserved" in note], res
    assert reserved(ephys) == []
    statuses = [r["status"] for r in ephys.job_rows("_recording")]
    assert statuses == (["pending"] * ALL_RECORDINGS if DJ2 else []), statuses
    res = ephys.run("--table", "Recording", "--no-refresh")
    assert res.rc == 0 and res.summary["success_count"] == ALL_RECORDINGS, res
    assert_each_key_once(ephys, "Recording", ALL_RECORDINGS)


def test_server_start_is_never_after_the_real_start(db_env, runner):
    """The runner reads the server's start at whole seconds (NOW() then Uptime; pg_postmaster_start_time()),
    never later than the start the server reports in one statement, and at most a second or two earlier."""
    import datetime

    conn = testdb.connect(db_env)
    try:
        query = _query(conn)
        started = runner.server_start(query, "postgresql" if postgres(db_env) else "mysql")
        if postgres(db_env):
            real = query("SELECT pg_postmaster_start_time()")[0][0]
        else:
            real = query("SELECT NOW(6) - INTERVAL VARIABLE_VALUE SECOND FROM information_schema.GLOBAL_STATUS "
                         "WHERE VARIABLE_NAME='UPTIME'")[0][0]
        assert started.microsecond == 0 and started <= real, (started, real)
        assert real - started < datetime.timedelta(seconds=3), (started, real)
    finally:
        conn.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_live_worker_reservation_is_never_reclaimed(ephys, processes):
    """A second job starting while a worker is busy in make() leaves its rows alone. With pool
    processes, DataJoint stamps the parent's closed connection id on their rows unless the runner
    re-reads the id after the pool's reconnect."""
    ephys.stage("initial")
    mine = json.dumps({"subject": "mouse1", "session_id": 1})  # two keys (insertions 1 and 2)
    busy = ephys.start("--table", "Recording", "--restriction", mine, "--processes", str(processes),
                       env={"DJFLOW_SAMPLE_SLEEP": "10"})
    try:
        held = wait_for(lambda: len(reserved(ephys)) >= processes and reserved(ephys), timeout=60,
                        what="the busy worker's reservations")
        # each row names its worker's live connection (the pool's too), not the closed parent's one
        assert all(connection_alive(ephys, c) for c in held), held
        res = ephys.run("--table", "Recording")
        assert busy.poll() is None, "the busy worker ended before the second job: nothing was tested"
        assert sorted(reserved(ephys)) == sorted(held), "the busy worker's rows were touched"
    finally:
        first = ephys.finish(busy, timeout=120)
    assert res.rc == 0 and res.summary["reclaimed"] == 0 and res.summary["notes"] == [], res
    assert first.rc == 0, first
    assert res.summary["success_count"] + first.summary["success_count"] == ALL_RECORDINGS, (res, first)
    assert_each_key_once(ephys, "Recording", ALL_RECORDINGS)


# ---------------------------------------------------------------------------
# who can see which connections (MariaDB without the PROCESS privilege)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("djflow_populate_health", str(RUNNER_TEMPLATE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _query(conn):
    def query(sql, args=None):
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    return query


def test_connections_listed_without_process_privilege(db_env, runner):
    if postgres(db_env):
        pytest.skip("MySQL/MariaDB privilege model (pg_stat_activity lists every backend)")
    name, password = "djflow_np_%d" % os.getpid(), "np-%d" % os.getpid()
    admin = testdb.connect(db_env)
    host = db_env["DJ_HOST"].partition(":")[0]
    try:
        with admin.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@%s", (name, host))
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, host, password))  # no grants: USAGE only
        plain = testdb.connect(dict(db_env, DJ_USER=name, DJ_PASS=password))
        try:
            ids, me, visible = runner.live_connections(_query(plain), "mysql")
            assert visible == name and me in ids
            all_ids, admin_id, everyone = runner.live_connections(_query(admin), "mysql")
            assert everyone is None and {me, admin_id} <= all_ids  # the test user has PROCESS
            assert admin_id not in ids  # another user's connection is not listed without PROCESS
        finally:
            plain.close()
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@%s", (name, host))
        admin.close()


def test_judge_reservations(runner):
    live = {10, 11}
    holders = [
        (10, "dj@h1", "h1", 1, 2),      # live connection
        (12, "dj@h2", "h2", 2, 1),      # dead
        (13, "other@h2", "h2", 3, 4),   # dead, but another user's
        (0, "dj@h3", "h3", 4, 1),       # no connection id recorded
        (14, "dj@here", "here", os.getpid(), 1),  # connection gone, process still runs on this host
    ]
    assert runner.judge_reservations(holders, live, None, "here") == ({12, 13}, 1)
    assert runner.judge_reservations(holders, live, "dj", "here") == ({12}, 5)
    assert runner.judge_reservations(holders, live, "dj", "elsewhere") == ({12, 14}, 5)
