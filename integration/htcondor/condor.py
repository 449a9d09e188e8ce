"""The project's own DAGMan reader, job-ad decoding, and a harness that runs a DAG node by node.

No HTCondor pool can run here (see README, HTCondor). What is real: every submit file is turned into job
ads by HTCondor's own submit code (parse_submit.py, htcondor==24.12.24); what is emulated: DAGMan's
order, RETRY/UNLESS-EXIT, ABORT-DAG-ON, VARS (PREPEND/APPEND), $(RETRY) and the starter's file transfer.
"""
import json
import os
import pathlib
import re
import shutil
import string
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
HTCONDOR_PYTHON = REPO / ".venv" / "htcondor" / "bin" / "python"
PARSE_SUBMIT = pathlib.Path(__file__).with_name("parse_submit.py")
NODE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
RESERVED = {"PARENT", "CHILD", "ALL_NODES"}


# --- job ads --------------------------------------------------------------------------------------

def split_v2(text):
    """HTCondor's V2 raw argument/environment list as stored in job ads: whitespace separates words,
    '...' quotes, '' inside quotes is a literal '."""
    words, current, quoted, i = [], None, False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "'":
                if text[i + 1:i + 2] == "'":
                    current += "'"
                    i += 2
                    continue
                quoted = False
            else:
                current += c
        elif c in " \t":
            if current is not None:
                words.append(current)
                current = None
        elif c == "'":
            quoted = True
            current = current or ""
        else:
            current = (current or "") + c
        i += 1
    assert not quoted, "unterminated quote in %r" % text
    if current is not None:
        words.append(current)
    return words


class MatchError(Exception):
    """A $$() reference the machine cannot fill: the schedd puts the job on hold."""


_ID_CHARS = set(string.ascii_letters + string.digits + "_./")   # condor_isidchar
_PREFIX_CHARS = set(string.ascii_letters + string.digits + "_")


def _next_dollardollar(text, pos):
    """(start, end) of the next $$(...) reference at or after pos, else None: next_config_macro with
    is_dollardollar_prefix (src/condor_utils/config.cpp). A $ may pair with the next one ($$), then
    letters/digits/_ may follow; only a prefix of exactly $$ before ( counts. The body is [...] up to
    "])", or id characters up to ")" (after a first ':' also '$ ,\\:' and a nested (...))."""
    search = pos
    while True:
        dollar = text.find("$", search)
        if dollar < 0:
            return None
        p = dollar + 1
        if p < len(text) and text[p] == "$":
            p += 1
        while p < len(text) and text[p] in _PREFIX_CHARS:
            p += 1
        if p >= len(text) or text[p] != "(" or p - dollar != 2 or text[dollar + 1] != "$":
            search = p if p > dollar else dollar + 1
            continue
        body = p + 1
        if text[body:body + 1] == "[":
            marker = text.find("])", body)
            if marker < 0:
                search = body
                continue
            return dollar, marker + 2
        value, after_colon, ok = body, False, True
        while value < len(text) and text[value] != ")":
            c = text[value]
            value += 1
            if c == ":" and not after_colon:
                after_colon = True
                continue
            if after_colon:
                if c == "(":
                    close = text.find(")", value)
                    if close >= 0:
                        value = close + 1
                        continue
                elif c in "$ ,\\:":
                    continue
            if c not in _ID_CHARS:
                ok = False
                break
        if ok and value < len(text):
            return dollar, value + 1
        search = body


