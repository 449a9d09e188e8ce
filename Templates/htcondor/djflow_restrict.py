#!/usr/bin/env python3
"""Write a copy of a djflow DAG that runs only the keys matching a DataJoint restriction.

    python3 djflow_restrict.py WORKFLOW.dag RESTRICTION [--out FILE]
    condor_submit_dag -include_env DJ_USER,DJ_PASS WORKFLOW.restricted.dag

RESTRICTION is JSON, as the runner takes it: an object ({"subject": "M1"}), an array of
objects and SQL strings (OR), or a string (SQL). The copy keeps every line of the DAG and adds
    VARS <node> APPEND DJFLOW_RESTRICTION="<value>"
for each of its nodes (SPLICEd DAGs are restricted the same way, as <name>.restricted.dag).
APPEND sets the macro after the node's submit file is read, so no definition in the submit
file can silently drop the restriction (VARS default to PREPEND: the submit file would win).

The value goes inside '...' in the submit file's arguments, so ' and " are doubled first and
$ becomes $(DOLLAR); then \\ and " are escaped for DAGMan (HTCondor's rule for VARS values).
Exit 0 written, 2 bad arguments (not JSON, a line break, an unreadable DAG).
"""
import json
import os
import sys


def vars_value(text):
    """The text between the double quotes of VARS name="...", for a macro used inside '...' arguments."""
    submit = text.replace("$", "$(DOLLAR)").replace("'", "''").replace('"', '""')
    return submit.replace("\\", "\\\\").replace('"', '\\"')


def tokens(line):
    """DAGMan splits on spaces and tabs (djflow writes no quoted tokens in the commands it reads here)."""
    return line.split()


def restrict(dag_path, restriction, out_path, written):
    folder = os.path.dirname(dag_path)
    with open(dag_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = ["# written by djflow_restrict.py from %s: only keys matching the restriction below" % os.path.basename(dag_path),
           "# restriction: %s" % restriction]
    nodes = []
    for line in lines:
        words = tokens(line)
        keyword = words[0].upper() if words and not line.lstrip().startswith("#") else ""
        if keyword in ("JOB", "NODE") and len(words) >= 3:
            nodes.append(words[1])
        elif keyword == "SPLICE" and len(words) >= 3:
            inner = os.path.join(folder, words[2])
            stem = words[2][:-4] if words[2].endswith(".dag") else words[2]
            restricted = stem + ".restricted.dag"
            restrict(inner, restriction, os.path.join(folder, restricted), written)
            line = line.replace(words[2], restricted, 1)
        out.append(line)
    if nodes:
        out.append("")
        out.append("# the key restriction, for every node (APPEND: it overrides the submit file)")
        value = vars_value(restriction)
        out += ['VARS %s APPEND DJFLOW_RESTRICTION="%s"' % (node, value) for node in nodes]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    written.append(out_path)


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    out_path = None
    if "--out" in args:
        i = args.index("--out")
        if i + 1 >= len(args):
            print("djflow_restrict.py: --out needs a file name", file=sys.stderr)
            return 2
        out_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    dag_path, restriction = args
    if any(c in restriction for c in "\r\n\0"):
        print("djflow_restrict.py: the restriction may not contain a line break (DAG files are line-based); "
              "JSON can write it as \\n inside a string", file=sys.stderr)
        return 2
    try:
        json.loads(restriction)
    except ValueError as e:
        print("djflow_restrict.py: the restriction is not JSON: %s" % e, file=sys.stderr)
        return 2
    if not dag_path.endswith(".dag") or not os.path.isfile(dag_path):
        print("djflow_restrict.py: no DAG file %r" % dag_path, file=sys.stderr)
        return 2
    if out_path is None:
        out_path = dag_path[:-4] + ".restricted.dag"
    written = []
    try:
        restrict(dag_path, restriction, out_path, written)
    except OSError as e:
        print("djflow_restrict.py: %s" % e, file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
