"""The lab tables the elements link to (what element-lab/element-session would provide), for the truth
test. Schema names come from DJFLOW_TRUTH_PREFIX so every test run uses fresh schemas."""

import os

import datajoint as dj

PREFIX = os.environ.get("DJFLOW_TRUTH_PREFIX", "djflow_truth_")
schema = dj.schema(PREFIX + "lab")


@schema
class Subject(dj.Manual):
    definition = """
    subject: varchar(16)
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session_datetime: datetime
    """


@schema
class SkullReference(dj.Lookup):
    definition = """
    skull_reference: varchar(60)
    """
    contents = zip(["Bregma", "Lambda"])


@schema
class Equipment(dj.Manual):
    definition = """
    scanner: varchar(32)
    """


@schema
class Location(dj.Lookup):
    definition = """
    anatomical_location: varchar(32)
    """


def get_ephys_root_data_dir():
    return ["/tmp"]


def get_session_directory(session_key):
    return "/tmp"


def get_imaging_root_data_dir():
    return ["/tmp"]


def get_image_files(scan_key, file_type):
    return []
