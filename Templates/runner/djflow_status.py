"""djflow status reader: where a pipeline's run stands, read from the database.

`djflow status` runs this file with the pipeline's interpreter (the Python and DataJoint the jobs use),
next to djflow_populate.py, whose import and table resolution it shares. It reads one JSON request on
stdin and prints one JSON document on stdout:

    request:  {"restriction": JSON text or null,
               "tables": [{"name", "role": "job"|"gate", "modules": [...], "table": runner table path}]}
    response: {"datajoint": version, "tables": {name: {...}}, "errors": [...], "reader": {...}}

Per job table: total, done, to_do (keys of the restricted key source without a row, as progress()
counts them), and the jobs-table rows by status (pending, reserved, error, ignore) with the reserved
workers (host, pid, connection) and the first error message. Per gate: entries people made, and the
upstream keys still waiting for one. Statements are bounded, never one per key: on MySQL/MariaDB a few
per schema for every table definition, and the counts of all tables in UNION ALL statements of 100 (see
"Fast path" below; DJFLOW_STATUS_PLAIN=1 runs DataJoint's own path instead, one heading and one
progress() at a time). "reader" is the reader's own account: statements sent to the server ("sent") and
answered without it ("answered"), schemas answered ahead, tables counted by DataJoint's own path
("plain"), and seconds per phase (wall and CPU). Connection from the DJ_* environment, as for the jobs.
Exit 0, 2 usage (bad request, import error), 75 database unreachable.
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import djflow_populate as runner  # noqa: E402  (the runner beside this file)

MAX_RESERVED = 5
PLAIN_ENV = "DJFLOW_STATUS_PLAIN"  # "1": DataJoint's own path, statements only counted (for comparison)
BATCH, BATCH_BYTES = 100, 1 << 20  # count subqueries per UNION ALL statement, and their SQL in bytes at most


# ---------------------------------------------------------------------------
# Fast path. Importing a pipeline makes DataJoint load every table's heading with about eight metadata
# statements (2.x; 0.14 fewer, and again for each key source's parents), and progress() counts with one or
# two statements per table. The reader keeps DataJoint's code and its SQL, and only changes how the
# statements reach the server:
#   * metadata statements (SHOW ..., SELECT from information_schema, the ~lineage rows) are answered once
#     and remembered for the rest of the run; any other statement that is not a read forgets them all;
#   * when a schema is activated, the per-table statements DataJoint is about to send for each of its
#     tables are answered ahead from a few statements for the whole schema, where the answer to the
#     per-table statement is a filter of the schema-wide one (same SELECT, same source; rows split by
#     table name), and only for schemas whose names make that split exact (plain ASCII names, no two
#     alike but for case): a statement the reader did not foresee simply goes to the server;
#   * the count statements DataJoint would run for len(key_source) and len(key_source - table) (exactly
#     what progress() means; 0.14's progress() runs these two) are captured, not run, and sent together,
#     100 scalar subqueries per UNION ALL statement. Anything unexpected (a count that sends more than one
#     statement, or a batch the server refuses) falls back to DataJoint's own progress() for that table.
# ---------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[A-Za-z0-9_$#~-]+\Z")
_READ = re.compile(r"\s*(SELECT|SHOW)\b", re.I)
_SHOW_METADATA = re.compile(
    r"\s*SHOW\s+(FULL\s+)?(TABLES|COLUMNS|FIELDS|KEYS|INDEX|INDEXES|TABLE\s+STATUS|CREATE\s+TABLE)\b", re.I)
_INFORMATION_SCHEMA = re.compile(r"information_schema", re.I)
_SOURCES = re.compile(r"\b(?:FROM|JOIN)\s+([^\s,()]+)", re.I)
_STATIC_VIEW = re.compile(r"`?information_schema`?\.`?(tables|columns|key_column_usage|statistics|schemata|"
                          r"table_constraints|referential_constraints)`?\Z", re.I)
_LINEAGE_SELECT = re.compile(r"\s*SELECT\s[^;`]*\sFROM\s+`[^`]+`\.`~lineage`(\s+WHERE\s[^;`]*)?\s*\Z", re.I)
_CAPTURED = object()  # what a captured count statement "returns"


def _normal(sql):
    return " ".join(sql.split())


def _key(conn, sql, args):
    """What a remembered answer is filed under: the connection, the statement (whitespace folded: DataJoint
    writes some statements over several indented lines) and its arguments; None if they cannot be keyed."""
    if not isinstance(sql, str):
        return None
    if args is None or isinstance(args, (tuple, list)) and all(
            isinstance(a, (str, int, float, bytes)) or a is None for a in args):
        return id(conn), _normal(sql), tuple(args or ())
    return None


def _is_metadata(sql):
    """A read of table definitions, which do not change during the run unless the run itself writes:
    SHOW of tables, columns, keys; a SELECT whose every source is one of information_schema's views of
    definitions; DataJoint 2.x's read of a schema's ~lineage rows."""
    head = sql[:64].lstrip()[:6].upper()
    if head[:4] == "SHOW":
        return bool(_SHOW_METADATA.match(sql))
    if head != "SELECT":
        return False
    if "~lineage`" in sql and _LINEAGE_SELECT.match(sql):
        return True
    if not _INFORMATION_SCHEMA.search(sql):
        return False
    sources = _SOURCES.findall(sql)
    return bool(sources) and all(_STATIC_VIEW.match(source) for source in sources)


class _Rows:
    """A read-only cursor over remembered rows (what DataJoint uses of pymysql's: fetch*, iteration, rowcount)."""

    def __init__(self, rows, description):
        self._rows, self.description, self.rowcount, self._at = rows, description, len(rows), 0
        self.arraysize, self.lastrowid = 1, None

    def fetchone(self):
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size=None):
        rows = self._rows[self._at:self._at + (size or self.arraysize)]
        self._at += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._at:]
        self._at = len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchone, None)

    def close(self):
        pass


