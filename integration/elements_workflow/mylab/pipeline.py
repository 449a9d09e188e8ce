"""The lab's workflow module, written the way workflow-array-ephys writes its `pipeline.py`: import the
Elements from PyPI, supply what they need (the linking module is this module), and activate them in
the lab's schemas. Nothing in the Elements is usable before this module has run: it is the module
djflow.yaml lists in `runner.module`, so every job imports it first.

The schema prefix comes from MYLAB_DB_PREFIX (a plain environment value set in djflow.yaml's
runner.env), else dj.config["custom"]["database.prefix"], as the published workflows do.
"""

import os

import datajoint as dj
from element_animal import subject
from element_array_ephys import ephys_acute as ephys
from element_array_ephys import probe
from element_lab import lab
from element_session import session_with_datetime as session

from element_animal.subject import Subject  # noqa: F401  (linked into session)
from element_lab.lab import Lab, Location, Project, Protocol, Source, User  # noqa: F401  (linked into subject)

DB_PREFIX = os.environ.get("MYLAB_DB_PREFIX") or dj.config.get("custom", {}).get("database.prefix", "mylab_")

__all__ = ["lab", "subject", "session", "probe", "ephys", "SkullReference"]

# ---- lab, subject, session --------------------------------------------------------------------------

lab.activate(DB_PREFIX + "lab")

subject.activate(DB_PREFIX + "subject", linking_module=__name__)

Experimenter = lab.User
session.activate(DB_PREFIX + "session", linking_module=__name__)

from element_session.session_with_datetime import Session  # noqa: E402  (linked into ephys)


@lab.schema
class SkullReference(dj.Lookup):
    definition = """
    skull_reference: varchar(60)
    """
    contents = zip(["Bregma", "Lambda"])


# ---- ephys ------------------------------------------------------------------------------------------


def get_ephys_root_data_dir():
    return [os.environ.get("MYLAB_EPHYS_ROOT", "/nonexistent/ephys")]


def get_session_directory(session_key):
    return os.path.join(get_ephys_root_data_dir()[0], str(session_key["subject"]))


ephys.activate(DB_PREFIX + "ephys", DB_PREFIX + "probe", linking_module=__name__)