def match_time(text, machine=None):
    """What the schedd makes of a job ad string when the job matches a machine (get_job_ad in
    src/condor_schedd.V6/qmgmt.cpp, ported: no schedd runs here): every $$(NAME[:default]) becomes the
    machine's attribute (`machine`, a dict) or the default, $$(DOLLARDOLLAR) becomes $$, and the scan goes
    on after each replacement. $$([expression]) and a missing attribute without default raise MatchError
    (the real schedd evaluates the one and holds the job for the other)."""
    machine = machine or {}
    pos = 0
    while True:
        found = _next_dollardollar(text, pos)
        if found is None:
            return text
        start, end = found
        name = text[start + 3:end - 1]
        if name.startswith("["):
            raise MatchError("match-time expression %s" % text[start:end])
        name, colon, default = name.partition(":")
        if name.upper() == "DOLLARDOLLAR":
            value = "$$"
        elif name in machine:
            value = str(machine[name])
        elif colon:
            value = default
        else:
            raise MatchError("the machine has no %r for %s" % (name, text[start:end]))
        text = text[:start] + value + text[end:]
        pos = start + len(value)


def ad_arguments(proc, machine=None):
    """The job's argv after the schedd's match-time expansion."""
    return split_v2(match_time(proc.get("Arguments", ""), machine))


def ad_environment(proc, machine=None):
    """The job's environment after the schedd's match-time expansion."""
    env = {}
    for word in split_v2(match_time(proc.get("Environment", ""), machine)):
        name, _, value = word.partition("=")
        env[name] = value
    return env


def parse_submits(requests, cwd, env=None, timeout=120):
    """Job ads for each request (see parse_submit.py), built in `cwd` (where DAGMan runs), in a child
    process with a timeout. Returns (results, seconds)."""
    child_env = {"PATH": "/usr/bin:/bin", "CONDOR_CONFIG": "/dev/null"}
    child_env.update(env or {})
    start = time.monotonic()
    out = subprocess.run([str(HTCONDOR_PYTHON), str(PARSE_SUBMIT)], input=json.dumps(requests), capture_output=True,
                         text=True, cwd=str(cwd), env=child_env, timeout=timeout)
    seconds = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), seconds


# --- DAG files ------------------------------------------------------------------------------------

class DagError(Exception):
    pass


def dag_tokens(line):
    """DAGMan tokens: split on spaces/tabs; "..." groups with \\ escapes inside."""
    tokens, current, i = [], None, 0
    while i < len(line):
        c = line[i]
        if c in " \t":
            if current is not None:
                tokens.append(current)
                current = None
            i += 1
            continue
        if c == '"':
            current = current or ""
            i += 1
            while i < len(line) and line[i] != '"':
                if line[i] == "\\" and i + 1 < len(line):
                    i += 1
                current += line[i]
                i += 1
            if i >= len(line):
                raise DagError("unterminated quote: %s" % line)
            i += 1
            continue
        current = (current or "") + c
        i += 1
    if current is not None:
        tokens.append(current)
    return tokens


class Node:
    def __init__(self, name, submit):
        self.name, self.submit = name, submit
        self.parents, self.children = set(), set()
        self.retry, self.unless_exit = 0, None
        self.abort_on = {}          # exit value -> DAG return value
        self.prepend, self.append = {}, {}
        self.priority, self.category = 0, None
        self.done = False           # JOB ... DONE: DAGMan treats it as finished and never submits it

    def __repr__(self):
        return "<Node %s>" % self.name


