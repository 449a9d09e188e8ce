"""Enter the lab's staged data for the Elements workflow test: lab members, subjects and sessions
(element-lab, element-animal, element-session). No raw ephys data: the element tables that read raw
files (EphysRecording, ...) have no keys to do, the lab's SessionAge has one per session."""

import datetime
import os

import datajoint as dj

if os.environ.get("DJ_USE_TLS"):  # DataJoint 0.14 reads no DJ_USE_TLS (the runner applies it for jobs)
    dj.config["database.use_tls"] = os.environ["DJ_USE_TLS"].lower() == "true"
dj.config["safemode"] = False

from mylab import pipeline as p  # noqa: E402

p.lab.User.insert1({"user": "alice"}, skip_duplicates=True)
p.subject.Subject.insert(
    [
        {"subject": "M%d" % i, "sex": "F" if i % 2 else "M", "subject_birth_date": datetime.date(2026, 1, i),
         "subject_description": "test mouse"}
        for i in range(1, 5)
    ],
    skip_duplicates=True,
)
p.session.Session.insert(
    [
        {"subject": "M%d" % i, "session_datetime": datetime.datetime(2026, 3, i, 9 + j, 0, 0)}
        for i in range(1, 5)
        for j in range(2)
    ],
    skip_duplicates=True,
)
