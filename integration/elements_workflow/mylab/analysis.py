"""The lab's own tables, downstream of the Elements: its schema is declared on import, after the
workflow module has activated the Elements it depends on."""

import datetime
import json
import os
import socket
import time

import datajoint as dj

from mylab.pipeline import DB_PREFIX, session, subject

schema = dj.schema(DB_PREFIX + "analysis")


@schema
class SessionAge(dj.Computed):
    definition = """
    # The subject's age at each session, from element-animal and element-session
    -> session.Session
    ---
    age_days: float
    """

    def make(self, key):
        start = time.time()
        birth = (subject.Subject & key).fetch1("subject_birth_date")
        when = (session.Session & key).fetch1("session_datetime")
        birth = datetime.datetime.combine(birth, datetime.time())
        self.insert1(dict(key, age_days=round((when - birth).total_seconds() / 86400.0, 3)))
        log = os.environ.get("MYLAB_MAKE_LOG")
        if log:
            entry = {"table": "SessionAge", "key": {k: str(v) for k, v in key.items()}, "start": start,
                     "end": time.time(), "host": socket.gethostname(), "pid": os.getpid(),
                     "job_id": os.environ.get("DJFLOW_JOB_ID") or os.environ.get("SLURM_JOB_ID")}
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            finally:
                os.close(fd)