class _Answer:
    """Rows of one statement, as tuples, with column names and the cursor description."""

    def __init__(self, names, description, rows):
        self.names, self.description, self.rows = tuple(names), description, tuple(tuple(r) for r in rows)

    def cursor(self, as_dict):
        if as_dict:
            return _Rows([dict(zip(self.names, r)) for r in self.rows], self.description)
        return _Rows(self.rows, self.description)


_SHOW_COLUMNS = ["Field", "Type", "Collation", "Null", "Key", "Default", "Extra", "Privileges", "Comment"]
_UNKNOWN = object()
_SHOW_KEYS = {"Table": "TABLE_NAME", "Non_unique": "NON_UNIQUE", "Key_name": "INDEX_NAME",
              "Seq_in_index": "SEQ_IN_INDEX", "Column_name": "COLUMN_NAME", "Collation": "COLLATION",
              "Cardinality": "CARDINALITY", "Sub_part": "SUB_PART", "Packed": "PACKED", "Null": "NULLABLE",
              "Index_type": "INDEX_TYPE", "Comment": "COMMENT", "Index_comment": "INDEX_COMMENT",
              "Ignored": "IGNORED"}


def _show_default(value):
    """SHOW COLUMNS' Default from information_schema's COLUMN_DEFAULT on MariaDB >= 10.2.7, which differs
    only for literals: 'NULL' (nullable, no default) is shown as no value, and a quoted literal ('it''s')
    unquoted (it's); numbers, b'1' and expressions (current_timestamp(), (1 + 1)) are the same. _UNKNOWN
    where that cannot be told for certain (a backslash escape, a lone quote)."""
    if value is None or value == "NULL":
        return None
    if not isinstance(value, str):
        return _UNKNOWN
    if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
        inner = value[1:-1]
        if "\\" in inner or "'" in inner.replace("''", ""):
            return _UNKNOWN
        return inner.replace("''", "'")
    if "'" in value and not (value[0] == "(" or re.match(r"[A-Za-z_]\w*\(", value) or value.startswith("b'")):
        return _UNKNOWN
    return value


