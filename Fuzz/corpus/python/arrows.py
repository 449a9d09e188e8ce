import datajoint as dj
from . import other
from other import Thing as T
schema = dj.Schema('arrows')
UP = "Subject"

@schema
class Subject(dj.Manual):
    definition = """
    subject: int
    """

@schema
class Session(dj.Imported):
    definition = f"""
    -> {UP}
    -> [nullabel] Subject
    -> Subject Probe
    -> Subject.proj(x='subject'
    session: int
    """

    class Part(dj.Part):
        definition = "-> master\n-> .proj(a='b')\n->"

@schema
class Derived(Session):
    definition = Session.definition + "-> T\n"

class Base(dj.Computed):
    @property
    def definition(self):
        return "-> self.upstream\n"

@schema
class Recording(Base):
    upstream = Session

    def make(self, key):
        pass
#%% file
import datajoint as dj
schema = dj.Schema('other')

@schema
class Thing(dj.Lookup):
    definition = "thing: int"
    contents = [(1,), (2,)]
