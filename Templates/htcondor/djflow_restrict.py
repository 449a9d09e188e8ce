#!/usr/bin/env python3
"""Write a copy of a djflow DAG for one run: some keys only, failed keys retried, some tables only.

    python3 djflow_restrict.py WORKFLOW.dag [RESTRICTION] [--retry-failed] [--only T[,T...] | --from T[,T...]]
                               [--out FILE]
    condor_submit_dag -include_env DJ_USER,DJ_PASS WORKFLOW.restricted.dag

RESTRICTION is JSON, as the runner takes it: an object ({"subject": "M1"}), an array of
objects and SQL strings (OR), or a string (SQL). The copy keeps every line of the DAG and adds
    VARS <node> APPEND DJFLOW_RESTRICTION="<value>"
for each of its nodes (SPLICEd DAGs are written the same way, as <name>.restricted.dag).
APPEND sets the macro after the node's submit file is read, so no definition in the submit
file can silently drop the restriction (VARS default to PREPEND: the submit file would win).

--retry-failed adds VARS <node> APPEND DJFLOW_RETRY_FAILED="1" to the first node of each table
(its refresh step, or its only node): djflow_node.sh then passes --clear-errors on the first
attempt, so the table's failed keys (error rows, within the restriction) go back to the queue.

--only T,... keeps the nodes of these tables; --from T,... those of these tables and of every
table that depends on them (through the splices too). Every other node is marked DONE on its
JOB line: DAGMan does not run it and its children start as if it had succeeded, so the order of
the tables that run is kept. Tables are named by table name or job id (the "# djflow-table:"
lines of the DAG; a workflow pool's line lists its tables separated by commas, and naming one runs the
pool); an unknown name is an error listing the valid ones.

The restriction goes inside '...' in the submit file's arguments, so ' and " are doubled first and
each pair of a run of $ becomes $$(DOLLARDOLLAR), an odd last one $(DOLLAR) (what HTCondor gives back
as $$ and $, at submit and at match time); then \\ and " are escaped for DAGMan (HTCondor's rule for
VARS values). A restriction holding $(DOLLAR) after an odd number of $ cannot be written and is refused.
Prints the files written. Exit 0 written, 2 bad arguments (not JSON, a line break, an unreadable
DAG, an unknown table, nothing asked).
"""
import json
import os
import re
import sys

TABLE_MARK = "# djflow-table:"


class Usage(Exception):
    pass


DOLLAR_MACRO = re.compile(r"(?<!\$)(?:\$\$)*\$\((?i:dollar)\)")


