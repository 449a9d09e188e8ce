"""Stage sample data for the tutorial pipeline (Samples/tutorial/tutorial_pipeline.py).

    python stage.py initial      Mouse, Session, SpikeDetectionParam

Uses skip_duplicates, so reruns are harmless. Connection from the environment
(DJ_HOST, DJ_USER, DJ_PASS, ...; see scripts/db/up.sh), schema from
DJFLOW_SAMPLE_SCHEMA. Importable: initial().

initial() stages 3 mice with 2 sessions each (6 Neuron keys, 3 neurons each by
default) and 2 spike-detection thresholds (so 36 Spikes keys).
"""

import argparse
import datetime
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

import tutorial_pipeline as tp  # noqa: E402

MICE = [(0, "2017-03-01", "M"), (1, "2016-11-19", "M"), (2, "2017-07-13", "F")]
SESSION_DATES = ["2017-05-15", "2017-05-19"]
EXPERIMENTERS = ["Edgar Y. Walker", "Fabian Sinz"]


def initial():
    tp.SpikeDetectionParam.insert([dict(sdp_id=0, threshold=2.0), dict(sdp_id=1, threshold=3.5)],
                                  skip_duplicates=True)
    tp.Mouse.insert([dict(mouse_id=m, dob=datetime.date.fromisoformat(d), sex=s) for m, d, s in MICE],
                    skip_duplicates=True)
    tp.Session.insert(
        [
            dict(mouse_id=m, session_date=datetime.date.fromisoformat(d), experimenter=EXPERIMENTERS[i % 2])
            for m, _, _ in MICE
            for i, d in enumerate(SESSION_DATES)
        ],
        skip_duplicates=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["initial"])
    parser.parse_args(argv)
    initial()


if __name__ == "__main__":
    main()