class Dag:
    """A DAG file read back, splices merged in as DAGMan does (names `splice+node`)."""

    def __init__(self, path, root=None, prefix=""):
        self.path = pathlib.Path(path)
        self.root = pathlib.Path(root or self.path.parent)   # where condor_submit_dag runs
        self.nodes, self.splices, self.maxjobs = {}, {}, {}
        self.splice_edges = []
        self._read(self.path, prefix)

    def _valid(self, name, what):
        if not NODE_NAME.match(name) or name.upper() in RESERVED:
            raise DagError("invalid %s name %r" % (what, name))

    def _node(self, prefix, name):
        full = prefix + name
        if full not in self.nodes:
            raise DagError("unknown node %r" % full)
        return self.nodes[full]

    def _read(self, path, prefix):
        lines = path.read_text().splitlines()
        later = []
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            words = dag_tokens(line)
            keyword = words[0].upper().replace("_", "-")
            if keyword in ("JOB", "NODE"):
                name, submit = words[1], words[2]
                self._valid(name, "node")
                if prefix + name in self.nodes:
                    raise DagError("%s:%d: duplicate node %r" % (path, number, name))
                if [w.upper() for w in words[3:]] not in ([], ["DONE"]):
                    raise DagError("%s:%d: djflow writes no JOB options but DONE (djflow_restrict.py): %s" % (path, number, line))
                self.nodes[prefix + name] = Node(prefix + name, submit)
                self.nodes[prefix + name].done = len(words) > 3
            elif keyword == "SPLICE":
                name, inner = words[1], words[2]
                self._valid(name, "splice")
                if name in self.splices:
                    raise DagError("duplicate splice %r" % name)
                before = set(self.nodes)
                self._read(self.root / inner, prefix + name + "+")
                self.splices[prefix + name] = set(self.nodes) - before
            else:
                later.append((number, keyword, words, line))
        for number, keyword, words, line in later:
            where = "%s:%d" % (path, number)
            if keyword == "PARENT":
                if "CHILD" not in [w.upper() for w in words]:
                    raise DagError("%s: PARENT without CHILD" % where)
                split = [w.upper() for w in words].index("CHILD")
                parents, children = words[1:split], words[split + 1:]
                if not parents or not children:
                    raise DagError("%s: empty PARENT/CHILD" % where)
                for p in parents:
                    for c in children:
                        if prefix + p in self.splices and prefix + c in self.splices:
                            self.splice_edges.append((prefix + p, prefix + c))
                            self._splice_edge(prefix + p, prefix + c)
                        else:
                            self._node(prefix, p).children.add(prefix + c)
                            self._node(prefix, c).parents.add(prefix + p)
            elif keyword == "RETRY":
                node = self._node(prefix, words[1])
                node.retry = int(words[2])
                if len(words) > 3:
                    if words[3].upper().replace("_", "-") != "UNLESS-EXIT" or len(words) != 5:
                        raise DagError("%s: bad RETRY: %s" % (where, line))
                    node.unless_exit = int(words[4])
            elif keyword == "ABORT-DAG-ON":
                node = self._node(prefix, words[1])
                value = int(words[2])
                node.abort_on[value] = int(words[4]) if len(words) > 4 and words[3].upper() == "RETURN" else value
            elif keyword == "VARS":
                node = self._node(prefix, words[1])
                rest = words[2:]
                target = node.prepend
                if rest and rest[0].upper() in ("PREPEND", "APPEND"):
                    target = node.append if rest[0].upper() == "APPEND" else node.prepend
                    rest = rest[1:]
                for item in rest:
                    key, sep, value = item.partition("=")
                    if not sep or not re.match(r"^[A-Za-z0-9_]+$", key) or key.lower().startswith("queue"):
                        raise DagError("%s: bad VARS %r" % (where, item))
                    target[key] = value
            elif keyword == "PRIORITY":
                self._node(prefix, words[1]).priority = int(words[2])
            elif keyword == "CATEGORY":
                self._node(prefix, words[1]).category = words[2] if words[2].startswith("+") else prefix + words[2]
            elif keyword == "MAXJOBS":
                self.maxjobs[words[1] if words[1].startswith("+") else prefix + words[1]] = int(words[2])
            else:
                raise DagError("%s: unknown command %s" % (where, words[0]))

    def _splice_edge(self, parent, child):
        """PARENT splice CHILD splice: the parent's final nodes before the child's initial nodes."""
        finals = [n for n in self.splices[parent] if not (self.nodes[n].children & self.splices[parent])]
        initials = [n for n in self.splices[child] if not (self.nodes[n].parents & self.splices[child])]
        for p in finals:
            for c in initials:
                self.nodes[p].children.add(c)
                self.nodes[c].parents.add(p)

    def edges(self):
        return {(p, c) for c, node in self.nodes.items() for p in node.parents}

    def order(self):
        """Topological order (ties by name); raises DagError on a cycle."""
        pending = {name: len(node.parents) for name, node in self.nodes.items()}
        ready = sorted(n for n, k in pending.items() if k == 0)
        order = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for child in sorted(self.nodes[name].children):
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
            ready.sort()
        if len(order) != len(self.nodes):
            raise DagError("cycle among %s" % sorted(set(self.nodes) - set(order)))
        return order


