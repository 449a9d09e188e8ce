"""A one-table pipeline for the fault tests (integration/e2e/test_faults.py): every make() leaves a trace in the
database that no fault can hide.

    Item      manual    item_id
    Attempt   manual    (item_id, attempt): one row per make() call, written when make() starts on a
                        connection of its own (autocommit), so it stays when make() never commits (killed,
                        terminated, the database restarted); `started` is the database's clock
    Work      computed  -> Item; the attempt that made the row and the database's clock at its commit

A key computed once has exactly one Attempt row, and Work names it. A key whose make() was interrupted has
more Attempt rows, all but Work's one started before the fault. Two makes of one key running at once show
as two Attempt rows whose times overlap.

Environment: DJFLOW_FAULTS_SCHEMA (the schema, required), DJFLOW_FAULTS_SLEEP (seconds each make() sleeps
between its Attempt row and its insert, default 1), DJ_HOST / DJ_USER / DJ_PASS (as for DataJoint).
MySQL/MariaDB only (the Attempt row is written with pymysql, which DataJoint brings).
"""

import os
import platform
import time
import uuid

import datajoint as dj

schema = dj.Schema(os.environ["DJFLOW_FAULTS_SCHEMA"])


@schema
class Item(dj.Manual):
    definition = """
    item_id: int
    """


@schema
class Attempt(dj.Manual):
    definition = """
    # every make() of Work, recorded when it starts, on its own connection
    item_id: int
    attempt: char(32)
    ---
    job_id: varchar(64)          # DJFLOW_JOB_ID of the runner
    host: varchar(255)
    pid: int
    started: datetime(6)         # the database's clock
    """


def job_id():
    return os.environ.get("DJFLOW_JOB_ID") or ""


def _record_attempt(key, attempt):
    """Insert the Attempt row on a separate autocommit connection (make() runs in a transaction)."""
    import pymysql

    host, _, port = os.environ["DJ_HOST"].partition(":")
    conn = pymysql.connect(host=host, port=int(port or 3306), user=os.environ["DJ_USER"],
                           password=os.environ["DJ_PASS"], autocommit=True, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO `%s`.`attempt` (item_id, attempt, job_id, host, pid, started) "
                        "VALUES (%%s, %%s, %%s, %%s, %%s, NOW(6))" % schema.database,
                        (key["item_id"], attempt, job_id(), platform.node(), os.getpid()))
    finally:
        conn.close()


@schema
class Work(dj.Computed):
    definition = """
    -> Item
    ---
    attempt: char(32)            # the Attempt that made this row
    committed: datetime(6)       # the database's clock, inside make()'s transaction
    """

    def make(self, key):
        attempt = uuid.uuid4().hex
        _record_attempt(key, attempt)
        time.sleep(float(os.environ.get("DJFLOW_FAULTS_SLEEP", "1")))
        now = self.connection.query("SELECT NOW(6)").fetchone()[0]
        self.insert1(dict(key, attempt=attempt, committed=now))
