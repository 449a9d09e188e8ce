"""Sample extracellular-electrophysiology pipeline for djflow (Samples/ephys/djflow.yaml).

Works with DataJoint 2.3.5 and 0.14.10. The tables, tiers, definitions and parts
match djflow.yaml exactly; LFP and Clustering are declared only by `depends_on`
in the spec, so their definitions live here.

    Subject, Session, ProbeInsertion, ClusteringTask, Curation   manual
    Probe, ClusteringParams                                      lookup
    Recording (+ Recording.Channel)                              imported
    LFP, Clustering, CuratedClustering (+ .Unit), Waveforms,
    QualityMetrics                                               computed

The make() functions do small, deterministic work (pseudo-random numbers seeded
from the key; no numpy) and sleep a little so that scheduling is observable.

Environment:
    DJFLOW_SAMPLE_SCHEMA   database schema (default ``djflow_ephys``)
    DJFLOW_SAMPLE_SLEEP    seconds each make() sleeps (default 0.2)
    DJFLOW_SAMPLE_LOG      if set, every successful make() appends one JSON line
                           {"table", "key", "job_id", "pid", "host", "start", "end"}
                           to this file (a single O_APPEND write, so concurrent
                           workers never interleave)

Recording.make() raises RuntimeError for a session whose session_note contains
"corrupt": the deliberate failing key for failure-path tests.
"""

import datetime
import json
import math
import os
import random
import socket
import time

import datajoint as dj

SCHEMA_NAME = os.environ.get("DJFLOW_SAMPLE_SCHEMA", "djflow_ephys")
schema = dj.Schema(SCHEMA_NAME)


# ---------------------------------------------------------------------------
# helpers shared by the make() functions
# ---------------------------------------------------------------------------


def _sleep():
    time.sleep(float(os.environ.get("DJFLOW_SAMPLE_SLEEP", "0.2")))


def _rng(table, key):
    """A random generator seeded from the table name and the key (deterministic)."""
    seed = table + "|" + json.dumps(_json_key(key), sort_keys=True)
    return random.Random(seed)


def _json_key(key):
    out = {}
    for k, v in dict(key).items():
        if isinstance(v, (datetime.date, datetime.datetime)):
            v = v.isoformat()
        elif isinstance(v, bytes):
            v = v.hex()
        elif not isinstance(v, (str, int, float, bool, type(None))):
            v = str(v)
        out[k] = v
    return out


def job_id():
    """The scheduler's job id: DJFLOW_JOB_ID, else the SLURM array/job id, else None."""
    if os.environ.get("DJFLOW_JOB_ID"):
        return os.environ["DJFLOW_JOB_ID"]
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return "%s_%s" % (os.environ["SLURM_ARRAY_JOB_ID"], os.environ["SLURM_ARRAY_TASK_ID"])
    return os.environ.get("SLURM_JOB_ID") or None


