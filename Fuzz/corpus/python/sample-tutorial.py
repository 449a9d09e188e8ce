"""The DataJoint tutorial pipeline for djflow (Samples/tutorial/djflow.yaml).

Works with DataJoint 2.3.5 and 0.14.10. Tables, tiers and definitions match
djflow.yaml exactly:

    Mouse, Session            manual
    SpikeDetectionParam       lookup
    Neuron                    imported  (one make() per Session inserts its neurons)
    ActivityStatistics        computed  (per Neuron)
    Spikes                    computed  (per Neuron x SpikeDetectionParam)

``activity`` and ``spikes`` are raw-byte columns, written as packed arrays
(``array('d')`` / ``array('i')`` bytes), which read back as the same bytes in both
versions. No numpy needed. The definitions say ``longblob`` (0.14's only spelling);
on DataJoint 2.x, ``raw_bytes`` declares them as the core type ``bytes`` instead
(``longblob`` on MySQL, ``bytea`` on PostgreSQL, which has no ``longblob``).

Environment:
    DJFLOW_SAMPLE_SCHEMA   database schema (default ``djflow_tutorial``)
    DJFLOW_SAMPLE_SLEEP    seconds each make() sleeps (default 0.2)
    DJFLOW_SAMPLE_LOG      if set, every successful make() appends one JSON line
                           {"table", "key", "job_id", "pid", "host", "start", "end"}
    DJFLOW_SAMPLE_NEURONS  neurons per session (default 3)
"""

import datetime
import json
import math
import os
import random
import socket
import time
from array import array

import datajoint as dj

SCHEMA_NAME = os.environ.get("DJFLOW_SAMPLE_SCHEMA", "djflow_tutorial")
schema = dj.Schema(SCHEMA_NAME)

N_SAMPLES = 300  # activity samples per neuron


def _sleep():
    time.sleep(float(os.environ.get("DJFLOW_SAMPLE_SLEEP", "0.2")))


def _json_key(key):
    out = {}
    for k, v in dict(key).items():
        if isinstance(v, (datetime.date, datetime.datetime)):
            v = v.isoformat()
        elif not isinstance(v, (str, int, float, bool, type(None))):
            v = str(v)
        out[k] = v
    return out


def _rng(table, key):
    return random.Random(table + "|" + json.dumps(_json_key(key), sort_keys=True))


def job_id():
    """The scheduler's job id: DJFLOW_JOB_ID, else the SLURM array/job id, else None."""
    if os.environ.get("DJFLOW_JOB_ID"):
        return os.environ["DJFLOW_JOB_ID"]
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return "%s_%s" % (os.environ["SLURM_ARRAY_JOB_ID"], os.environ["SLURM_ARRAY_TASK_ID"])
    return os.environ.get("SLURM_JOB_ID") or None


def log_make(table, key, start):
    """Append one JSON line describing a finished make() to $DJFLOW_SAMPLE_LOG (single write)."""
    path = os.environ.get("DJFLOW_SAMPLE_LOG")
    if not path:
        return
    record = {"table": table, "key": _json_key(key), "job_id": job_id(), "pid": os.getpid(),
              "host": socket.gethostname(), "start": start, "end": time.time()}
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def raw_bytes(cls):
    """Class decorator (below @schema): on DataJoint 2.x, declare ``longblob`` columns as the portable
    core type ``bytes``, so the pipeline also runs on PostgreSQL. 0.14 keeps ``longblob``."""
    if not dj.__version__.startswith("0."):
        cls.definition = cls.definition.replace(": longblob", ": bytes")
    return cls


def pack_floats(values):
    return array("d", values).tobytes()


def unpack_floats(blob):
    a = array("d")
    a.frombytes(bytes(blob))
    return list(a)


def pack_ints(values):
    return array("i", values).tobytes()


def unpack_ints(blob):
    a = array("i")
    a.frombytes(bytes(blob))
    return list(a)


@schema
class Mouse(dj.Manual):
    definition = """
    mouse_id: int                  # unique mouse id
    ---
    dob: date
    sex: enum('M', 'F', 'U')
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Mouse
    session_date: date
    ---
    experimenter: varchar(100)
    """


@schema
@raw_bytes
class Neuron(dj.Imported):
    definition = """
    -> Session
    neuron_id: int
    ---
    activity: longblob
    """

    def make(self, key):
        """'Import' the session's recording: synthetic activity traces, one per neuron."""
        start = time.time()
        rng = _rng("Neuron", key)
        n_neurons = int(os.environ.get("DJFLOW_SAMPLE_NEURONS", "3"))
        rows = []
        for neuron_id in range(n_neurons):
            rate = rng.uniform(0.02, 0.1)
            trace = [0.2 * math.sin(t / 10.0) + rng.gauss(0, 0.3) for t in range(N_SAMPLES)]
            for t in range(N_SAMPLES):
                if rng.random() < rate:
                    trace[t] += rng.uniform(3, 6)  # a "spike"
            rows.append(dict(key, neuron_id=neuron_id, activity=pack_floats(trace)))
        _sleep()
        self.insert(rows)
        log_make("Neuron", key, start)


@schema
class ActivityStatistics(dj.Computed):
    definition = """
    -> Neuron
    ---
    mean: float
    stdev: float
    max: float
    """

    def make(self, key):
        start = time.time()
        trace = unpack_floats((Neuron & key).fetch1("activity"))
        mean = sum(trace) / len(trace)
        stdev = math.sqrt(sum((x - mean) ** 2 for x in trace) / len(trace))
        _sleep()
        self.insert1(dict(key, mean=mean, stdev=stdev, max=max(trace)))
        log_make("ActivityStatistics", key, start)


@schema
class SpikeDetectionParam(dj.Lookup):
    definition = """
    sdp_id: int
    ---
    threshold: float
    """


@schema
@raw_bytes
class Spikes(dj.Computed):
    definition = """
    -> Neuron
    -> SpikeDetectionParam
    ---
    spikes: longblob
    count: int
    """

    def make(self, key):
        start = time.time()
        trace = unpack_floats((Neuron & key).fetch1("activity"))
        threshold = (SpikeDetectionParam & key).fetch1("threshold")
        # upward threshold crossings
        idx = [t for t in range(1, len(trace)) if trace[t] > threshold >= trace[t - 1]]
        _sleep()
        self.insert1(dict(key, spikes=pack_ints(idx), count=len(idx)))
        log_make("Spikes", key, start)
