"""The `djflow status` reader (Templates/runner/djflow_status.py) against the real database: its fast path
(metadata statements answered once and ahead per schema, counts captured and sent as UNION ALL batches)
gives exactly the numbers of DataJoint's own path (DJFLOW_STATUS_PLAIN=1: progress(), len(), one statement
at a time) on a pipeline with two schemas, parts, a gate, a custom key source, a key source whose key can
be NULL, errors in the jobs tables, and restrictions (dict, SQL string, OR-list); every statement it
answers without the server is answered as the server answers it. Runs with DataJoint 2.3.5 and 0.14.10
on MariaDB, and 2.3.5 on PostgreSQL (where only the counts are batched)."""
import json
import subprocess
import sys

import pytest

from conftest import DJ2, PG, REPO, SCHEMA_PREFIX, _counter
import testdb

READER = REPO / "Templates" / "runner" / "djflow_status.py"

PIPELINE = '''
import os

import datajoint as dj

schema = dj.Schema(os.environ["FAST_SCHEMA"])
other = dj.Schema(os.environ["FAST_SCHEMA"] + "_b")


@schema
class Subject(dj.Manual):
    definition = """
    subject: varchar(16)
    ---
    note = null: varchar(255)
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session: smallint
    ---
    session_date = null: date
    quality = "good": varchar(8)
    """


@schema
class Param(dj.Lookup):
    definition = """
    param: int
    ---
    label: varchar(16)
    """
    contents = [(1, "one"), (2, "two")]


@schema
class Task(dj.Manual):
    definition = """
    -> Session
    -> Param
    """


@schema
class Stats(dj.Computed):
    definition = """
    -> Session
    ---
    n: int
    """

    class Part(dj.Part):
        definition = """
        -> master
        k: int
        """

    def make(self, key):
        self.insert1(dict(key, n=2))
        self.Part.insert([dict(key, k=1), dict(key, k=2)])


@schema
class Combined(dj.Computed):
    definition = """
    -> Session
    -> Param
    ---
    v: float
    """

    def make(self, key):
        if key["param"] == 2 and key["session"] == 1:
            raise RuntimeError("param 2 fails on session 1")
        self.insert1(dict(key, v=1.0))


@schema
class Custom(dj.Computed):
    definition = """
    -> Session
    ---
    v: float
    """

    @property
    def key_source(self):
        return Session & "quality = 'good'"

    def make(self, key):
        self.insert1(dict(key, v=2.0))


@schema
class ByDate(dj.Computed):
    definition = """
    session_date: date
    ---
    n: int
    """

    @property
    def key_source(self):
        return dj.U("session_date") & Session

    def make(self, key):
        self.insert1(dict(key, n=1))


@other
class Downstream(dj.Computed):
    definition = """
    -> Stats
    ---
    w: float
    """

    def make(self, key):
        self.insert1(dict(key, w=3.0))
'''

STAGE = '''
import datajoint as dj
dj.config["safemode"] = False
if int(dj.__version__.split(".")[0]) < 2:
    dj.config["database.use_tls"] = False
import fastpipe as p

p.Subject.insert([("s%d" % i, None) for i in range(1, 5)])
p.Session.insert([("s%d" % i, j, None if j == 3 else "2024-01-%02d" % (i * 3 + j), "bad" if j == 2 else "good")
                  for i in range(1, 5) for j in range(1, 4)])
p.Task.insert([("s1", 1, 1), ("s2", 2, 2)])
p.Stats.populate("subject in ('s1', 's2')", reserve_jobs=True)
p.Combined.populate(reserve_jobs=True, suppress_errors=True)
p.Custom.populate("subject = 's3'", reserve_jobs=True)
p.Downstream.populate("session = 1", reserve_jobs=True)
'''

JOBS = ["Stats", "Combined", "Custom", "ByDate", "Downstream"]


@pytest.fixture
def fastpipe(db_env, tmp_path):
    schema = SCHEMA_PREFIX + "fast%d" % next(_counter)
    (tmp_path / "fastpipe.py").write_text(PIPELINE)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("DJ_", "DJFLOW_", "SLURM_"))}
    env.update(db_env, FAST_SCHEMA=schema, PYTHONPATH=str(tmp_path))
    yield tmp_path, env, schema
    testdb.drop_schemas(db_env, schema)


def names(restriction):
    """The job tables asked for: ByDate's key source has only session_date, so no restriction applies."""
    return [name for name in JOBS if restriction is None or name != "ByDate"]


