"""Activates element-array-ephys (acute) and element-calcium-imaging in the test database, linked to
truth_lab: the pattern of the elements' own workflow packages. The live reader imports this module;
the static reader reads it together with the installed elements' sources."""

from element_array_ephys import ephys_acute as ephys
from element_array_ephys import probe
from element_calcium_imaging import imaging, scan

from truth_lab import (  # noqa: F401  (the linking module's names)
    PREFIX,
    Equipment,
    Location,
    Session,
    SkullReference,
    Subject,
    get_ephys_root_data_dir,
    get_image_files,
    get_imaging_root_data_dir,
    get_session_directory,
)

ephys.activate(PREFIX + "ephys", PREFIX + "probe", linking_module=__name__)
imaging.activate(PREFIX + "imaging", PREFIX + "scan", linking_module=__name__)

import truth_runtime  # noqa: E402,F401  (declares the run-time-definition tables after the elements)
