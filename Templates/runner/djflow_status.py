"""djflow status reader: where a pipeline's run stands, read from the database.

`djflow status` runs this file with the pipeline's interpreter (the Python and DataJoint the jobs use),
next to djflow_populate.py, whose import and table resolution it shares. It reads one JSON request on
stdin and prints one JSON document on stdout:

    request:  {"restriction": JSON text or null,
               "tables": [{"name", "role": "job"|"gate", "modules": [...], "table": runner table path}]}
    response: {"datajoint": version, "tables": {name: {...}}, "errors": [...]}

Per job table: total, done, to_do (keys of the restricted key source without a row), and the jobs-table
rows by status (pending, reserved, error, ignore) with the reserved workers (host, pid, connection) and
the first error message. Per gate: entries people made, and the upstream keys still waiting for one.
Queries per table are bounded (counts and GROUP BY, never one per key). Connection from the DJ_*
environment, as for the jobs. Exit 0, 2 usage (bad request, import error), 75 database unreachable.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import djflow_populate as runner  # noqa: E402  (the runner beside this file)

MAX_RESERVED = 5


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
            if (table.database, jobs) in existing:
                statements.append(("SELECT %%s AS t, status, COUNT(*) AS n FROM %s%s%s.%s%s%s GROUP BY status"
                                   % (q, table.database, q, q, jobs, q), [name]))
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


def job_status(table, major, restrictions, counts):
    if restrictions:
        runner.check_restriction_attributes(table, restrictions)
    remaining, total = runner.checked_progress(table, restrictions)
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


def gate_status(gate, dj):
    """Entries made in a gate, and the upstream keys without one (join of its primary parents minus it)."""
    entries = len(gate)
    parents = gate.parents(primary=True, as_objects=True)
    waiting = None
    if parents:
        upstream = parents[0].proj()
        for parent in parents[1:]:
            upstream = upstream * parent.proj()
        waiting = len(upstream - gate.proj())
    return {"entries": int(entries), "waiting": waiting}


def read(request):
    dj, major = runner.import_datajoint()
    restrictions = runner.parse_restriction(request.get("restriction"))
    out = {"datajoint": dj.__version__, "tables": {}, "errors": []}
    imported, jobs, gates = {}, {}, {}
    for entry in request["tables"]:
        modules = tuple(entry["modules"])
        if modules not in imported:
            imported[modules] = runner.import_modules(list(modules))
        cls = runner.resolve_table(imported[modules], entry["table"], dj)
        runner.check_declared(cls, entry["table"], imported[modules], dj)
        (jobs if entry["role"] == "job" else gates)[entry["name"]] = cls()
    counts = jobs_counts(jobs, major)
    for name, table in jobs.items():
        out["tables"][name] = job_status(table, major, restrictions, counts[name])
    for name, table in gates.items():
        out["tables"][name] = gate_status(table, dj)
    return out


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