class StatementCache:
    """Wraps DataJoint's Connection.query for this process (see above). Counts what it did in `stats`."""

    def __init__(self, dj, major, remember):
        from datajoint import connection

        self.major, self.remember = major, remember
        self._class = connection.Connection
        self._original = self._class.__dict__["query"]
        self.answers, self.primed, self.capturing, self._quoting, self._seen = {}, set(), None, {}, {}
        self.stats = {"sent": 0, "answered": 0, "primed_schemas": 0, "prime_statements": 0, "sql_seconds": 0.0}

    def install(self):
        cache = self

        def query(conn, sql, args=(), *rest, **options):
            return cache.query(conn, sql, args, rest, options)

        query.__doc__ = self._original.__doc__
        self._class.query = query
        return self

    def uninstall(self):
        self._class.query = self._original

    def _send(self, conn, sql, args=(), rest=(), options=None):
        self.stats["sent"] += 1
        started = time.perf_counter()
        try:
            return self._original(conn, sql, args, *rest, **(options or {}))
        finally:
            self.stats["sql_seconds"] += time.perf_counter() - started

    def query(self, conn, sql, args, rest, options):
        key = _key(conn, sql, args) if self.remember and not rest and self.capturing is None else None
        answer = self.answers.get(key) if key is not None else None
        if answer is not None:  # only metadata statements are ever remembered
            self.stats["answered"] += 1
            return answer.cursor(options.get("as_dict", False))
        metadata = isinstance(sql, str) and _is_metadata(sql)
        if self.capturing is not None and not metadata:
            self.capturing.append((sql, args))
            return _Rows(((_CAPTURED, _CAPTURED),), None)
        if not self.remember or not isinstance(sql, str) or rest:
            return self._send(conn, sql, args, rest, options)
        if not metadata:
            if not _READ.match(sql):
                self.answers.clear()  # the run writes (declares a table, inserts Lookup contents): forget
            return self._send(conn, sql, args, rest, options)
        if self._prime_new_schemas(conn) and key is not None:
            answer = self.answers.get(key)
            if answer is not None:
                self.stats["answered"] += 1
                return answer.cursor(options.get("as_dict", False))
        cursor = self._send(conn, sql, args, rest, options)
        rows, description = cursor.fetchall(), cursor.description
        names = [d[0] for d in description or ()]
        if key is None or description is None or len(set(names)) != len(names):
            return _Rows(rows, description)
        as_dict = options.get("as_dict", False)
        answer = _Answer(names, description, [tuple(r[n] for n in names) for r in rows] if as_dict else rows)
        self.answers[key] = answer
        return answer.cursor(as_dict)

    # -- answering a schema's per-table statements ahead -----------------------------------------------

    def _prime_new_schemas(self, conn):
        """Answer ahead for the schemas activated on this connection since the last call; True if any."""
        schemas = getattr(conn, "schemas", None)
        if not isinstance(schemas, dict) or len(schemas) == self._seen.get(id(conn)):
            return False  # (DataJoint only ever adds schemas to a connection)
        self._seen[id(conn)] = len(schemas)
        primed = False
        for database in list(schemas):
            if (id(conn), database) in self.primed:
                continue
            self.primed.add((id(conn), database))
            try:
                answers = self._prime(conn, database)
            except Exception as e:  # noqa: BLE001 - the statements then simply go to the server
                if runner.classify(e) in ("terminated", "interrupted"):
                    raise
                runner.log.debug("status: schema %s not primed: %s: %s", database, type(e).__name__, e)
                continue
            if answers:
                self.stats["primed_schemas"] += 1
                primed = True
                for (sql, args), answer in answers.items():
                    self.answers.setdefault((id(conn), sql, args), answer)
        return primed

    def _bulk(self, conn, sql, args=()):
        self.stats["prime_statements"] += 1
        cursor = self._send(conn, sql, args)
        return [d[0] for d in cursor.description], cursor.description, cursor.fetchall()

    def _prime(self, conn, db):
        """{statement key: answer} for the schema's tables, or {} when the split would not be exact."""
        if not _SAFE_NAME.match(db):
            return {}
        names, desc, rows = self._bulk(conn, "SELECT * FROM information_schema.tables WHERE table_schema = %s",
                                       (db,))
        upper = [n.upper() for n in names]
        if "TABLE_NAME" not in upper or "TABLE_SCHEMA" not in upper:
            return {}
        at_name, at_schema = upper.index("TABLE_NAME"), upper.index("TABLE_SCHEMA")
        tables = [r[at_name] for r in rows]
        if any(r[at_schema] != db for r in rows) or not all(isinstance(t, str) and _SAFE_NAME.match(t)
                                                            for t in tables):
            return {}
        if len({t.lower() for t in tables}) != len(tables):
            return {}
        by_table = {t: [r for r in rows if r[at_name] == t] for t in tables}
        # the statements for an absent ~lineage table are answered too (empty): no name differs from it by case
        known = tables + (["~lineage"] if "~lineage" not in {t.lower() for t in tables} else [])
        answers = {}

        def put(sql, args, names, description, rows):
            answers[(_normal(sql), tuple(args))] = _Answer(names, description, rows)

        self._prime_columns(conn, db, tables, put)
        if self.major >= 2:
            for t in known:
                put("SELECT * FROM information_schema.tables WHERE table_schema = '%s' AND table_name = '%s'"
                    % (db, t), (), names, desc, by_table.get(t, []))
            self._prime_keys(conn, db, tables, put)
            if "~lineage" in by_table:
                self._prime_lineage(conn, db, tables, put)
        else:
            names, desc, rows = self._bulk(conn, "SHOW TABLE STATUS FROM `%s`" % db)
            if not names or names[0] != "Name" or sorted(r[0] for r in rows) != sorted(tables):
                return {}
            for t in tables:
                put('SHOW TABLE STATUS FROM `%s` WHERE name="%s"' % (db, t), (), names, desc,
                    [r for r in rows if r[0] == t])
            names, desc, rows = self._bulk(conn, "SHOW TABLES in `%s`" % db)
            listed = [r[0] for r in rows]
            if sorted(listed) != sorted(t for t in tables):
                return {}
            for t in tables:  # LIKE "t": '_' matches any one character, case-insensitively (ASCII names)
                like = re.compile("".join("." if c == "_" else re.escape(c) for c in t), re.I)
                column = ("Tables_in_%s (%s)" % (db, t),) + tuple(desc[0][1:])
                put('SHOW TABLES in `%s` LIKE "%s"' % (db, t), (), [column[0]], (column,),
                    [(n,) for n in listed if like.fullmatch(n)])
            self._prime_show_keys(conn, db, tables, put)
        return answers

    def _prime_show_keys(self, conn, db, tables, put):
        """0.14: SHOW KEYS of every table, from information_schema.statistics, which MariaDB fills the same
        way (the same rows, in the same order, under other column names). Checked against the real
        statement for the table with the most index columns; any difference: not answered."""
        if not self._mariadb_quotes_defaults(conn):  # (MariaDB 10.2.7 or later: the servers this was checked on)
            return
        names, _, rows = self._bulk(conn, "SELECT * FROM information_schema.statistics WHERE table_schema = %s",
                                    (db,))
        upper = [n.upper() for n in names]
        if "TABLE_NAME" not in upper or any(r[upper.index("TABLE_NAME")] not in tables for r in rows):
            return
        at_name = upper.index("TABLE_NAME")
        by_table = {t: [r for r in rows if r[at_name] == t] for t in tables}
        probe = max(tables, key=lambda t: len(by_table[t]))
        if not by_table[probe]:
            return
        cursor = self._send(conn, "SHOW KEYS FROM `%s`.`%s`" % (db, probe))
        real, description = cursor.fetchall(), cursor.description
        shown = [d[0] for d in description]
        if any(_SHOW_KEYS.get(n) not in upper for n in shown):
            return
        at = [upper.index(_SHOW_KEYS[n]) for n in shown]
        emulated = {t: [tuple(r[k] for k in at) for r in by_table[t]] for t in tables}
        if [tuple(r) for r in real] != emulated[probe]:
            runner.log.debug("status: SHOW KEYS of %s.%s differs from information_schema", db, probe)
            return
        for t in tables:
            put("SHOW KEYS FROM `%s`.`%s`" % (db, t), (), shown, description, emulated[t])

    def _mariadb_quotes_defaults(self, conn):
        """MariaDB 10.2.7 and later: information_schema.columns writes a literal default quoted, NULL for
        "no default, nullable" (SHOW COLUMNS: unquoted, and no value). Not known for other servers."""
        if id(conn) not in self._quoting:
            self._quoting[id(conn)] = False
            _, _, rows = self._bulk(conn, "SELECT VERSION()")
            version = str(rows[0][0]) if rows else ""
            numbers = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
            if "mariadb" in version.lower() and numbers:
                self._quoting[id(conn)] = tuple(int(n) for n in numbers.groups()) >= (10, 2, 7)
        return self._quoting[id(conn)]

    def _prime_columns(self, conn, db, tables, put):
        """SHOW FULL COLUMNS of every table, from information_schema.columns (MariaDB shows the same
        columns, filled the same way, but for how the default is written: see _show_default). Checked
        against the real statement for the table with the most defaults; any difference: not answered."""
        if not self._mariadb_quotes_defaults(conn):
            return
        _, _, rows = self._bulk(
            conn, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME, IS_NULLABLE, COLUMN_KEY, "
                  "COLUMN_DEFAULT, EXTRA, PRIVILEGES, COLUMN_COMMENT FROM information_schema.columns "
                  "WHERE table_schema = %s ORDER BY table_name, ordinal_position", (db,))
        shown = {t: [] for t in tables}
        for row in rows:
            if row[0] not in shown:
                return
            if shown[row[0]] is not None:
                default = _show_default(row[6])
                shown[row[0]] = None if default is _UNKNOWN else shown[row[0]] + [row[1:6] + (default,) + row[7:]]
        candidates = [t for t in tables if shown[t]]
        if not candidates:
            return
        probe = max(candidates, key=lambda t: (sum(r[5] is not None for r in shown[t]), len(shown[t])))
        sql = "SHOW FULL COLUMNS FROM `%s` IN `%s`" % (probe, db)
        cursor = self._send(conn, sql)
        real, description = cursor.fetchall(), cursor.description
        names = [d[0] for d in description]
        if names != _SHOW_COLUMNS or [tuple(r) for r in real] != shown[probe]:
            runner.log.debug("status: SHOW FULL COLUMNS of %s.%s differs from information_schema", db, probe)
            return
        for t in candidates:
            put("SHOW FULL COLUMNS FROM `%s` IN `%s`" % (t, db), (), names, description, shown[t])

    def _prime_keys(self, conn, db, tables, put):
        """2.x: primary-key columns and secondary indexes of every table (information_schema)."""
        names, desc, rows = self._bulk(
            conn, "SELECT TABLE_NAME, COLUMN_NAME as column_name FROM information_schema.key_column_usage "
                  "WHERE table_schema = %s AND constraint_name = 'PRIMARY' ORDER BY table_name, ordinal_position",
            (db,))
        if any(r[0] not in tables for r in rows):
            return
        for t in tables:
            put("SELECT COLUMN_NAME as column_name FROM information_schema.key_column_usage WHERE table_schema = "
                "'%s' AND table_name = '%s' AND constraint_name = 'PRIMARY' ORDER BY ordinal_position" % (db, t), (),
                names[1:], desc[1:], [r[1:] for r in rows if r[0] == t])
        names, desc, rows = self._bulk(
            conn, "SELECT TABLE_NAME, INDEX_NAME as index_name, COLUMN_NAME as column_name, NON_UNIQUE as "
                  "non_unique, SEQ_IN_INDEX as seq_in_index FROM information_schema.statistics WHERE table_schema = "
                  "%s AND index_name != 'PRIMARY' ORDER BY table_name, index_name, seq_in_index", (db,))
        if any(r[0] not in tables for r in rows):
            return
        for t in tables:
            put("SELECT INDEX_NAME as index_name, COLUMN_NAME as column_name, NON_UNIQUE as non_unique, "
                "SEQ_IN_INDEX as seq_in_index FROM information_schema.statistics WHERE table_schema = '%s' AND "
                "table_name = '%s' AND index_name != 'PRIMARY' ORDER BY index_name, seq_in_index" % (db, t), (),
                names[1:], desc[1:], [r[1:] for r in rows if r[0] == t])

    def _prime_lineage(self, conn, db, tables, put):
        """2.x: each table's rows of the schema's ~lineage table (no order asked)."""
        names, desc, rows = self._bulk(conn, "SELECT table_name, attribute_name, lineage FROM `%s`.`~lineage`" % db)
        owners = {r[0] for r in rows}
        if not all(isinstance(t, str) and _SAFE_NAME.match(t) for t in owners):
            return
        if len({t.lower() for t in owners | set(tables)}) != len(owners | set(tables)):
            return
        for t in tables:
            put("SELECT attribute_name, lineage FROM `%s`.`~lineage` WHERE table_name = %%s" % db, (t,),
                names[1:], desc[1:], [r[1:] for r in rows if r[0] == t])

    # -- counts ----------------------------------------------------------------------------------------

    def count_statement(self, expr):
        """The one statement DataJoint sends for len(expr), captured instead of sent; None if it is not one."""
        self.capturing = []
        try:
            value = expr.__len__()
        except Exception as e:  # noqa: BLE001 - DataJoint's own path will say what is wrong
            if runner.classify(e) not in (None, "sql"):
                raise
            return None
        finally:
            captured, self.capturing = self.capturing, None
        if value is not _CAPTURED or len(captured) != 1 or captured[0][1] or not isinstance(captured[0][0], str):
            return None
        return captured[0][0]