# --- running a DAG --------------------------------------------------------------------------------

class Harness:
    """Runs a DAG as DAGMan would, each proc's command exactly as its job ad says."""

    def __init__(self, dag, submit_env, scratch, timeout=300):
        self.dag, self.submit_env, self.scratch, self.timeout = dag, submit_env, pathlib.Path(scratch), timeout
        self.cluster = 100
        self.parse_seconds = 0.0
        self.status, self.attempts, self.runs = {}, {}, []
        self.aborted = None

    def ads(self, node, attempt):
        # DAGMan sets JOB and RETRY for the node's submit; VARS PREPEND before the file, APPEND after.
        prepend = {"JOB": node.name, "RETRY": str(attempt)}
        prepend.update(node.prepend)
        self.cluster += 1
        request = {"name": node.name, "text": (self.dag.root / node.submit).read_text(), "prepend": prepend,
                   "append": dict(node.append), "cluster": self.cluster}
        [result], seconds = parse_submits([request], self.dag.root, self.submit_env)
        self.parse_seconds += seconds
        assert result["ok"], "%s: %s" % (node.name, result["error"])
        return result["procs"]

    def run_node(self, node, attempt):
        procs = self.ads(node, attempt)
        running = []
        for proc in procs:
            # The starter: a scratch folder with the executable (as condor_exec.exe) and the input files.
            folder = self.scratch / ("%s.%d.%d" % (node.name.replace("+", "."), self.cluster, proc["ProcId"]))
            folder.mkdir(parents=True)
            shutil.copy2(proc["Cmd"], folder / "condor_exec.exe")
            for item in filter(None, str(proc.get("TransferInput", "")).split(",")):
                source = pathlib.Path(item.strip())
                source = source if source.is_absolute() else self.dag.root / source
                shutil.copy2(source, folder / source.name)
            argv = [str(folder / "condor_exec.exe")] + ad_arguments(proc)
            env = ad_environment(proc)
            env["_CONDOR_SCRATCH_DIR"] = str(folder)
            out = open(folder / "stdout", "wb")
            err = open(folder / "stderr", "wb")
            running.append((proc, argv, env, folder, subprocess.Popen(argv, env=env, cwd=str(folder), stdout=out, stderr=err)))
        codes = []
        for proc, argv, env, folder, popen in running:
            code = popen.wait(timeout=self.timeout)
            codes.append(code)
            self.runs.append({"node": node.name, "attempt": attempt, "proc": proc["ProcId"], "argv": argv, "env": env,
                              "exit": code, "stdout": (folder / "stdout").read_text(errors="replace"),
                              "stderr": (folder / "stderr").read_text(errors="replace")})
        return codes

    def run(self):
        """Returns {node: done|failed|not-run}; self.aborted holds the DAG's return value on ABORT-DAG-ON."""
        for name in self.dag.order():
            node = self.dag.nodes[name]
            if node.done:
                self.status[name] = "done"
                continue
            if self.aborted is not None or any(self.status.get(p) != "done" for p in node.parents):
                self.status[name] = "not-run"
                continue
            attempt = 0
            while True:
                codes = self.run_node(node, attempt)
                self.attempts[name] = attempt + 1
                failed = [c for c in codes if c != 0]
                abort = [node.abort_on[c] for c in codes if c in node.abort_on]
                if abort:
                    self.status[name] = "failed"
                    self.aborted = abort[0]
                    break
                if not failed:
                    self.status[name] = "done"
                    break
                if node.unless_exit is not None and node.unless_exit in failed or attempt >= node.retry:
                    self.status[name] = "failed"
                    break
                attempt += 1
        return self.status
