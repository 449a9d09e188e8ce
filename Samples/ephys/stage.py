"""Stage sample data for the ephys pipeline (Samples/ephys/ephys_pipeline.py).

    python stage.py initial [--with-failure] [--extra-subject NAME]   Subject, Session, Probe, ProbeInsertion, ClusteringParams
    python stage.py clustering-tasks           ClusteringTask for every Recording x paramset
    python stage.py curations                  one Curation per Clustering
    python stage.py fix-failure                the "corrupt" session of --with-failure is fixed (note "ok")

Every step uses skip_duplicates, so reruns are harmless. The connection comes from
the environment (DJ_HOST, DJ_USER, DJ_PASS, ...; see scripts/db/up.sh) and the
schema from DJFLOW_SAMPLE_SCHEMA. Importable: initial(), clustering_tasks(), curations().

initial() stages 2 subjects x 2 sessions x 2 probe insertions = 8 Recording keys;
--with-failure adds one more session whose note is "corrupt" (Recording.make fails).
"""

import argparse
import os
import sys

os.environ.setdefault("DJ_IGNORE_CONFIG_FILE", "true")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datajoint as dj  # noqa: E402

if dj.__version__.startswith("0."):
    # 0.14 reads neither DJ_USE_TLS nor DJ_PORT from the environment.
    if os.environ.get("DJ_USE_TLS"):
        dj.config["database.use_tls"] = os.environ["DJ_USE_TLS"].lower() in ("1", "true", "yes", "on")
    if os.environ.get("DJ_PORT"):
        dj.config["database.port"] = int(os.environ["DJ_PORT"])
dj.config["safemode"] = False

import ephys_pipeline as ep  # noqa: E402

SUBJECTS = [("mouse1", "M"), ("mouse2", "F")]
SESSIONS = [1, 2]
INSERTIONS = [(1, "neuropixels"), (2, "tetrode")]
FAILING_SESSION = ("mouse1", 99)


def _keys(rel):
    """Primary keys as dicts: keys() in DataJoint 2.x, fetch("KEY") in 0.14."""
    return rel.keys() if hasattr(rel, "keys") else rel.fetch("KEY")


def initial(with_failure=False):
    """Manual and lookup rows that gate Recording (and, through it, LFP)."""
    ep.Probe.insert([("neuropixels", 4), ("tetrode", 2)], skip_duplicates=True)
    ep.ClusteringParams.insert(
        [dict(paramset=1, method="kilosort", threshold=0.5), dict(paramset=2, method="mountainsort", threshold=1.0)],
        skip_duplicates=True,
    )
    ep.Subject.insert([dict(subject=s, sex=x) for s, x in SUBJECTS], skip_duplicates=True)
    ep.Session.insert(
        [dict(subject=s, session_id=i, session_note="ok") for s, _ in SUBJECTS for i in SESSIONS],
        skip_duplicates=True,
    )
    ep.ProbeInsertion.insert(
        [
            dict(subject=s, session_id=i, insertion_number=n, probe_type=p)
            for s, _ in SUBJECTS
            for i in SESSIONS
            for n, p in INSERTIONS
        ],
        skip_duplicates=True,
    )
    if with_failure:
        subject, session_id = FAILING_SESSION
        ep.Session.insert1(
            dict(subject=subject, session_id=session_id, session_note="corrupt file"), skip_duplicates=True
        )
        ep.ProbeInsertion.insert1(
            dict(subject=subject, session_id=session_id, insertion_number=1, probe_type="tetrode"),
            skip_duplicates=True,
        )


def fix_failure():
    """Fix the cause of the deliberate failure: the corrupt session's note becomes "ok", so Recording.make
    succeeds for it once its error row is given back (--clear-errors, a workflow's --retry-failed)."""
    subject, session_id = FAILING_SESSION
    ep.Session.update1(dict(subject=subject, session_id=session_id, session_note="ok"))


def extra_subject(name):
    """One more subject (any name, e.g. with quotes or unicode) with one session and one insertion:
    lets tests run a single staged entry through a workflow with a restriction."""
    ep.Subject.insert1(dict(subject=name, sex="U"), skip_duplicates=True)
    ep.Session.insert1(dict(subject=name, session_id=1, session_note="ok"), skip_duplicates=True)
    ep.ProbeInsertion.insert1(dict(subject=name, session_id=1, insertion_number=1, probe_type="tetrode"),
                              skip_duplicates=True)


def clustering_tasks():
    """One ClusteringTask per populated Recording and paramset (the human gate before Clustering)."""
    rows = _keys(ep.Recording.proj() * ep.ClusteringParams.proj())
    ep.ClusteringTask.insert(rows, skip_duplicates=True)
    return len(rows)


def curations():
    """One Curation per finished Clustering (the human gate before CuratedClustering)."""
    keys = _keys(ep.Clustering())
    ep.Curation.insert([dict(k, curation_id=1, curator="auto") for k in keys], skip_duplicates=True)
    return len(keys)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["initial", "clustering-tasks", "curations", "fix-failure"])
    parser.add_argument("--with-failure", action="store_true", help="add a 'corrupt' session (initial only)")
    parser.add_argument("--extra-subject", metavar="NAME", help="add one subject with one session (initial only)")
    args = parser.parse_args(argv)
    if args.step == "initial":
        initial(with_failure=args.with_failure)
        if args.extra_subject:
            extra_subject(args.extra_subject)
    elif args.step == "fix-failure":
        fix_failure()
    elif args.step == "clustering-tasks":
        print("clustering tasks: %d" % clustering_tasks())
    else:
        print("curations: %d" % curations())


if __name__ == "__main__":
    main()