def request(restriction=None):
    tables = [{"name": name, "role": "job", "modules": ["fastpipe"], "table": name} for name in names(restriction)]
    tables.append({"name": "Task", "role": "gate", "modules": ["fastpipe"], "table": "Task"})
    return json.dumps({"restriction": restriction, "tables": tables})


def read(folder, env, restriction=None, plain=False):
    out = subprocess.run([sys.executable, str(READER)], input=request(restriction), env=dict(
        env, DJFLOW_STATUS_PLAIN="1" if plain else "0"), cwd=folder, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    doc = json.loads(out.stdout)
    return doc, doc.pop("reader")


def test_fast_reader_gives_datajoint_numbers(fastpipe):
    folder, env, schema = fastpipe
    # first read: nothing declared yet, importing declares every table (the reader forgets what it knew)
    fresh, how = read(folder, env)
    assert how["mode"] == "fast" and fresh == read(folder, env, plain=True)[0]
    assert fresh["tables"]["Stats"]["total"] == 0

    subprocess.run([sys.executable, "-c", STAGE], env=env, cwd=folder, check=True, capture_output=True, timeout=300)
    seen = {}
    for restriction in (None, json.dumps({"subject": "s1"}), json.dumps("session > 1"),
                        json.dumps([{"subject": "s1"}, {"subject": "s3"}])):
        fast, how = read(folder, env, restriction)
        plain, plain_how = read(folder, env, restriction, plain=True)
        assert fast == plain, (restriction, fast, plain)
        assert plain_how["mode"] == "plain" and sorted(plain_how["plain"]) == sorted(names(restriction) + ["Task"])
        assert set(how["plain"]) <= {"ByDate"}, how        # only where DataJoint 2.x refuses `key_source - table`
        assert how["sent"] < plain_how["sent"], (how, plain_how)
        if not PG:   # metadata from the server once per schema, not per table
            assert how["primed_schemas"] == 2 and how["answered"] > 0, how
        seen[restriction] = fast["tables"]

    everything = seen[None]
    assert (everything["Stats"]["total"], everything["Stats"]["done"]) == (12, 6)
    assert (everything["Combined"]["total"], everything["Combined"]["done"], everything["Combined"]["error"]) == \
        (24, 20, 4)
    assert "param 2 fails on session 1" in everything["Combined"]["first_error"]
    assert (everything["Custom"]["total"], everything["Custom"]["done"]) == (8, 2)
    assert everything["ByDate"]["total"] == 8        # sessions 3 have no date: no key
    assert (everything["Downstream"]["total"], everything["Downstream"]["done"]) == (6, 2)
    assert everything["Task"] == {"entries": 2, "waiting": 22}
    assert (seen[json.dumps({"subject": "s1"})]["Combined"]["total"],
            seen[json.dumps({"subject": "s1"})]["Combined"]["to_do"]) == (6, 1)
    assert seen[json.dumps("session > 1")]["Stats"]["total"] == 8


EXOTIC = r"""CREATE TABLE `{db}`.`{table}` (
  id int NOT NULL, a varchar(20) DEFAULT 'abc', b varchar(20) DEFAULT NULL, c varchar(20) NOT NULL DEFAULT '',
  d int DEFAULT 5, e float DEFAULT 1.5, f timestamp DEFAULT CURRENT_TIMESTAMP, g enum('x','y') DEFAULT 'x',
  h longblob, i varchar(20) DEFAULT 'it''s', k datetime(3) DEFAULT NULL, l decimal(5,2) DEFAULT 1.25,
  m varchar(10) DEFAULT 'NULL', n tinyint(1) NOT NULL DEFAULT 0, o bigint unsigned NOT NULL AUTO_INCREMENT,
  p json DEFAULT NULL, q datetime NOT NULL DEFAULT '2020-01-01 00:00:00', r bit(1) DEFAULT b'1',
  s char(1) DEFAULT ' ', t varchar(20) DEFAULT (concat('a','b')), u varchar(20) DEFAULT ('a' + 'b'),
  v int DEFAULT (1 + 1), w varchar(10) DEFAULT '''', x varchar(10) DEFAULT 'a''b''' COMMENT 'x''s comment',
  {extra}
  PRIMARY KEY (id), UNIQUE KEY (o), KEY by_ab (a, b)) COMMENT 'exotic'"""

CHECK = '''
import json, sys
sys.path.insert(0, sys.argv[1])
import djflow_status as s
import djflow_populate as runner
dj, major = runner.import_datajoint()
import fastpipe
conn = fastpipe.schema.connection
cache = s.StatementCache(dj, major, remember=True)
report = {"answered": [], "mismatches": []}
for db in (fastpipe.schema.database, fastpipe.other.database):
    for (sql, args), answer in sorted(cache._prime(conn, db).items()):
        cursor = conn.query(sql, args=args)
        rows, names = [tuple(r) for r in cursor.fetchall()], [d[0] for d in cursor.description]
        expected = list(answer.rows)
        if "~lineage" in sql and "information_schema" not in sql:  # no ORDER BY: any order is the answer
            rows, expected = sorted(rows), sorted(expected)
        report["answered"].append(sql)
        if names != list(answer.names) or rows != expected:
            report["mismatches"].append([sql, args, names, list(answer.names), repr(rows), repr(expected)])
print(json.dumps(report))
'''


@pytest.mark.skipif(PG, reason="PostgreSQL: the reader answers no statement ahead (nothing to compare)")
def test_statements_answered_ahead_are_what_the_server_answers(fastpipe):
    folder, env, schema = fastpipe
    subprocess.run([sys.executable, "-c", STAGE], env=env, cwd=folder, check=True, capture_output=True, timeout=300)
    db = testdb.connect(env)
    with db.cursor() as cur:
        cur.execute(EXOTIC.format(db=schema, table="exotic", extra=""))
        cur.execute(EXOTIC.format(db=schema, table="escaped", extra=r"y varchar(20) DEFAULT 'back\\slash',"))
    db.close()
    out = subprocess.run([sys.executable, "-c", CHECK, str(READER.parent)], env=env, cwd=folder, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["mismatches"] == []
    answered = report["answered"]
    columns = [sql for sql in answered if sql.startswith("SHOW FULL COLUMNS")]
    assert "SHOW FULL COLUMNS FROM `exotic` IN `%s`" % schema in columns     # every default as SHOW writes it
    assert "SHOW FULL COLUMNS FROM `escaped` IN `%s`" % schema not in columns   # a backslash: asks the server
    assert "SHOW FULL COLUMNS FROM `__stats` IN `%s`" % schema in columns
    if DJ2:
        assert any("key_column_usage" in sql and "'exotic'" in sql for sql in answered)
        assert any("information_schema.statistics" in sql and "'exotic'" in sql for sql in answered)
        assert any("`~lineage`" in sql and "information_schema" not in sql for sql in answered)
    else:
        assert 'SHOW TABLE STATUS FROM `%s` WHERE name="__stats"' % schema in answered
        assert 'SHOW TABLES in `%s` LIKE "__stats"' % schema in answered
        assert "SHOW KEYS FROM `%s`.`exotic`" % schema in answered and "SHOW KEYS FROM `%s`.`__stats`" % schema \
            in answered


def test_statement_kinds():
    sys.path.insert(0, str(READER.parent))
    import djflow_status as s

    assert s._is_metadata("SHOW FULL COLUMNS FROM `t` IN `d`")
    assert s._is_metadata('SHOW TABLES in `d` LIKE "t"')
    assert s._is_metadata("\n  SELECT attribute_name, lineage FROM `d`.`~lineage`\n WHERE table_name = %s\n")
    assert s._is_metadata("SELECT * FROM information_schema.tables WHERE table_schema = 'd' AND table_name = 't'")
    assert not s._is_metadata("SHOW PROCESSLIST")
    assert not s._is_metadata("SELECT id FROM information_schema.processlist")
    assert not s._is_metadata("SELECT count(*) FROM `d`.`t` WHERE x IN (SELECT table_name FROM "
                              "information_schema.tables)")
    assert not s._is_metadata("SELECT count(DISTINCT `a`) FROM `d`.`t`")
    assert not s._is_metadata("INSERT INTO `d`.`~lineage` VALUES (1)")
    assert not s._is_metadata("SELECT a FROM `d`.`~lineage` JOIN `d`.`x` USING (a)")
    assert s._show_default("NULL") is None and s._show_default(None) is None
    assert s._show_default("'it''s'") == "it's" and s._show_default("''") == ""
    assert s._show_default("current_timestamp()") == "current_timestamp()" and s._show_default("5") == "5"
    assert s._show_default("'back\\\\slash'") is s._UNKNOWN and s._show_default("'a' + 'b'") is s._UNKNOWN