class CountBatch:
    """Count statements, each sent once, as scalar subqueries of UNION ALL statements."""

    def __init__(self, cache, conn):
        self.cache, self.conn, self.values, self.failed = cache, conn, {}, set()

    def add(self, expr):
        sql = self.cache.count_statement(expr)
        if sql is not None:
            self.values.setdefault(sql, None)
        return sql

    def chunks(self):
        """The statements not yet counted, BATCH at a time and about BATCH_BYTES of SQL at most (restrictions
        can be long; a server refuses a statement beyond max_allowed_packet)."""
        chunk, size = [], 0
        for sql in [sql for sql, value in self.values.items() if value is None]:
            if chunk and (len(chunk) == BATCH or size + len(sql) > BATCH_BYTES):
                yield chunk
                chunk, size = [], 0
            chunk.append(sql)
            size += len(sql)
        if chunk:
            yield chunk

    def run(self):
        for chunk in self.chunks():
            statement = " UNION ALL ".join("SELECT %d AS i, (%s) AS n" % (k, sql) for k, sql in enumerate(chunk))
            try:
                rows = self.conn.query(statement).fetchall()
            except Exception as e:  # noqa: BLE001 - those counts fall back to DataJoint's own path
                if runner.classify(e) not in (None, "sql"):
                    raise
                self.failed.update(chunk)
                continue
            for k, n in rows:
                self.values[chunk[int(k)]] = int(n)

    def value(self, sql):
        return None if sql is None or sql in self.failed else self.values.get(sql)


