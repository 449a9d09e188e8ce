"""Activates element-lab, element-animal (subject, surgery), element-session, element-event (event,
trial) and element-optogenetics in the test database, linked to this module: the other Elements whose
schemas need nothing but DataJoint, for the truth test (test_truth_more.py)."""

import os

from element_animal import subject, surgery
from element_event import event, trial
from element_lab import lab
from element_optogenetics import optogenetics
from element_session import session_with_datetime as session

from element_lab.lab import Device, Lab, Project, Protocol, Source, User  # noqa: F401  (linked)

PREFIX = os.environ["DJFLOW_TRUTH_PREFIX"] + "more_"

lab.activate(PREFIX + "lab")
subject.activate(PREFIX + "subject", linking_module=__name__)
from element_animal.subject import Subject  # noqa: E402,F401

Experimenter = lab.User
session.activate(PREFIX + "session", linking_module=__name__)
from element_session.session_with_datetime import Session  # noqa: E402,F401

surgery.activate(PREFIX + "surgery", linking_module=__name__)
from element_animal.surgery import Implantation  # noqa: E402,F401


def get_experiment_root_data_dir():
    return ["/nonexistent"]


def get_session_directory(session_key):
    return "/nonexistent"


trial.activate(PREFIX + "trial", PREFIX + "event", linking_module=__name__)
optogenetics.activate(PREFIX + "optogenetics", linking_module=__name__)