def literal_dollars(text):
    """Runs of $ as HTCondor reads them back (djflow's HTCondorQuoting.literalDollars): each pair as
    $$(DOLLARDOLLAR) (left for the schedd, which makes it $$), an odd last one as $(DOLLAR)."""
    return re.sub(r"\$+", lambda m: "$$(DOLLARDOLLAR)" * (len(m.group()) // 2) + "$(DOLLAR)" * (len(m.group()) % 2), text)


def vars_value(text):
    """The text between the double quotes of VARS name="...", for a macro used inside '...' arguments."""
    submit = literal_dollars(text).replace("'", "''").replace('"', '""')
    return submit.replace("\\", "\\\\").replace('"', '\\"')


def tokens(line):
    """DAGMan splits on spaces and tabs (djflow writes no quoted tokens in the commands it reads here)."""
    return line.split()


def read_tree(dag_path, seen=None):
    """[(path, lines, {job id: (table, [nodes], [upstream job ids])})] for the DAG and its splices."""
    seen = set() if seen is None else seen
    if dag_path in seen:
        raise Usage("%s is spliced twice" % dag_path)
    seen.add(dag_path)
    try:
        with open(dag_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise Usage(str(e))
    tables = {}
    tree = [(dag_path, lines, tables)]
    for line in lines:
        if line.startswith(TABLE_MARK):
            words = tokens(line[len(TABLE_MARK):])
            if len(words) == 4:
                upstream = [] if words[3] == "-" else words[3].split(",")
                tables[words[0]] = (words[1], words[2].split(","), upstream)
            continue
        words = tokens(line)
        if words and not line.lstrip().startswith("#") and words[0].upper() == "SPLICE" and len(words) >= 3:
            tree += read_tree(os.path.join(os.path.dirname(dag_path), words[2]), seen)
    return tree


def select(tables, only, start):
    """The job ids to run: all, the named ones (--only), or the named ones and their dependents (--from)."""
    names = only or start
    if not names:
        return set(tables)
    by_name = {}
    for job, (table, _nodes, _upstream) in tables.items():
        by_name[job] = job
        for name in table.split(","):  # a workflow pool lists every table it runs
            by_name.setdefault(name, job)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        valid = ", ".join(table if table == job else "%s (%s)" % (table, job) for job, (table, _, _) in tables.items())
        raise Usage("unknown table%s %s; the tables of this DAG (name or job id): %s"
                    % ("s" if len(unknown) > 1 else "", ", ".join(repr(name) for name in unknown), valid or "none"))
    chosen = {by_name[name] for name in names}
    if start:
        changed = True
        while changed:
            changed = False
            for job, (_table, _nodes, upstream) in tables.items():
                if job not in chosen and chosen.intersection(upstream):
                    chosen.add(job)
                    changed = True
    return chosen


def write(path, lines, tables, out_path, chosen, restriction, retry_failed, asked):
    """The copy of one DAG file; SPLICE lines point at the spliced DAGs' copies."""
    job_of = {node: job for job, (_table, nodes, _upstream) in tables.items() for node in nodes}
    out = ["# written by djflow_restrict.py from %s: %s" % (os.path.basename(path), asked)]
    if restriction is not None:
        out.append("# restriction: %s" % restriction)
    nodes, done = [], []
    for line in lines:
        words = tokens(line)
        keyword = words[0].upper() if words and not line.lstrip().startswith("#") else ""
        if keyword in ("JOB", "NODE") and len(words) >= 3:
            nodes.append(words[1])
            job = job_of.get(words[1])
            if job is not None and job not in chosen and "DONE" not in (w.upper() for w in words[3:]):
                line += " DONE"
                done.append(words[1])
        elif keyword == "SPLICE" and len(words) >= 3:
            stem = words[2][:-4] if words[2].endswith(".dag") else words[2]
            line = line.replace(words[2], stem + ".restricted.dag", 1)
        out.append(line)
    if restriction is not None and nodes:
        out += ["", "# the key restriction, for every node (APPEND: it overrides the submit file)"]
        value = vars_value(restriction)
        out += ['VARS %s APPEND DJFLOW_RESTRICTION="%s"' % (node, value) for node in nodes]
    firsts = [tables[job][1][0] for job in tables if job in chosen]
    if retry_failed and firsts:
        out += ["", "# failed keys back to the queue: the first node of each table passes --clear-errors on its first attempt"]
        out += ['VARS %s APPEND DJFLOW_RETRY_FAILED="1"' % node for node in firsts]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return done


def parse(argv):
    args = list(argv)
    options = {"out": None, "retry_failed": False, "only": [], "from": []}
    positional = []
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            raise Usage(__doc__.strip())
        if arg == "--retry-failed":
            options["retry_failed"] = True
        elif arg in ("--out", "--only", "--from"):
            if not args:
                raise Usage("%s needs a value" % arg)
            value = args.pop(0)
            if arg == "--out":
                options["out"] = value
            else:
                options[arg[2:]] += value.split(",")
        elif arg.startswith("--") and arg != "--":
            raise Usage("unknown option %s" % arg)
        else:
            positional.append(arg)
    if not 1 <= len(positional) <= 2:
        raise Usage(__doc__.strip())
    if options["only"] and options["from"]:
        raise Usage("give --only or --from, not both")
    dag_path = positional[0]
    restriction = positional[1] if len(positional) == 2 else None
    if restriction is None and not (options["retry_failed"] or options["only"] or options["from"]):
        raise Usage("nothing to write: give a RESTRICTION, --retry-failed, --only or --from")
    if restriction is not None:
        if any(c in restriction for c in "\r\n\0"):
            raise Usage("the restriction may not contain a line break (DAG files are line-based); "
                        "JSON can write it as \\n inside a string")
        if DOLLAR_MACRO.search(restriction):
            raise Usage("the restriction holds '$(DOLLAR)' after an odd number of '$', which HTCondor turns "
                        "into one more '$' however it is written; JSON can write the '$' as \\u0024")
        try:
            json.loads(restriction)
        except ValueError as e:
            raise Usage("the restriction is not JSON: %s" % e)
    if not dag_path.endswith(".dag") or not os.path.isfile(dag_path):
        raise Usage("no DAG file %r" % dag_path)
    return dag_path, restriction, options


def main(argv=None):
    try:
        dag_path, restriction, options = parse(sys.argv[1:] if argv is None else argv)
        tree = read_tree(dag_path)
        tables = {}
        for _path, _lines, found in tree:
            tables.update(found)
        chosen = select(tables, options["only"], options["from"])
        asked = []
        if restriction is not None:
            asked.append("only keys matching the restriction below")
        if options["retry_failed"]:
            asked.append("failed keys retried")
        if options["only"] or options["from"]:
            asked.append("tables %s%s (other nodes DONE)" % ("from " if options["from"] else "",
                                                            ", ".join(options["only"] or options["from"])))
        written = []
        for path, lines, found in tree:
            if path == dag_path:
                out_path = options["out"] or dag_path[:-4] + ".restricted.dag"
            else:
                out_path = (path[:-4] if path.endswith(".dag") else path) + ".restricted.dag"
            write(path, lines, found, out_path, chosen, restriction, options["retry_failed"], "; ".join(asked))
            written.append(out_path)
    except Usage as e:
        print("djflow_restrict.py: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("djflow_restrict.py: %s" % e, file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