def _quote(table):
    """The identifier quote of the table's backend (` on MySQL, " on PostgreSQL)."""
    return table.full_table_name[0]


def jobs_counts(tables, major):
    """{name: {status: count}} for every job table, from the jobs tables that exist (never declaring one):
    one information_schema query, then UNION ALL queries of GROUP BY counts, 100 statements each (2.x: a
    jobs table per table; 0.14: one per schema, grouped by table_name)."""
    counts = {name: {} for name in tables}
    if not tables:
        return counts
    conn = next(iter(tables.values())).connection
    schemas = sorted({t.database for t in tables.values()})
    existing = set(conn.query(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (%s)"
        % ", ".join(["%s"] * len(schemas)), args=tuple(schemas)).fetchall())
    statements = []  # (sql, args): rows of (owner name, status, count)
    if major >= 2:
        for name, table in sorted(tables.items()):
            jobs, q = "~~" + table.table_name.lstrip("_"), _quote(table)
            # PostgreSQL: each schema's status is its own enum type, which UNION ALL does not mix
            status = "CAST(status AS text)" if q == '"' else "status"
            if (table.database, jobs) in existing:
                statements.append(("SELECT %%s AS t, %s AS status, COUNT(*) AS n FROM %s%s%s.%s%s%s GROUP BY status"
                                   % (status, q, table.database, q, q, jobs, q), [name]))
    else:
        for db in schemas:
            if (db, "~jobs") not in existing:
                continue
            owners = {t.table_name: name for name, t in sorted(tables.items()) if t.database == db}
            q = _quote(next(t for t in tables.values() if t.database == db))
            cases = " ".join("WHEN %s THEN %s" for _ in owners)
            statements.append((
                "SELECT CASE table_name %s END AS t, status, COUNT(*) AS n FROM %s%s%s.%s~jobs%s "
                "WHERE table_name IN (%s) GROUP BY table_name, status"
                % (cases, q, db, q, q, q, ", ".join(["%s"] * len(owners))),
                [x for tbl, name in owners.items() for x in (tbl, name)] + list(owners)))
    for start in range(0, len(statements), 100):
        chunk = statements[start:start + 100]
        sql = " UNION ALL ".join(text for text, _ in chunk)
        for name, status, n in conn.query(sql, args=tuple(a for _, args in chunk for a in args)).fetchall():
            if name in counts:
                counts[name][str(status)] = int(n)
    return counts


