"""Tables whose definitions only exist at run time: the cases where the static reader must differ from
the live database (it warns and sees no parents; the live reader sees the real foreign keys). And tables
whose definitions are built from pieces the static reader resolves (an f-string field naming a module
constant, a property returning a local string, `-> self.<attribute>` bound to a table class): there the
two readers must agree."""

import datajoint as dj
from element_array_ephys import ephys_acute as ephys  # noqa: F401  (named in UnitScore's definition)

from truth_lab import PREFIX, Session  # noqa: F401  (named in SessionNote's definition)

schema = dj.schema(PREFIX + "extra")

UPSTREAM = "ephys.CuratedClustering"


def upstream():
    return UPSTREAM


@schema
class UnitScore(dj.Computed):
    # an f-string that interpolates a call: the parent is only known when the module runs
    definition = f"""
    -> {upstream()}
    ---
    score: float
    """


@schema
class SessionNote(dj.Manual):
    # a property that calls a method: evaluated by DataJoint when it declares the table
    @property
    def definition(self):
        return "-> Session\n" + self.attributes()

    def attributes(self):
        return "note_id: int\n---\nnote: varchar(255)\n"


@schema
class UnitGrade(dj.Computed):
    # an f-string whose field names a module constant: read statically
    definition = f"""
    -> {UPSTREAM}
    grade_id: int
    ---
    grade: float
    """


@schema
class SessionTag(dj.Manual):
    # a property returning a local string that names `self.upstream`, a class attribute bound to a table
    upstream = Session

    @property
    def definition(self):
        definition = """
        -> self.upstream
        tag: varchar(16)
        """
        return definition