def log_make(table, key, start):
    """Append one JSON line describing a finished make() to $DJFLOW_SAMPLE_LOG."""
    path = os.environ.get("DJFLOW_SAMPLE_LOG")
    if not path:
        return
    record = {
        "table": table,
        "key": _json_key(key),
        "job_id": job_id(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "start": start,
        "end": time.time(),
    }
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _rows(rel):
    """All rows as dicts (to_dicts() in 2.x, fetch(as_dict=True) in 0.14)."""
    if hasattr(rel, "to_dicts"):
        return rel.to_dicts()
    return rel.fetch(as_dict=True)


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------


@schema
class Subject(dj.Manual):
    definition = """
    subject: varchar(16)          # animal id
    ---
    sex: enum('M', 'F', 'U')
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session_id: int
    ---
    session_note: varchar(255)    # "corrupt" makes Recording fail (failure-path tests)
    """


@schema
class Probe(dj.Lookup):
    definition = """
    probe_type: varchar(32)
    ---
    n_channels: int
    """


@schema
class ProbeInsertion(dj.Manual):
    definition = """
    -> Session
    insertion_number: int
    ---
    -> Probe
    """


@schema
class Recording(dj.Imported):
    definition = """
    -> ProbeInsertion
    ---
    sampling_rate: float
    duration: float
    """

    class Channel(dj.Part):
        definition = """
        -> master
        channel: int
        ---
        gain: float
        """

    def make(self, key):
        start = time.time()
        note = (Session & key).fetch1("session_note")
        if "corrupt" in note:
            raise RuntimeError("corrupt recording file for session %s/%s" % (key["subject"], key["session_id"]))
        n_channels = ((ProbeInsertion & key) * Probe).fetch1("n_channels")
        rng = _rng("Recording", key)
        _sleep()
        self.insert1(dict(key, sampling_rate=30000.0, duration=round(rng.uniform(60, 600), 2)))
        self.Channel.insert(
            [dict(key, channel=c, gain=round(rng.uniform(0.5, 2.0), 4)) for c in range(n_channels)]
        )
        log_make("Recording", key, start)


@schema
class LFP(dj.Computed):
    definition = """
    -> Recording
    ---
    lfp_power: float              # mean gain-weighted power of the synthetic LFP
    """

    def make(self, key):
        start = time.time()
        gains = [row["gain"] for row in _rows(Recording.Channel & key)]
        rng = _rng("LFP", key)
        samples = [math.sin(i / 7.0) + rng.gauss(0, 0.1) for i in range(200)]
        power = sum(s * s for s in samples) / len(samples) * (sum(gains) / max(len(gains), 1))
        _sleep()
        self.insert1(dict(key, lfp_power=power))
        log_make("LFP", key, start)


@schema
class ClusteringParams(dj.Lookup):
    definition = """
    paramset: int
    ---
    method: varchar(32)
    threshold: float
    """


@schema
class ClusteringTask(dj.Manual):
    definition = """
    -> Recording
    -> ClusteringParams
    """


@schema
class Clustering(dj.Computed):
    definition = """
    -> ClusteringTask
    ---
    n_clusters: int               # clusters found
    """

    def make(self, key):
        start = time.time()
        threshold = (ClusteringParams & key).fetch1("threshold")
        n_channels = len(Recording.Channel & key)
        rng = _rng("Clustering", key)
        n_clusters = max(1, int(n_channels * rng.uniform(0.5, 1.5) / max(threshold, 0.1)))
        _sleep()
        self.insert1(dict(key, n_clusters=n_clusters))
        log_make("Clustering", key, start)


@schema
class Curation(dj.Manual):
    definition = """
    -> Clustering
    curation_id: int
    ---
    curator: varchar(32)
    """


@schema
class CuratedClustering(dj.Computed):
    definition = """
    -> Curation
    ---
    n_units: int
    """

    class Unit(dj.Part):
        definition = """
        -> master
        unit: int
        ---
        label: enum('good', 'mua', 'noise')
        """

    def make(self, key):
        start = time.time()
        n_clusters = (Clustering & key).fetch1("n_clusters")
        rng = _rng("CuratedClustering", key)
        _sleep()
        self.insert1(dict(key, n_units=n_clusters))
        self.Unit.insert(
            [dict(key, unit=u, label=rng.choice(["good", "mua", "noise"])) for u in range(n_clusters)]
        )
        log_make("CuratedClustering", key, start)


@schema
class Waveforms(dj.Computed):
    definition = """
    -> CuratedClustering.Unit
    ---
    peak_amplitude: float
    """

    def make(self, key):
        start = time.time()
        label = (CuratedClustering.Unit & key).fetch1("label")
        rng = _rng("Waveforms", key)
        scale = {"good": 120.0, "mua": 60.0, "noise": 15.0}[label]
        _sleep()
        self.insert1(dict(key, peak_amplitude=round(scale * rng.uniform(0.8, 1.2), 3)))
        log_make("Waveforms", key, start)


@schema
class QualityMetrics(dj.Computed):
    definition = """
    -> CuratedClustering
    ---
    mean_firing_rate: float
    """

    def make(self, key):
        start = time.time()
        n_units = (CuratedClustering & key).fetch1("n_units")
        duration = (Recording & key).fetch1("duration")
        rng = _rng("QualityMetrics", key)
        spikes = sum(rng.randint(10, 1000) for _ in range(max(n_units, 1)))
        _sleep()
        self.insert1(dict(key, mean_firing_rate=spikes / max(n_units, 1) / duration))
        log_make("QualityMetrics", key, start)