def _jobs_rows(table, major, restrictions):
    """The table's jobs-table rows (an expression), within the restrictions where the jobs table allows."""
    if major >= 2:
        rows = table.jobs
        for restriction in restrictions:
            rows = rows & restriction
        return rows
    # 0.14: one jobs table per schema; keys are hashed, so a restriction cannot apply to its rows
    return table.connection.schemas[table.database].jobs & {"table_name": table.table_name}


def job_details(table, major, restrictions, counts):
    """Counts by status (restricted ones re-read per table), reserved workers and the first error: extra
    queries only for tables that have such rows."""
    import datajoint as dj

    if restrictions and major >= 2 and counts:
        rows = _jobs_rows(table, major, restrictions)
        statuses, numbers = dj.U("status").aggr(rows, n="count(*)").fetch("status", "n")
        counts = {str(status): int(n) for status, n in zip(statuses, numbers)}
    reserved, first_error = [], None
    if counts.get("reserved") or counts.get("error"):
        rows = _jobs_rows(table, major, restrictions)
        if counts.get("reserved"):
            reserved = (rows & "status='reserved'").fetch("host", "pid", "connection_id", as_dict=True,
                                                         limit=MAX_RESERVED)
        if counts.get("error"):
            errors = (rows & "status='error'").fetch("error_message", "host", "pid", as_dict=True, limit=1)
            first_error = errors[0] if len(errors) else None
    return counts, reserved, first_error


def job_status(table, major, restrictions, counts, progress):
    remaining, total = progress
    counts, reserved, first_error = job_details(table, major, restrictions, counts)
    return {
        "total": int(total), "done": int(total - remaining), "to_do": int(remaining),
        "pending": counts.get("pending", 0), "reserved": counts.get("reserved", 0),
        "error": counts.get("error", 0), "ignored": counts.get("ignore", 0),
        "workers": [{"host": r["host"], "pid": int(r["pid"]) if r["pid"] is not None else None,
                     "connection_id": int(r["connection_id"]) if r["connection_id"] is not None else None,
                     "job_id": scheduler_job(table, r["host"], r["pid"])}
                    for r in reserved],
        "first_error": str(first_error["error_message"]) if first_error else None,
        "first_error_job_id": scheduler_job(table, first_error["host"], first_error["pid"]) if first_error else None,
    }


