"""Tables whose definitions only exist at run time: the cases where the static reader must differ from
the live database (it warns and sees no parents; the live reader sees the real foreign keys)."""

import datajoint as dj
from element_array_ephys import ephys_acute as ephys  # noqa: F401  (named in UnitScore's definition)

from truth_lab import PREFIX, Session  # noqa: F401  (named in SessionNote's definition)

schema = dj.schema(PREFIX + "extra")

UPSTREAM = "ephys.CuratedClustering"


@schema
class UnitScore(dj.Computed):
    # an f-string that interpolates: the parent is only known when the module runs
    definition = f"""
    -> {UPSTREAM}
    ---
    score: float
    """


@schema
class SessionNote(dj.Manual):
    # a property: evaluated by DataJoint when it declares the table
    @property
    def definition(self):
        return "-> Session\nnote_id: int\n---\nnote: varchar(255)\n"
