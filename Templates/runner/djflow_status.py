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


def _counts_by_status(table, major, restrictions):
    """{status: count} of the table's jobs-table rows (one GROUP BY), up to MAX_RESERVED reserved rows
    and the first error message."""
    import datajoint as dj

    if major >= 2:
        rows = table.jobs
        for restriction in restrictions:
            rows = rows & restriction
    else:  # 0.14: one jobs table per schema; keys are hashed, so a restriction cannot apply to its rows
        rows = table.connection.schemas[table.database].jobs & {"table_name": table.table_name}
    statuses, numbers = dj.U("status").aggr(rows, n="count(*)").fetch("status", "n")
    counts = {str(status): int(n) for status, n in zip(statuses, numbers)}
    reserved = (rows & "status='reserved'").fetch("host", "pid", "connection_id", as_dict=True, limit=MAX_RESERVED)
    first_error = (rows & "status='error'").fetch("error_message", limit=1)
    return counts, reserved, (str(first_error[0]) if len(first_error) else None)


def job_status(cls, major, restrictions):
    table = cls()
    runner.check_restriction_attributes(table, restrictions)
    remaining, total = runner.checked_progress(table, restrictions)
    counts, reserved, first_error = _counts_by_status(table, major, restrictions)
    return {
        "total": int(total), "done": int(total - remaining), "to_do": int(remaining),
        "pending": counts.get("pending", 0), "reserved": counts.get("reserved", 0),
        "error": counts.get("error", 0), "ignored": counts.get("ignore", 0),
        "workers": [{"host": r["host"], "pid": int(r["pid"]) if r["pid"] is not None else None,
                     "connection_id": int(r["connection_id"]) if r["connection_id"] is not None else None}
                    for r in reserved],
        "first_error": first_error,
    }


def gate_status(cls, dj):
    """Entries made in a gate, and the upstream keys without one (join of its primary parents minus it)."""
    gate = cls()
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
    imported = {}
    for entry in request["tables"]:
        modules = tuple(entry["modules"])
        if modules not in imported:
            imported[modules] = runner.import_modules(list(modules))
        cls = runner.resolve_table(imported[modules], entry["table"], dj)
        runner.check_declared(cls, entry["table"], imported[modules], dj)
        if entry["role"] == "job":
            out["tables"][entry["name"]] = job_status(cls, major, restrictions)
        else:
            out["tables"][entry["name"]] = gate_status(cls, dj)
    return out


def main():
    import logging

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