def progress_statements(table, major, restrictions, batch, dj):
    """The count statements of progress(), with the key source restricted as populate() restricts it:
    ("left", len(key_source - table), len(key_source)), as progress() defines (remaining, total); or, when
    that is provably the same number, ("matched", len(key_source & table), len(key_source)) with
    remaining = total - matched, which reads the table's rows instead of every key of the key source (the
    totals of tables sharing a key source are one statement). None: use progress() itself."""
    try:
        todo = table._jobs_to_do(restrictions)
        target = table if major >= 2 else table.target
        if _match_counts_exact(todo, target, dj):
            kind, part = "matched", todo & target
        else:
            kind, part = "left", todo - target
    except Exception as e:  # noqa: BLE001 - progress() will raise it again, where the plain path would
        if runner.classify(e) not in (None, "sql"):
            raise
        return None
    first, total = batch.add(part), batch.add(todo)
    return (kind, first, total) if first and total else None


def _match_counts_exact(todo, target, dj):
    """len(todo - target) == len(todo) - len(todo & target) when every key of todo is either matched or
    not, never unknown: the attributes compared are all in the target's primary key (never NULL), and no
    key of todo can be NULL (every primary-key attribute declared NOT NULL, no outer join anywhere in
    todo). A key's attributes decide the match, so each key falls on one side. Anything unknown: False."""
    try:
        if not isinstance(target, dj.Table) or target.restriction:
            return False
        keys, target_keys = list(todo.primary_key), set(target.primary_key)
        if not keys or any(k not in target_keys for k in keys):
            return False
        if any(todo.heading[k].nullable for k in keys):
            return False
        return not _outer_join(todo, 0)
    except Exception:  # noqa: BLE001 - not provable: the plain difference
        return False


def _outer_join(expr, depth):
    """True if expr or any query it reads from has an outer join (0.14 `_left`, 2.x `_joins`), or if that
    cannot be told."""
    if depth > 64:
        return True
    left, joins = getattr(expr, "_left", None), getattr(expr, "_joins", None)
    if left is None and joins is None:
        return True
    if any(bool(x) for x in (left or ())) or any(bool(j[0]) for j in (joins or ())):
        return True
    return any(_outer_join(s, depth + 1) for s in (getattr(expr, "support", None) or ()) if not isinstance(s, str))


def scheduler_job(table, host, pid):
    """The scheduler job that ran (host, pid), from the runner's ``~djflow_worker`` rows: that pid on that
    host, else (pool workers of --processes > 1) the latest job of this table on that host."""
    q = table.full_table_name[0]
    name = "%s%s%s.%s%s%s" % (q, table.database, q, q, runner.WORKERS_TABLE, q)
    try:
        rows = table.connection.query(
            "SELECT job_id FROM %s WHERE host = %%s AND (pid = %%s OR table_name = %%s) "
            "ORDER BY pid = %%s DESC, started DESC LIMIT 1" % name,
            args=(host, pid, table.table_name, pid)).fetchall()
    except Exception:  # no worker recorded in this schema yet
        return None
    return rows[0][0] if rows else None


def gate_upstream(gate):
    """The upstream keys without a gate entry (join of its primary parents minus it), or None."""
    parents = gate.parents(primary=True, as_objects=True)
    if not parents:
        return None
    upstream = parents[0].proj()
    for parent in parents[1:]:
        upstream = upstream * parent.proj()
    return upstream - gate.proj()


def gate_status(gate, dj):
    """Entries made in a gate, and the upstream keys without one."""
    entries = len(gate)
    waiting = gate_upstream(gate)
    return {"entries": int(entries), "waiting": len(waiting) if waiting is not None else None}


class _Clock:
    """Seconds spent per phase (wall, and this process's CPU), for the reader's own report."""

    def __init__(self):
        self.seconds, self.cpu, self._sql = {}, {}, 0.0
        self._last, self._last_cpu = time.perf_counter(), time.process_time()

    def lap(self, phase, cache=None):
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[phase] = round(self.seconds.get(phase, 0) + now - self._last, 3)
        self.cpu[phase] = round(self.cpu.get(phase, 0) + cpu - self._last_cpu, 3)
        self._last, self._last_cpu = now, cpu
        if cache is not None:
            self.seconds[phase + " (sql)"] = round(cache.stats["sql_seconds"] - self._sql, 3)
            self._sql = cache.stats["sql_seconds"]


def read(request):
    clock = _Clock()
    dj, major = runner.import_datajoint()
    clock.lap("import datajoint")
    restrictions = runner.parse_restriction(request.get("restriction"))
    out = {"datajoint": dj.__version__, "tables": {}, "errors": []}
    fast = os.environ.get(PLAIN_ENV, "").strip().lower() not in ("1", "true", "yes")
    # plain: every statement passes straight through (only counted)
    cache = StatementCache(dj, major, remember=fast and runner._backend(dj) == "mysql").install()
    try:
        jobs, gates = resolve(request, dj)
        clock.lap("import pipeline", cache)
        counts = jobs_counts(jobs, major)
        clock.lap("jobs tables", cache)
        for name, table in jobs.items():
            if restrictions:
                runner.check_restriction_attributes(table, restrictions)
        progress, waiting, plain = {}, {}, []
        if fast and (jobs or gates):
            batch = CountBatch(cache, next(iter(list(jobs.values()) + list(gates.values()))).connection)
            planned = {name: progress_statements(table, major, restrictions, batch, dj)
                       for name, table in jobs.items()}
            gate_planned = {}
            for name, gate in gates.items():
                upstream = gate_upstream(gate)
                gate_planned[name] = (batch.add(gate), batch.add(upstream) if upstream is not None else "")
            clock.lap("key sources", cache)
            batch.run()
            clock.lap("counts", cache)
            for name, statements in planned.items():
                values = [batch.value(sql) for sql in statements[1:]] if statements else [None]
                if None not in values:
                    first, total = values
                    progress[name] = (total - first if statements[0] == "matched" else first, total)
            for name, (entries, upstream) in gate_planned.items():
                values = (batch.value(entries), batch.value(upstream) if upstream else "")
                if None not in values:
                    waiting[name] = {"entries": values[0], "waiting": values[1] if upstream else None}
        for name, table in jobs.items():
            if name not in progress:
                plain.append(name)
                progress[name] = runner.checked_progress(table, restrictions)
            out["tables"][name] = job_status(table, major, restrictions, counts[name], progress[name])
        for name, table in gates.items():
            if name not in waiting:
                plain.append(name)
            out["tables"][name] = waiting.get(name) or gate_status(table, dj)
        clock.lap("details", cache)
        out["reader"] = dict(cache.stats, mode="fast" if fast else "plain", plain=sorted(plain),
                             seconds=clock.seconds, cpu_seconds=clock.cpu)
    finally:
        cache.uninstall()
    return out


def _remember_absent_modules():
    """The runner tries module names for a schema-qualified table (M.sub, then sub) with importlib, which
    searches the path again for each missing one: with many tables and one import path, remember those
    that do not exist (what the runner's resolution finds is unchanged)."""
    absent, optional = set(), runner._import_optional

    def import_optional(name):
        if name in absent:
            return None
        module = optional(name)
        if module is None:
            absent.add(name)
        return module

    runner._import_optional = import_optional


def resolve(request, dj):
    """({name: job table}, {name: gate}) instances, importing each module list once."""
    _remember_absent_modules()
    imported, jobs, gates = {}, {}, {}
    for entry in request["tables"]:
        modules = tuple(entry["modules"])
        if modules not in imported:
            imported[modules] = runner.import_modules(list(modules))
        cls = runner.resolve_table(imported[modules], entry["table"], dj)
        runner.check_declared(cls, entry["table"], imported[modules], dj)
        (jobs if entry["role"] == "job" else gates)[entry["name"]] = cls()
    return jobs, gates


def main():
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # 2.x deprecates fetch(); 0.14 has no successor

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # anything the pipeline prints goes to stderr
    try:
        request = json.loads(sys.stdin.read())
        result, code = read(request), 0
    except runner.UsageError as e:
        result, code = {"errors": [str(e)], "status": "usage"}, runner.EXIT_USAGE
    except BaseException as e:  # noqa: B902
        kind = runner.classify(e)
        message = "%s: %s" % (type(e).__name__, e)
        if kind == "transient":
            result, code = {"errors": [message], "status": "transient"}, runner.EXIT_TRANSIENT
        elif kind in ("usage-db", "sql"):
            result, code = {"errors": [message], "status": "usage"}, runner.EXIT_USAGE
        else:
            import traceback

            traceback.print_exc()
            result, code = {"errors": [message], "status": "errors"}, runner.EXIT_ERRORS
    os.write(real_stdout, (json.dumps(result, default=str, sort_keys=True) + "\n").encode("utf-8"))
    return code


if __name__ == "__main__":
    sys.exit(main())
