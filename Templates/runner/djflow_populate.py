"""djflow populate runner: populate ONE DataJoint table as one scheduler job.

Every job that djflow generates (SLURM first) runs this same file:

    python3 djflow_populate.py --module ephys_pipeline --table Recording [options]

It imports the pipeline module(s), resolves the table class, and calls
``Table.populate(*restrictions, reserve_jobs=True, suppress_errors=True, ...)``
so that concurrent workers coordinate through DataJoint's jobs table and every
key is attempted. A job succeeds only when its table is done within its scope
(the restriction): afterwards, keys of the table within the scope that are in
``error`` status in the jobs table, from this run or an earlier one, fail it
(exit 1); rows in DataJoint's ``ignore`` status do not count (a key parked on
purpose). Before populating, reservations of dead workers are given back (see
"Dead workers"). Needs only the standard library and datajoint (2.x or 0.14).
Python 3.9+.

Options
    --module M            Python import path of a pipeline module. Repeatable; a
                          comma-separated list is accepted too. Every module is
                          imported first, in order, for its side effects
                          (schema activation of DataJoint Elements, linking
                          modules, dj.config). The current directory is put on
                          sys.path (like ``python -m``); use PYTHONPATH for
                          anything else.
    --table T             Table class: ``Recording``; ``Master.Part`` (resolved,
                          but parts are filled by their master, so only
                          --describe accepts one); schema-qualified ``sub.Table``
                          (``getattr(module, 'sub')``, else module ``M.sub``,
                          else module ``sub``); or the full path of the module
                          that defines it (``element_array_ephys.ephys_acute.
                          Clustering``). The class must be declared (its schema
                          activated) once the modules are imported.
    --restriction JSON    JSON object = dict restriction (keys must be attributes
                          of the table's key_source); array = OR-list of objects
                          and/or SQL strings; string = SQL condition. Passed as
                          ``populate(restriction)``.
    --max-calls N         make() at most N keys.
    --priority P          2.x: new jobs get priority P, and only jobs with
                          priority <= P are taken. Ignored (with a note) on 0.14.
    --processes N         worker processes inside this job (DataJoint's pool).
    --suppress-errors     exit 0 even if keys within the scope are in error
                          status (on_error: continue; the rows stay in the jobs
                          table and are still listed in scope_errors).
    --refresh-only        reclaim dead workers' reservations; 2.x: refresh this
                          table's job queue once (with the restriction); exit
                          without populating. Never fails on error rows.
    --no-refresh          2.x: take jobs from the existing queue only
                          (refresh=False): the N parallel workers that follow a
                          --refresh-only step. Ignored on 0.14. Without it, a
                          2.x run refreshes the queue itself first
                          (jobs.refresh(restriction, priority, delay=-1,
                          orphan_timeout)) and then calls populate(refresh=False):
                          the same as populate(refresh=True), with the counts
                          reported in the summary.
    --orphan-timeout S    2.x: the refresh also re-pends ``reserved`` jobs older
                          than S seconds, by age alone, even of live workers: only
                          for servers whose connections cannot be listed (dead
                          workers are reclaimed without it), with S well above
                          the longest make().
    --clear-errors        before populating, give this table's error rows (within
                          the restriction: the rows scope_errors counts) back to
                          the queue: a retry attempt, the only way error rows are
                          retried. 2.x deletes them and refreshes those keys as
                          pending; 0.14 deletes them (a missing row means "to
                          do"). With --refresh-only too: the refresh step is the
                          first step of a multi-worker table, where a
                          workflow's --retry-failed gives them back.
    --follow              pipelined: keep populating as keys arrive. Each round populates
                          what can be taken, then one SQL statement (one snapshot)
                          counts this table's keys that can be taken now and, for
                          every --upstream table, its keys still to do, those in
                          error/ignore and the reserved ones; polls back off from
                          0.2 s to 1 s. The worker finishes when nothing is left to
                          take and every upstream table has nothing left to do but
                          keys in error (those hold back only their dependents:
                          "held_back" in the summary). 2.x: refreshes the job queue
                          itself when new keys appear.
    --upstream T          with --follow: a job table upstream in the same workflow
                          (repeatable). With DJFLOW_FOLLOW_TABLES set (submit.sh
                          --only/--from: one table per line), tables not listed are
                          not waited for.
    --upstream-grace S    with --follow: exit 1 when upstream keys are left to do but
                          no upstream key was reserved or done for S seconds (its job
                          failed to start or was cancelled); default 600.
    --auto-workers        with --follow (workers: auto): worker N leaves as soon as at
                          most N keys can still come (to take, being made, or upstream);
                          worker 0 stays. On SLURM (DJFLOW_SCALE=slurm, set by the
                          sbatch script) worker 0 raises its array's ArrayTaskThrottle
                          (scontrol update) up to DJFLOW_SCALE_CAP as far as the keys
                          that can come times the seconds per key pay for another
                          worker's start, and writes DJFLOW_DONE_MARKER when the table
                          is done (tasks starting later exit before Python).
    --worker N/M          worker N of M (informational; --auto-workers uses it).
    --pool N              workflow pool, instead of --table: set every --member table
                          up once (dead workers' keys, 2.x job queue, --clear-errors),
                          close the connection, fork N workers. Each worker populates,
                          in member order, every member whose keys can be taken, then
                          polls (one SQL statement for all members, backing off from
                          0.2 s to 1 s), and finishes when no member has keys left
                          that could still be made (decided from one snapshot);
                          worker K > 0 leaves as soon as at most K keys are open in the
                          pool. A worker killed hard leaves its keys to the others
                          (reclaimed after 5 s without progress). SIGTERM/SIGINT are
                          forwarded to the workers, which release their keys. The
                          summary's "pool" holds each member's counts and each worker's
                          exit; the exit code judges every member from the database.
    --member SPEC         with --pool, repeatable, in topological order:
                          TABLE[;follow=T,...][;after=T,...][;max-calls=N][;priority=P]
                          [;suppress-errors]. follow: upstream members whose keys it
                          takes as they are committed (the key source vouches);
                          after: upstream members it waits for table by table (no key
                          before they are done, none once one of them has a key in
                          error unless that member has suppress-errors); max-calls
                          per worker; priority (2.x) of its jobs; suppress-errors:
                          its failed keys do not fail the pool.
    --describe            resolve the table, print its summary (tier, full
                          name, master, progress) and exit 0; populates nothing.

Live reader (prints YAML instead of the JSON summary; exit 0, 2 usage, 75 transient):
    python3 djflow_populate.py --introspect --schema S [--schema S2 ...] [--module M ...]
                          imports the modules (which may activate schemas), loads
                          DataJoint's dependency graph and prints djflow YAML:
                          every table of the schemas (and the upstream tables they
                          reference) with tier, parts and foreign-key parents,
                          named module.Class (schema.Class without a Python class).

Dead workers: a worker killed hard (SIGKILL, OOM killer, lost node) leaves its
rows ``reserved`` forever, but its database connection ends with it. Each job,
before it populates, and each --refresh-only step looks at the connection_id of
the table's reserved rows (whole table, not only the restriction: a dead
worker's row is dead for every job) and gives back those whose connection is no
longer live: 2.x sets them to ``pending``, 0.14 deletes them. Live connections
are listed from information_schema.PROCESSLIST (MySQL/MariaDB) or
pg_stat_activity (PostgreSQL, whose connection_id is the backend pid). A row
reserved before the database server started is dead whatever its
connection_id: a restart ends every connection, and MySQL/MariaDB then number
connections from 1 again (a PostgreSQL backend pid can come back too), so the
old id may name a live, unrelated connection. The start is the server's own
clock: NOW() minus the Uptime status (whole seconds, never after the real
start), or pg_postmaster_start_time(). A live connection's row reserved since
the start is never touched, nor a row whose process still runs on this host.
Without the PROCESS privilege, MySQL and
MariaDB list only the connections of the session's own user name: rows of
other users are then left alone (with a note), and so are rows of a connection
that cannot be listed at all. No age is guessed; the count is ``reclaimed``.
The runner re-reads connection_id after every reconnect (DataJoint keeps the
closed id in populate(processes>1) pool workers). A connection the server
closes while its worker still runs (idle longer than wait_timeout outside a
transaction) looks dead too; a killed node's connection ends only when the
server notices (TCP keepalive, wait_timeout). All workers must use the same
server (not several nodes of a Galera cluster).

Progress of several tables in one start (``submit.sh --skip-done``; exit 0, 2 usage, 75 transient):
    python3 djflow_populate.py --describe-tables --module M [--module M2 ...] --table T [--table T2 ...]
                          [--restriction JSON]
                          prints one line per table, in order: REMAINING TOTAL TABLE
                          (keys of the restricted key source not yet in the
                          table, keys in total, the --table value).

Connection comes from the environment only: DJ_HOST (may be host:port),
DJ_PORT, DJ_USER, DJ_PASS, DJ_BACKEND, DJ_DATABASE_NAME, DJ_USE_TLS, ...
DJ_IGNORE_CONFIG_FILE defaults to true (2.x reads no datajoint.json). On 0.14,
which reads neither DJ_USE_TLS nor DJ_PORT, the runner applies them to
dj.config. safemode is switched off.

SIGTERM (SLURM timeout or preemption, Kubernetes eviction): DataJoint aborts the
running make(), rolls it back and records the key as an error
("SystemExit: SIGTERM received"). The runner then releases what this process
held so that a requeue or rerun picks the keys up again: 2.x re-pends its
SIGTERM error rows and its leftover ``reserved`` rows (status back to
``pending``, so even --no-refresh workers see them); 0.14 deletes them. Rows
are matched by host and pid (with --processes > 1: host and reservation time
since this run started). Exit 143. The same release happens when populate()
aborts on any other non-transient exception. A SIGTERM that arrives earlier, while
modules are imported, stops the job too (exit 143, nothing reserved), also when
the interrupted code swallows the exception (DataJoint 0.14 imports matplotlib
under a bare ``except:``): the runner raises it again after the imports and
before populating.

Output: human logging on stderr (everything a pipeline module prints goes
there too); exactly one JSON line on stdout at the end:
    {"table", "success_count", "error_count", "seconds", "job_id", "worker",
     "datajoint", "status", "errors", ...}
status is one of ok | errors | usage | transient | terminated. job_id is
DJFLOW_JOB_ID, else SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID, else SLURM_JOB_ID,
else null. success_count, error_count, errors and error_keys are this run's
populate() results. Extra keys: full_table_name, error_keys, refresh (2.x
refresh counts or null), remaining/total (progress before populating),
reclaimed (dead workers' rows given back, or null), scope_errors ({"count",
"messages", "keys"}: the error rows within the scope after populating, this
run's and earlier ones, first 5 messages and keys; null if not checked),
cleared_errors (with --clear-errors), notes, describe (with --describe).

Exit codes
    0    no key within the scope is in error status (or --suppress-errors, or
         --refresh-only/--describe)
    1    keys within the scope are in error status, failed in this run or an
         earlier one (scope_errors; --clear-errors retries them), or an
         unexpected error
    2    usage: bad arguments, import error, unknown or non-populatable table,
         a table class whose schema is not activated by the imported modules,
         bad JSON restriction, restriction naming unknown attributes, SQL error
         in a string restriction, database credentials/TLS rejected, and
         (0.14 only) a dict value containing '"', which DataJoint 0.14.10
         cannot quote, and (2.x on PostgreSQL) a dict value containing a
         backslash, which DataJoint 2.3.5 doubles there
    75   transient (EX_TEMPFAIL): database unreachable or connection lost;
         safe to retry
    143  terminated by SIGTERM (130 for SIGINT); keys released as above
"""

import argparse
import importlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
import traceback

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 75
EXIT_TERMINATED = 143
EXIT_INTERRUPTED = 130

MAX_REPORTED_ERRORS = 5
SIGTERM_MESSAGE = "SIGTERM received"  # the SystemExit message DataJoint's populate() raises
SIGINT_MESSAGE = "SIGINT received"  # same shape, so DataJoint records it as "SystemExit: ..."

log = logging.getLogger("djflow")

# MySQL client error codes that mean "try again later" (server down, lost, busy).
_MYSQL_TRANSIENT = {1040, 1053, 1205, 1213, 2002, 2003, 2005, 2006, 2012, 2013, 2055}
# MySQL error codes that will not heal by retrying (credentials, TLS, unknown database).
_MYSQL_PERMANENT = {1044, 1045, 1049, 1698, 2026, 2059}
# psycopg2 OperationalError messages that will not heal by retrying (everything else is transient).
_PG_PERMANENT = ("password authentication failed", "no pg_hba.conf entry", "does not exist", "ssl was required",
                 "does not support ssl", "certificate", "permission denied")


class UsageError(Exception):
    """Bad invocation: exit 2."""


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 by itself; we also want the JSON line
        raise UsageError(message)


def parse_args(argv):
    p = _Parser(
        prog="djflow_populate.py",
        description="Populate one DataJoint table (djflow job runner).",
        epilog="Exit codes: 0 ok, 1 keys within the scope in error status, 2 usage, 75 transient, 143 SIGTERM.",
    )
    p.add_argument("--module", action="append", required=True, metavar="M",
                   help="pipeline module import path (repeatable, or comma-separated)")
    p.add_argument("--table", metavar="T", help="table class, e.g. Recording or sub.Table")
    p.add_argument("--restriction", metavar="JSON", help="JSON object, array (OR) or SQL string")
    p.add_argument("--max-calls", type=_positive_int, metavar="N")
    p.add_argument("--priority", type=int, metavar="P", help="2.x job priority (lower = more urgent)")
    p.add_argument("--processes", type=_positive_int, default=1, metavar="N")
    p.add_argument("--suppress-errors", action="store_true", help="exit 0 even if keys within the scope are in error status")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--refresh-only", action="store_true", help="reclaim dead workers' rows, 2.x: refresh the job queue; exit")
    mode.add_argument("--no-refresh", action="store_true", help="2.x: do not refresh the job queue")
    mode.add_argument("--describe", action="store_true", help="resolve the table, report it, populate nothing")
    p.add_argument("--orphan-timeout", type=float, metavar="SECONDS",
                   help="2.x: refresh also re-pends reserved jobs older than this (by age, even live workers')")
    p.add_argument("--worker", metavar="N/M", help="worker index, informational")
    p.add_argument("--clear-errors", action="store_true",
                   help="retry: put this table's error rows (within the restriction) back in the queue first")
    p.add_argument("--follow", action="store_true",
                   help="pipelined: keep populating keys as their inputs arrive until the table and its --upstream "
                        "tables are done")
    p.add_argument("--upstream", action="append", default=[], metavar="T",
                   help="with --follow: a job table upstream in the same workflow (repeatable)")
    p.add_argument("--upstream-grace", type=float, default=600.0, metavar="SECONDS",
                   help="with --follow: give up when upstream work is left but nothing upstream moved or held a "
                        "key for this long (default 600)")
    p.add_argument("--auto-workers", action="store_true",
                   help="with --follow: worker N of --worker N/M leaves as soon as fewer than N+1 keys can come")
    p.add_argument("--pool", type=_positive_int, metavar="SLOTS",
                   help="workflow pool: fork SLOTS workers after the imports; each populates every --member")
    p.add_argument("--member", action="append", default=[], metavar="SPEC",
                   help="with --pool: TABLE[;follow=T,...][;after=T,...][;max-calls=N][;priority=P]"
                        "[;suppress-errors], in topological order (repeatable)")
    args = p.parse_args(argv)
    if args.pool is not None:
        check_pool_args(args)
    elif args.member:
        raise UsageError("--member needs --pool")
    elif args.table is None:
        raise UsageError("the following arguments are required: --table (or --pool with --member)")
    if (args.upstream or args.auto_workers) and not args.follow:
        raise UsageError("--upstream and --auto-workers need --follow")
    if args.follow and (args.refresh_only or args.describe):
        raise UsageError("--follow populates: it cannot be combined with --refresh-only or --describe")
    if args.upstream_grace <= 0:
        raise UsageError("--upstream-grace must be positive")
    modules = [m.strip() for item in args.module for m in item.split(",") if m.strip()]
    if not modules:
        raise UsageError("--module is empty")
    args.modules = modules
    if args.priority is not None and not 0 <= args.priority <= 255:
        raise UsageError("--priority must be within 0..255")
    if args.orphan_timeout is not None and args.orphan_timeout <= 0:
        raise UsageError("--orphan-timeout must be positive")
    return args


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1: %r" % text)
    return value


def parse_restriction(text):
    """JSON text -> tuple of positional restrictions for populate()."""
    if text is None or text.strip() == "":
        return ()
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UsageError("--restriction is not valid JSON: %s" % e)
    if value is None:
        return ()
    if isinstance(value, dict):
        _check_dict(value)
        return (value,)
    if isinstance(value, str):
        if not value.strip():
            raise UsageError("--restriction: empty SQL condition")
        return (value,)
    if isinstance(value, list):
        if not value:
            raise UsageError("--restriction: an empty array (OR of nothing) would match no key")
        for item in value:
            if isinstance(item, dict):
                _check_dict(item)
            elif not isinstance(item, str):
                raise UsageError("--restriction array items must be objects or strings, got %r" % (item,))
        return (value,)
    raise UsageError("--restriction must be a JSON object, array or string, got %r" % (value,))


def _check_dict(d):
    for k, v in d.items():
        if not isinstance(v, (str, int, float, bool)) and v is not None:
            raise UsageError("--restriction value for %r must be a scalar, got %r" % (k, v))


# ---------------------------------------------------------------------------
# environment and DataJoint
# ---------------------------------------------------------------------------


def job_id():
    if os.environ.get("DJFLOW_JOB_ID"):
        return os.environ["DJFLOW_JOB_ID"]
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return "%s_%s" % (os.environ["SLURM_ARRAY_JOB_ID"], os.environ["SLURM_ARRAY_TASK_ID"])
    return os.environ.get("SLURM_JOB_ID") or None


def _truthy(text):
    return text.strip().lower() in ("1", "true", "yes", "on")


def import_datajoint():
    """Import datajoint with the runner's configuration; return (dj, major_version)."""
    os.environ.setdefault("DJ_IGNORE_CONFIG_FILE", "true")
    import warnings

    warnings.filterwarnings("ignore", message=".*MariaDB is not officially supported.*")
    import datajoint as dj

    check_signalled()
    major = int(dj.__version__.split(".")[0])
    if major < 2:
        # 0.14 reads DJ_HOST/DJ_USER/DJ_PASS only.
        if os.environ.get("DJ_USE_TLS"):
            dj.config["database.use_tls"] = _truthy(os.environ["DJ_USE_TLS"])
        if os.environ.get("DJ_PORT"):
            dj.config["database.port"] = int(os.environ["DJ_PORT"])
        if os.environ.get("DJ_BACKEND", "mysql").lower() not in ("mysql", "mariadb", ""):
            raise UsageError("DataJoint %s supports only MySQL/MariaDB (DJ_BACKEND=%s)"
                             % (dj.__version__, os.environ["DJ_BACKEND"]))
    dj.config["safemode"] = False
    return dj, major


def import_modules(names):
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
            check_signalled()
        except BaseException as e:
            if classify(e) not in (None, "sql") or isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise  # database down, signal: handled by main()
            log.error("cannot import module %s:\n%s", name, traceback.format_exc())
            raise UsageError("cannot import module %r: %s: %s" % (name, type(e).__name__, e))
    return modules


def _import_optional(name):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            return None  # the module itself does not exist (not a failing import inside it)
        raise


def _walk(obj, parts):
    for part in parts:
        if not hasattr(obj, part):
            return None
        obj = getattr(obj, part)
    return obj


def resolve_table(modules, spec, dj):
    """Find the table class for --table among the imported modules."""
    parts = spec.split(".")
    if not spec or any(not p.isidentifier() for p in parts):
        raise UsageError("--table %r is not a (dotted) Python name" % spec)
    found = None
    for module in modules:
        found = _walk(module, parts)  # Table, Master.Part, or attribute sub.Table
        if found is not None:
            break
    if found is None and len(parts) > 1:
        # schema-qualified: a leading prefix names a module (M.sub, then sub itself)
        for k in range(len(parts) - 1, 0, -1):
            prefix, rest = ".".join(parts[:k]), parts[k:]
            candidates = [m.__name__ + "." + prefix for m in modules] + [prefix]
            for candidate in candidates:
                sub = _import_optional(candidate)
                found = _walk(sub, rest) if sub is not None else None
                if found is not None:
                    break
            if found is not None:
                break
    if found is None:
        raise UsageError("unknown table %r in module(s) %s" % (spec, ", ".join(m.__name__ for m in modules)))
    if not (isinstance(found, type) and issubclass(found, dj.Table)):
        raise UsageError("%r resolves to %r, which is not a DataJoint table class" % (spec, found))
    return found


def check_declared(cls, spec, modules, dj):
    """A class whose schema was never applied or activated cannot be used: a usage error (exit 2, never
    retried) that says which modules were imported and what to list in runner.module."""
    database, reason = None, None
    try:
        database = getattr(cls, "database", None)
        if database:
            cls.full_table_name  # raises when the class is still not declared
    except Exception as e:  # DataJointError: "Class X is not properly declared (schema decorator not applied?)"
        if classify(e) not in (None, "sql"):
            raise
        database, reason = None, "%s: %s" % (type(e).__name__, e)
    if database:
        return
    raise UsageError(
        "table %s (%s.%s) is not declared: its schema is not activated after importing %s%s. List the module "
        "that activates it (the workflow module calling element.activate(...), or the one applying the schema "
        "decorator) in runner.module; djflow imports those modules first, in order"
        % (spec, cls.__module__, cls.__qualname__, ", ".join(m.__name__ for m in modules),
           " (%s)" % reason if reason else ""))


def table_info(cls, dj):
    part = issubclass(cls, dj.Part)
    info = {
        "class": cls.__name__,
        "full_table_name": cls.full_table_name,
        "tier": _tier(cls, dj),
        "master": cls.master.__name__ if part and getattr(cls, "master", None) is not None else None,
    }
    return info


def _tier(cls, dj):
    for name in ("Part", "Computed", "Imported", "Lookup", "Manual"):
        base = getattr(dj, name, None)
        if base is not None and issubclass(cls, base):
            return name.lower()
    return "unknown"


def check_populatable(cls, spec, dj):
    if issubclass(cls, dj.Part):
        master = getattr(cls, "master", None)
        raise UsageError("%s is a Part table; parts are filled by their master's make(): run --table %s"
                         % (spec, master.__name__ if master is not None else "<master>"))
    if not issubclass(cls, (dj.Computed, dj.Imported)):
        raise UsageError("%s is a %s table: only Imported/Computed tables can be populated"
                         % (spec, _tier(cls, dj)))


def check_restriction_attributes(table, restrictions):
    """Dict restrictions silently ignore unknown keys in DataJoint; refuse them here."""
    names = set(table.key_source.heading.names)
    dicts = []
    for r in restrictions:
        dicts.extend(x for x in (r if isinstance(r, list) else [r]) if isinstance(x, dict))
    unknown = sorted({k for d in dicts for k in d if k not in names})
    if unknown:
        raise UsageError("--restriction names attribute(s) %s that %s's key source lacks (has: %s)"
                         % (", ".join(unknown), table.__class__.__name__, ", ".join(sorted(names))))


def check_014_quoting(restrictions):
    """DataJoint 0.14 writes dict values as "..." without escaping '"' (broken SQL, for
    the restriction and for every key holding such a value); refuse with a clear message."""
    for r in restrictions:
        for d in (r if isinstance(r, list) else [r]):
            if isinstance(d, dict) and any(isinstance(v, str) and '"' in v for v in d.values()):
                raise UsageError('DataJoint 0.14 cannot restrict by (or populate keys with) string values '
                                 'containing a double quote; DataJoint 2.x can')


def check_postgres_quoting(restrictions):
    """DataJoint 2.3.5 escapes '\\' in dict values MySQL-style ('\\\\') on every backend; PostgreSQL
    (standard_conforming_strings) reads that as two backslashes, so such a restriction, and every key
    holding such a value, matches nothing. Refuse with a clear message instead of an empty run."""
    for r in restrictions:
        for d in (r if isinstance(r, list) else [r]):
            if isinstance(d, dict) and any(isinstance(v, str) and "\\" in v for v in d.values()):
                raise UsageError("DataJoint %s on PostgreSQL cannot restrict by (or populate keys with) string "
                                 "values containing a backslash (it doubles them); DataJoint %s on MySQL can"
                                 % (_installed_datajoint(), _installed_datajoint()))


def _backend(dj):
    """'postgresql' or 'mysql': the backend of DataJoint's configuration (0.14 knows only MySQL)."""
    try:
        return str(dj.config["database.backend"] or "mysql").lower()
    except Exception:
        return "mysql"


WORKERS_TABLE = "~djflow_worker"


def record_worker(table, processes):
    """Note which scheduler job this process is, for `djflow status` to trace a reserved or failed key to
    the job that held it: one row per (host, pid) in the djflow-owned hidden table ``~djflow_worker`` of
    the table's schema (never the user's tables). DataJoint records host and pid with each reservation.
    Best effort: a failure is logged and ignored."""
    conn, q = table.connection, table.full_table_name[0]
    name = "%s%s%s.%s%s%s" % (q, table.database, q, q, WORKERS_TABLE, q)
    postgres = q == '"'
    try:
        conn.query("CREATE TABLE IF NOT EXISTS %s (host varchar(255) NOT NULL, pid int NOT NULL, "
                   "job_id varchar(255), table_name varchar(255), started %s NOT NULL, PRIMARY KEY (host, pid))"
                   % (name, "timestamp" if postgres else "datetime"))
        if postgres:
            sql = ("INSERT INTO %s (host, pid, job_id, table_name, started) VALUES (%%s, %%s, %%s, %%s, "
                   "CURRENT_TIMESTAMP) ON CONFLICT (host, pid) DO UPDATE SET job_id = EXCLUDED.job_id, "
                   "table_name = EXCLUDED.table_name, started = EXCLUDED.started" % name)
        else:
            sql = ("REPLACE INTO %s (host, pid, job_id, table_name, started) VALUES (%%s, %%s, %%s, %%s, "
                   "CURRENT_TIMESTAMP)" % name)
        # (with --processes > 1 the pool's children reserve under their own pids: `djflow status` then
        # names the job by host and table)
        conn.query(sql, args=(platform.node(), os.getpid(), job_id(), table.table_name))
    except Exception as e:  # noqa: BLE001 - tracing is a convenience, never a reason to fail the job
        if classify(e) in ("terminated", "interrupted"):
            raise
        log.warning("could not record this worker in %s: %s: %s", WORKERS_TABLE, type(e).__name__, e)


def declare_jobs_table(table):
    """2.x: declare the table's jobs table (``~~name``) once, before keys are refreshed or reserved.

    Two runners declaring the same jobs table at once race on PostgreSQL: one of them fails in
    CREATE TABLE IF NOT EXISTS (unique violation on pg_type) or CREATE INDEX (relation exists). The
    loser finds the table declared by the winner a moment later and goes on."""
    for attempt in range(1, 6):
        try:
            return table.jobs
        except Exception as e:
            if classify(e) is not None:
                raise  # database down, signal, ...: not a declaration race
            time.sleep(0.2 * attempt)
            jobs = getattr(table, "_jobs", None)
            try:
                declared = jobs is not None and jobs.is_declared
            except Exception:
                declared = False
            if declared:
                log.info("jobs table of %s was declared concurrently by another worker (%s: %s)",
                         table.__class__.__name__, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
                return jobs
            table._jobs = None  # declare again
            if attempt == 5:
                raise


def checked_progress(table, restrictions):
    """(remaining, total) for the restricted key source; a failing restriction is a usage error."""
    try:
        return table.progress(*restrictions)
    except Exception as e:
        if classify(e) in (None, "sql"):
            raise UsageError("--restriction cannot be applied to %s: %s: %s"
                             % (table.__class__.__name__, type(e).__name__, e))
        raise


# ---------------------------------------------------------------------------
# error classification
# ---------------------------------------------------------------------------


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def classify(exc):
    """'terminated' | 'interrupted' | 'transient' | 'usage-db' | 'sql' | None for an exception."""
    for e in _chain(exc):
        if isinstance(e, SystemExit) and str(e) == SIGTERM_MESSAGE:
            return "terminated"
        if isinstance(e, SystemExit) and str(e) == SIGINT_MESSAGE or isinstance(e, KeyboardInterrupt):
            return "interrupted"
    for e in _chain(exc):
        cls_names = {c.__name__ for c in type(e).__mro__}
        module = type(e).__module__ or ""
        if "LostConnectionError" in cls_names:
            return "transient"
        if module.startswith("pymysql") and ("OperationalError" in cls_names or "InterfaceError" in cls_names):
            code = e.args[0] if e.args and isinstance(e.args[0], int) else None
            if code in _MYSQL_PERMANENT:
                return "usage-db"
            if code is None or code in _MYSQL_TRANSIENT or code >= 2000 or "InterfaceError" in cls_names:
                return "transient"
            return None
        if module.startswith("psycopg2") and ("OperationalError" in cls_names or "InterfaceError" in cls_names):
            text = str(e).lower()
            if any(fragment in text for fragment in _PG_PERMANENT):
                return "usage-db"
            return "transient"  # refused, server closed the connection, SSL SYSCALL EOF, too many clients
        if isinstance(e, (ConnectionError, TimeoutError)):
            return "transient"
    for e in _chain(exc):
        names = {c.__name__ for c in type(e).__mro__}
        if names & {"QuerySyntaxError", "UnknownAttributeError", "MissingAttributeError"}:
            return "sql"
    return None


# ---------------------------------------------------------------------------
# SIGTERM handling and cleanup
# ---------------------------------------------------------------------------


_signalled = []  # SIGTERM/SIGINT received by _raise_terminated


def _raise_terminated(signum, frame):
    """The runner's handler outside populate() (populate installs DataJoint's own for SIGTERM). Only the first
    stop signal raises: a process that is stopping and gets the signal again (under SLURM a forked worker gets
    it from slurmstepd and from the pool's parent) goes on giving its keys back; `check_signalled` raises a
    first one that code swallowed."""
    _signalled.append(signum)
    if len(_signalled) > 1:
        return
    raise SystemExit(SIGINT_MESSAGE if signum == signal.SIGINT else SIGTERM_MESSAGE)


def check_signalled():
    """Raise again a SIGTERM/SIGINT whose SystemExit the code it interrupted swallowed: DataJoint 0.14 imports
    matplotlib under a bare ``except:``, and a pipeline module may do the same. Called after the imports and
    before populating, so a job told to stop never goes on to reserve keys."""
    if _signalled:
        raise SystemExit(SIGINT_MESSAGE if _signalled[-1] == signal.SIGINT else SIGTERM_MESSAGE)


def guard_pool_workers():
    """Make sure a populate(processes>1) pool worker told to stop does stop.

    The pool's workers are forked with DataJoint's SIGTERM handler, a Python function. When the pool
    ends, ``Pool.terminate()`` holds the task queue's lock and sends SIGTERM to workers still waiting
    for a task. A Python handler runs only between bytecodes: a SIGTERM that lands just before the
    worker blocks on that lock is noted but never handled, the worker waits forever, the parent waits
    for it, and the job hangs (seen about once in ten runs on PostgreSQL). So a worker keeps SIGTERM's
    default action (die at once) while it waits for work, and the raising handler only while it runs a
    key, where DataJoint needs the SystemExit to roll back and record the key. A signal that code
    swallowed during a key or during set-up is raised again after it. (The wrappers live at module
    level: the pool pickles the task function by name.)
    """
    import datajoint.autopopulate as ap
    init, call = getattr(ap, "_initialize_populate", None), getattr(ap, "_call_populate1", None)
    if init is None or call is None or _pool_functions:
        return
    _pool_functions.update(init=init, call=call)
    ap._initialize_populate, ap._call_populate1 = _guarded_initialize_populate, _guarded_call_populate1


_pool_functions = {}  # DataJoint's own pool initializer and task function, wrapped by guard_pool_workers()
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _worker_running_key():
    for s in _STOP_SIGNALS:
        signal.signal(s, _raise_terminated)


def _worker_idle():
    """Back to the default action, without losing a signal that arrives during the switch: blocked,
    a pending one is handled by the raising handler when the mask call returns, then delivered with
    the default action (the worker dies) when the mask is lifted."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        for s in _STOP_SIGNALS:
            signal.signal(s, signal.SIG_DFL)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _guarded_initialize_populate(*args):
    del _signalled[:]
    _worker_running_key()
    _pool_functions["init"](*args)
    check_signalled()
    _worker_idle()


def _guarded_call_populate1(key):
    _worker_running_key()
    try:
        result = _pool_functions["call"](key)
        check_signalled()
    finally:
        _worker_idle()
    return result


def _note_signal(signum, frame):
    log.warning("signal %d received during cleanup; finishing cleanup first", signum)


def _note_stop_signals():
    """From here on SIGTERM/SIGINT are only logged: the process is already stopping and cleans up first."""
    for s in _STOP_SIGNALS:
        signal.signal(s, _note_signal)


def release_keys(table, major, processes, since):
    """Give back the keys this run held when it was terminated.

    2.x: rows this process reserved, or marked as "SystemExit: SIGTERM received"
    (or SIGINT) errors, go back to 'pending'. 0.14: such rows are deleted (0.14 has no pending status; a missing
    row means "to do"). Returns the number of rows released.
    """
    host, pid = platform.node(), os.getpid()
    conn = table.connection
    try:
        conn.query("SELECT 1")
    except Exception:
        conn.connect()  # populate(processes>1) leaves the parent's connection closed on abort
    # A stop signal can cut DataJoint's own clean-up short (its handler raises on every signal, and under
    # SLURM a worker gets several) and leave this connection inside make()'s transaction, where the UPDATE
    # below would be rolled back when the process exits and the key would stay reserved. Leave it first:
    # whatever make() wrote is to be undone anyway.
    conn.cancel_transaction()
    if processes > 1:
        # pool workers have their own pids: match this host's rows reserved since we started
        if major >= 2:
            who, args = "host=%s AND reserved_time >= %s", [host, since]
        else:
            who, args = "host=%s AND timestamp >= %s", [host, since]
    else:
        who, args = "host=%s AND pid=%s", [host, pid]
    what = "(status='reserved' OR (status='error' AND error_message IN (%s, %s)))"
    args += ["SystemExit: " + SIGTERM_MESSAGE, "SystemExit: " + SIGINT_MESSAGE]
    if major >= 2:
        jobs = table.jobs
        sql = ("UPDATE %s SET status='pending', error_message='', error_stack=NULL, "
               "reserved_time=NULL, completed_time=NULL WHERE %s AND %s"
               % (jobs.full_table_name, who, what))
    else:
        jobs = table.connection.schemas[table.database].jobs
        sql = "DELETE FROM %s WHERE table_name=%%s AND %s AND %s" % (jobs.full_table_name, who, what)
        args.insert(0, table.table_name)
    cursor = conn.query(sql, args=tuple(args))
    return cursor.rowcount


def clear_errors(table, major, restrictions):
    """Give the table's error rows (within the restrictions) back to the queue, for a retry attempt.

    The rows are those scope_errors() counts. 2.x: delete them, then refresh those keys as
    pending (also when workers run with --no-refresh). 0.14: delete them; a key without a row
    is "to do". Returns the number of rows cleared.
    """
    rows, count = _error_rows(table, major, restrictions)
    if count:
        rows.delete_quick()
        if major >= 2:
            table.jobs.refresh(*restrictions, delay=-1)
    return count


def server_now(table, major):
    """The database server's clock (reservation times are server times)."""
    expr = "CURRENT_TIMESTAMP(3)" if major >= 2 else "CURRENT_TIMESTAMP"
    value = table.connection.query("SELECT " + expr).fetchone()[0]
    if major < 2:
        import datetime

        value = value - datetime.timedelta(seconds=1)  # 0.14 jobs.timestamp has second precision
    return value


# ---------------------------------------------------------------------------
# job health: reservations of dead workers, error rows within the scope
# ---------------------------------------------------------------------------


def track_connection_ids(dj):
    """Keep ``Connection.connection_id`` equal to the server's id of the live connection.

    DataJoint reads the id once, when the Connection object is created, and stamps it on
    every reservation. A reconnect keeps the old, closed id: populate(processes>1) closes
    the parent's connection and every pool worker reconnects after fork, and query()
    reconnects after a lost connection. Such reservations would name a dead connection and
    look abandoned to reclaim_dead_jobs() while their worker runs. The id is re-read after
    every connect() (pool workers are forked, so they inherit this).
    """
    cls = dj.Connection
    original = cls.connect
    if getattr(original, "_djflow_tracks_connection_id", False):
        return

    def connect(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        self.connection_id = _server_connection_id(self)
        return result

    connect._djflow_tracks_connection_id = True
    cls.connect = connect


def _server_connection_id(connection):
    adapter = getattr(connection, "adapter", None)
    if adapter is not None:  # 2.x: CONNECTION_ID() on MySQL, pg_backend_pid() on PostgreSQL
        return adapter.get_connection_id(connection._conn)
    cursor = connection._conn.cursor()
    cursor.execute("SELECT CONNECTION_ID()")
    return cursor.fetchone()[0]


def live_connections(query, backend):
    """The server's live connections as this session sees them: (ids, own id, visible_user).

    ``query(sql, args=None)`` returns a list of rows. visible_user is None when every
    connection is visible (PostgreSQL's pg_stat_activity lists every backend's pid; MySQL and
    MariaDB list every thread in information_schema.PROCESSLIST to a user with the PROCESS
    privilege), else the user name whose connections alone are listed: without PROCESS the
    server shows only the threads logged in with the session's own user name.
    """
    if backend == "postgresql":
        me = query("SELECT pg_backend_pid()")[0][0]
        return {int(r[0]) for r in query("SELECT pid FROM pg_stat_activity")}, me, None
    me, current = query("SELECT CONNECTION_ID(), CURRENT_USER()")[0]
    rows = query("SELECT ID, USER FROM information_schema.PROCESSLIST")
    ids = {int(r[0]) for r in rows}
    name, _, host = current.rpartition("@")
    if any((r[1] or "") != name for r in rows):  # another user's thread: only shown with PROCESS
        return ids, me, None
    grantee = "'%s'@'%s'" % (name.replace("'", "''"), host.replace("'", "''"))
    granted = query("SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES "
                    "WHERE GRANTEE=%s AND PRIVILEGE_TYPE='PROCESS'", (grantee,))[0][0]
    return ids, me, (None if granted else name)


def judge_reservations(holders, live, visible_user, this_host=None):
    """Split the holders of reserved rows into (dead connection ids, unchecked row count).

    holders: rows (connection_id, user, host, pid, row count). A holder is dead when its
    connection is not among the live ones and could have been seen: holders of another
    user name (when only visible_user's connections are listed) and rows without a
    connection id are unchecked. A holder whose process still runs on this host counts as
    alive (DataJoint used outside this runner may stamp a stale id after a reconnect).
    """
    dead, unchecked = set(), 0
    for connection_id, user, host, pid, count in holders:
        if not connection_id:
            unchecked += count
        elif visible_user is not None and ((user or "").rpartition("@")[0] != visible_user or not visible_user):
            unchecked += count
        elif int(connection_id) in live:
            continue
        elif this_host is not None and host == this_host and pid and _process_alive(int(pid)):
            continue
        else:
            dead.add(int(connection_id))
    return dead, unchecked


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended
    except (OSError, IndexError):
        return True


def server_start(query, backend):
    """When the database server started, on its own clock, at whole seconds: every connection made before
    then is gone, whatever its id (MySQL and MariaDB number connections from 1 again after a restart; on
    PostgreSQL a backend pid can come back). ``query(sql, args=None)`` returns a list of rows.

    MySQL/MariaDB report Uptime in whole seconds. NOW() is read first, so the start computed from the
    Uptime read after it is never later than the real start (truncated to the second): a row reserved by a
    connection of this server is never older than it."""
    if backend == "postgresql":
        return query("SELECT date_trunc('second', pg_postmaster_start_time())")[0][0]
    import datetime

    now = query("SELECT NOW()")[0][0]
    uptime = int(query("SHOW GLOBAL STATUS LIKE 'Uptime'")[0][1])
    return now - datetime.timedelta(seconds=uptime)


def reclaim_dead_jobs(table, major, notes):
    """Give back the table's reservations whose worker is gone; return how many rows.

    A worker killed hard (SIGKILL, OOM killer, node failure) leaves its rows ``reserved``
    forever. Its database connection is closed with it, so a reserved row whose
    connection_id is no longer a live connection has no worker: 2.x puts it back to
    ``pending``, 0.14 deletes it (a missing row means "to do"). A row reserved before the
    database server started (a restart ended every connection) is dead too, whatever its
    connection_id: after a restart the server gives the old ids to new, unrelated connections.
    Whole table, not just the restriction: a dead worker's row is dead for every job. Rows of
    live connections are never touched, nor rows whose process still runs on this host; rows
    that cannot be judged (no PROCESS privilege, connections not listed) are left alone with a
    note. A bounded number of queries: the server's start, holders grouped by connection, the
    connection list, one UPDATE/DELETE.
    """
    conn = table.connection
    quote = conn.adapter.quote_identifier if major >= 2 else (lambda name: "`%s`" % name)
    backend = conn.adapter.backend if major >= 2 else "mysql"

    def query(sql, args=None):
        return list(conn.query(sql, args=args).fetchall())

    if major >= 2:
        jobs = table.jobs
        since = server_now(table, major)  # rows reserved after this are never judged
        where, args, reserved_at = "status='reserved'", [], quote("reserved_time")
    else:
        jobs = conn.schemas[table.database].jobs
        where, args, reserved_at = "table_name=%s AND status='reserved'", [table.table_name], quote("timestamp")
    try:
        started = server_start(query, backend)
    except Exception as e:
        if classify(e) not in (None, "sql"):
            raise
        started = None
        notes.append("reserved rows older than the database server not recognised: its start time cannot be "
                     "read (%s: %s)" % (type(e).__name__, e))
        log.warning("%s", notes[-1])
    stale = "CASE WHEN %s < %%s THEN 1 ELSE 0 END" % reserved_at if started is not None else "0"
    holders = query(
        "SELECT connection_id, {user}, host, pid, {stale}, COUNT(*) FROM {jobs} WHERE {where} "
        "GROUP BY 1, 2, 3, 4, 5".format(user=quote("user"), stale=stale, jobs=jobs.full_table_name, where=where),
        tuple(([started] if started is not None else []) + args))
    if not holders:
        return 0
    this_host = platform.node()
    older = [h for h in holders if int(h[4])]  # reserved before the server started: dead unless still running
    kept = sorted({int(pid) for _c, _u, host, pid, _s, _n in older
                   if host == this_host and pid and _process_alive(int(pid))})
    older = [h for h in older if not (h[2] == this_host and h[3] and int(h[3]) in kept)]
    current = [(c, u, host, pid, n) for c, u, host, pid, s, n in holders if not int(s)]
    dead = _dead_connections(query, backend, current, notes) if current else set()
    conditions, condition_args = [], []
    if dead:
        ids = sorted(dead)
        condition = "connection_id IN (%s)" % ", ".join(["%s"] * len(ids))
        condition_args += ids
        if started is not None:  # not the older rows of a reused id: judged by the server's start above
            condition = "(%s AND %s >= %%s)" % (condition, reserved_at)
            condition_args.append(started)
        conditions.append(condition)
    if older:
        condition = "%s < %%s" % reserved_at
        condition_args.append(started)
        if kept:
            condition = "(%s AND NOT (host = %%s AND pid IN (%s)))" % (condition, ", ".join(["%s"] * len(kept)))
            condition_args += [this_host] + kept
        conditions.append(condition)
    if not conditions:
        return 0
    if major >= 2:
        sql = ("UPDATE %s SET status='pending', error_message='', error_stack=NULL, reserved_time=NULL, "
               "completed_time=NULL WHERE status='reserved' AND reserved_time <= %%s AND (%s)"
               % (jobs.full_table_name, " OR ".join(conditions)))
        sql_args = [since] + condition_args
    else:
        sql = ("DELETE FROM %s WHERE table_name=%%s AND status='reserved' AND (%s)"
               % (jobs.full_table_name, " OR ".join(conditions)))
        sql_args = [table.table_name] + condition_args
    count = conn.query(sql, args=tuple(sql_args)).rowcount
    for connection_id, user, host, pid, n in current:
        if connection_id is not None and int(connection_id) in dead:
            log.warning("reclaimed %d reserved row(s) of dead connection %s (host %s, pid %s)",
                        n, connection_id, host, pid)
    for connection_id, user, host, pid, _s, n in older:
        log.warning("reclaimed %d reserved row(s) of connection %s (host %s, pid %s), reserved before the database "
                    "server started at %s", n, connection_id, host, pid, started)
    return count


def _dead_connections(query, backend, holders, notes):
    """The connection ids among holders (connection_id, user, host, pid, rows) that are no longer live
    connections of the server (see judge_reservations); rows that cannot be judged get a note."""
    try:
        live, me, visible_user = live_connections(query, backend)
    except Exception as e:
        if classify(e) not in (None, "sql"):
            raise
        notes.append("reserved rows not checked: the server's connections cannot be listed (%s: %s); "
                     "--orphan-timeout re-pends them by age (2.x)" % (type(e).__name__, e))
        log.warning("%s", notes[-1])
        return set()
    if int(me) not in live:
        notes.append("reserved rows not checked: the server's connection list lacks this session's own "
                     "connection %s (a proxy in between?)" % me)
        log.warning("%s", notes[-1])
        return set()
    dead, unchecked = judge_reservations(holders, live, visible_user, platform.node())
    if unchecked:
        notes.append("%d reserved row(s) not checked: %s" % (
            unchecked, "without the PROCESS privilege only %r's connections are listed" % visible_user
            if visible_user is not None else "no connection id recorded"))
        log.warning("%s", notes[-1])
    return dead


def _restricted_source(table, restrictions):
    source = table.key_source
    if isinstance(source, type):
        source = source()
    for restriction in restrictions:
        source = source & restriction
    return source


def _error_rows(table, major, restrictions):
    """(rows, count): the table's ``error`` job rows whose keys are in the restricted key
    source (every error row of the table without a restriction). A bounded number of queries."""
    if major >= 2:
        rows = table.jobs & "status='error'"
        if restrictions:
            rows = rows.restrict(_restricted_source(table, restrictions).proj(), semantic_check=False)
        return rows, len(rows)
    jobs = table.connection.schemas[table.database].jobs
    hashes = [h for (h,) in table.connection.query(
        "SELECT key_hash FROM %s WHERE table_name=%%s AND status='error'" % jobs.full_table_name,
        args=(table.table_name,)).fetchall()]
    if hashes and restrictions:
        from datajoint.hash import key_hash

        in_scope = {key_hash(key) for key in _restricted_source(table, restrictions).fetch("KEY")}
        hashes = [h for h in hashes if h in in_scope]
    rows = jobs & {"table_name": table.table_name, "status": "error"}
    if restrictions:
        rows = rows & [{"key_hash": h} for h in hashes]  # an empty OR-list matches nothing
    return rows, len(hashes)


def scope_errors(table, major, restrictions, limit=MAX_REPORTED_ERRORS):
    """{"count", "messages", "keys"}: the error rows within the scope (from this run or an
    earlier one), with the first `limit` messages and keys."""
    rows, count = _error_rows(table, major, restrictions)
    found = {"count": count, "messages": [], "keys": []}
    if not count:
        return found
    if major >= 2:
        for row in rows.proj("error_message").to_dicts(limit=limit):
            found["messages"].append(str(row.pop("error_message"))[:1000])
            found["keys"].append(_json_safe(row))
    else:
        for row in rows.fetch("key", "error_message", limit=limit, order_by="key_hash", as_dict=True):
            found["messages"].append(str(row["error_message"])[:1000])
            found["keys"].append(_json_safe(row["key"]))
    return found


# ---------------------------------------------------------------------------
# pipelining (--follow): each key is populated as soon as its inputs are committed
# ---------------------------------------------------------------------------

POLL_FIRST = 0.2  # seconds between polls right after work, growing by POLL_FACTOR up to POLL_MAX
POLL_FACTOR = 1.5
POLL_MAX = 1.0
STUCK = ("error", "ignore")  # job states no worker takes again (until --clear-errors)


def _quote_for(connection):
    adapter = getattr(connection, "adapter", None)
    return adapter.quote_identifier if adapter is not None else (lambda name: "`%s`" % name)


def _sql_text(value):
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "''")


class FollowProbe:
    """One poll = one SQL statement, so every count comes from the same snapshot of the database.

    For this table: keys a worker can take now (``available``: in the restricted key source, not in the
    table, not held in the jobs table; 2.x counts pending rows too) and keys held by workers (``reserved``).
    For each upstream job table of the workflow: keys still to do (``remaining``), those parked in
    ``error``/``ignore`` (``stuck``; exact on 2.x, an upper bound on 0.14, whose jobs table keys rows by a
    hash that SQL cannot recompute) and ``reserved`` rows. The statement's cost depends on the number of
    tables, never on a number of keys per query.
    """

    def __init__(self, table, major, restrictions, upstream):
        self.table, self.major, self.restrictions, self.upstream = table, major, restrictions, upstream
        self.connection = table.connection
        self.quote = _quote_for(self.connection)
        self._aliases = 0
        terms = []
        remaining = _restricted_source(table, restrictions) - table.proj()
        if major >= 2:
            jobs = table.jobs
            pending = remaining.restrict((jobs & "status='pending'").proj(), semantic_check=False)
            new = remaining.restrict(dj_not(jobs), semantic_check=False)
            terms += [self._count(pending), self._count(new), self._count(remaining),
                      self._rows(jobs, "status='reserved'")]
        else:
            terms += [self._count(remaining), self._rows014(table, None), self._rows014(table, ("reserved",))]
        for _name, up, up_restrictions in upstream:
            left = _restricted_source(up, up_restrictions) - up.proj()
            terms.append(self._count(left))
            if major >= 2:
                terms.append(self._count(left.restrict((up.jobs & _status_in(STUCK)).proj(), semantic_check=False)))
                terms.append(self._rows(up.jobs, "status='reserved'"))
            else:
                terms += [self._rows014(up, STUCK), self._rows014(up, ("reserved",))]
        self.sql = "SELECT " + ", ".join(terms)

    def _alias(self):
        self._aliases += 1
        return self.quote("$djflow%d" % self._aliases)

    def _count(self, expr):
        return "(SELECT COUNT(*) FROM (%s) %s)" % (expr.proj().make_sql(), self._alias())

    def _rows(self, jobs, where):
        return "(SELECT COUNT(*) FROM %s WHERE %s)" % (jobs.full_table_name, where)

    def _rows014(self, table, states):
        jobs = table.connection.schemas[table.database].jobs
        where = "table_name=%s" % _sql_text(table.table_name)
        if states:
            where += " AND status IN (%s)" % ", ".join(_sql_text(s) for s in states)
        return "(SELECT COUNT(*) FROM %s WHERE %s)" % (jobs.full_table_name, where)

    def poll(self):
        row = [int(v or 0) for v in self.connection.query(self.sql).fetchone()]
        snap = {}
        if self.major >= 2:
            pending, new, remaining, reserved = row[:4]
            snap.update(available=pending + new, new=new, remaining=remaining, reserved=reserved)
            rest = row[4:]
        else:
            remaining, held, reserved = row[:3]
            snap.update(available=remaining - held, new=0, remaining=remaining, reserved=reserved,
                        approximate=True)
            rest = row[3:]
        snap["upstream"] = [dict(name=name, remaining=rest[3 * i], stuck=rest[3 * i + 1], reserved=rest[3 * i + 2])
                            for i, (name, _u, _r) in enumerate(self.upstream)]
        return snap


def dj_not(expr):
    import datajoint

    return datajoint.Not(expr)


def _status_in(states):
    return "status IN (%s)" % ", ".join(_sql_text(s) for s in states)


def _stuck_014(table, restrictions):
    """0.14: (keys to do that a worker can take, keys to do parked in error/ignore) of one table, exactly:
    the jobs rows' key hashes compared with the keys to do in Python (two queries)."""
    from datajoint.hash import key_hash

    todo = {key_hash(k) for k in (_restricted_source(table, restrictions) - table.proj()).fetch("KEY")}
    jobs = table.connection.schemas[table.database].jobs
    rows = table.connection.query("SELECT key_hash, status FROM %s WHERE table_name=%s"
                                  % (jobs.full_table_name, _sql_text(table.table_name))).fetchall()
    held = {h: status for h, status in rows}
    free = sum(1 for h in todo if h not in held)
    stuck = sum(1 for h in todo if held.get(h) in STUCK)
    return free, stuck


def _applicable(table, restrictions):
    """The restrictions if the table's key source has their attributes, else none (wait for all its keys)."""
    try:
        check_restriction_attributes(table, restrictions)
        return restrictions
    except UsageError:
        return []


def _worker_count(worker):
    try:
        return max(int(str(worker).split("/")[1]), 1)
    except (TypeError, ValueError, IndexError):
        return 1


def _worker_index(worker):
    try:
        return int(str(worker).split("/")[0])
    except (TypeError, ValueError):
        return 0


def follow(table, major, restrictions, args, kwargs, modules, dj, summary):
    """Populate keys as their inputs arrive until the table is done: nothing left to take in scope, and
    every --upstream table done (no key left to do but those parked in error/ignore), decided from one
    snapshot, so no key can arrive after the decision. A failed upstream key holds back only the keys
    that depend on it. Returns populate()'s result, summed over the rounds."""
    upstream = []
    submitted = os.environ.get("DJFLOW_FOLLOW_TABLES")  # submit.sh --only/--from: the tables it submitted
    names = args.upstream
    if submitted is not None:
        listed = set(line.strip() for line in submitted.splitlines() if line.strip())
        names = [name for name in args.upstream if name in listed]
        if names != args.upstream:
            summary["notes"].append("not following %s: not submitted with this job (DJFLOW_FOLLOW_TABLES)"
                                    % ", ".join(n for n in args.upstream if n not in listed))
    for name in names:
        cls = resolve_table(modules, name, dj)
        check_declared(cls, name, modules, dj)
        up = cls()
        if major >= 2:
            declare_jobs_table(up)
        upstream.append((name, up, _applicable(up, restrictions)))
    probe = FollowProbe(table, major, restrictions, upstream)
    index = _worker_index(args.worker)
    cap = _worker_count(args.worker)
    if os.environ.get("DJFLOW_SCALE_CAP", "").isdigit():
        cap = min(cap, max(int(os.environ["DJFLOW_SCALE_CAP"]), 1))
    scaler = SlurmScaler(cap, index) if args.auto_workers else None
    total = {"success_count": 0, "error_list": []}
    stats = summary["follow"] = {"polls": 0, "rounds": 0, "waited_seconds": 0.0, "held_back": {}, "left": None}
    stuck_known = {}  # 0.14: upstream name -> keys to do parked in error/ignore, counted exactly
    calls_left = args.max_calls
    interval, calm_since, last_signature, precise = POLL_FIRST, None, None, False
    while True:
        snap = probe.poll()
        stats["polls"] += 1
        if major < 2 and (precise or snap["available"] <= 0 < snap["remaining"] - snap["reserved"]):
            snap["available"], _stuck = _stuck_014(table, restrictions)  # hashes tell what the count cannot
        precise = False
        open_upstream = 0
        for up, (name, table_u, r_u) in zip(snap["upstream"], upstream):
            stuck = up["stuck"]
            if major < 2:
                if 0 < up["remaining"] <= stuck:
                    if stuck_known.get(name) is None or stuck_known[name][0] != up["remaining"]:
                        stuck_known[name] = (up["remaining"], _stuck_014(table_u, r_u)[1])
                    stuck = stuck_known[name][1]
                elif up["remaining"]:
                    stuck = 0
            up["open"] = max(up["remaining"] - stuck, 0)
            open_upstream += up["open"]
        potential = snap["available"] + snap["reserved"] + max([u["open"] for u in snap["upstream"]] or [0])
        if scaler:
            scaler.want(potential)
        if args.auto_workers and index > 0 and index >= potential:
            stats["left"] = "worker %d of an auto-sized table: at most %d key(s) to do or coming" % (index, potential)
            log.info("%s", stats["left"])
            break
        if snap["available"] > 0 and (calls_left is None or calls_left > 0):
            if major >= 2 and snap["new"]:
                table.jobs.refresh(*restrictions, priority=args.priority, delay=-1)
            round_calls = calls_left
            if scaler and scaler.growing():
                round_calls = min(round_calls or 2, 2)  # short rounds: measure, and scale up in time
            round_kwargs = dict(kwargs, max_calls=round_calls)
            round_started = time.time()
            result = table.populate(*restrictions, **round_kwargs)
            stats["rounds"] += 1
            done = int(result.get("success_count") or 0)
            errors = result.get("error_list") or []
            total["success_count"] += done
            total["error_list"] += errors
            if scaler and (done or errors):
                scaler.made(time.time() - round_started, done + len(errors))
            if calls_left is not None:
                calls_left -= done + len(errors)
            if done or errors:
                interval, calm_since = POLL_FIRST, None
                continue
            precise = major < 2  # 0.14's count was off (rows of keys out of scope): count exactly next time
        elif calls_left is not None and calls_left <= 0:
            stats["left"] = "--max-calls reached"
            break
        elif open_upstream == 0:
            if reclaim_dead_jobs(table, major, summary["notes"]):
                continue  # a dead worker's keys are back: take them
            for up in snap["upstream"]:
                if up["remaining"]:
                    stats["held_back"][up["name"]] = up["remaining"]
            if stats["held_back"]:
                log.warning("upstream keys in error hold back their dependents here: %s", stats["held_back"])
            stats["left"] = "done"
            if scaler:
                scaler.done()
            break
        signature = tuple((u["remaining"], u["reserved"]) for u in snap["upstream"])
        now = time.time()
        if signature != last_signature:
            last_signature, calm_since = signature, now
        elif now - calm_since > args.upstream_grace:
            reclaimed = sum(reclaim_dead_jobs(up, major, summary["notes"]) for _n, up, _r in upstream)
            if not reclaimed and not sum(u["reserved"] for u in snap["upstream"]):
                waiting = {u["name"]: u["open"] for u in snap["upstream"] if u["open"]}
                raise UpstreamStalled("upstream work is left (%s) but no upstream worker took a key for %g s: "
                                      "did its job fail or get cancelled?" % (waiting, args.upstream_grace))
            calm_since = now
        time.sleep(interval)
        stats["waited_seconds"] = round(stats["waited_seconds"] + interval, 3)
        interval = min(interval * POLL_FACTOR, POLL_MAX)
    return total


class SlurmScaler:
    """``workers: auto`` on SLURM: the array starts throttled to one task; worker 0 raises the array's
    ``ArrayTaskThrottle`` (``scontrol update``) to as many workers as the work pays for: the keys that can
    still come times the seconds a key takes, divided by what starting one more worker costs (this
    worker's own start: Python, DataJoint, the pipeline modules). When the table is done it writes the
    done marker (``DJFLOW_DONE_MARKER``) and lifts the throttle: the tasks still pending start, see the
    marker and exit before starting Python. Enabled by the sbatch script (``DJFLOW_SCALE=slurm``)."""

    def __init__(self, cap, index):
        self.job = os.environ.get("SLURM_ARRAY_JOB_ID")
        self.enabled = os.environ.get("DJFLOW_SCALE") == "slurm" and bool(self.job) and index == 0
        self.marker = os.environ.get("DJFLOW_DONE_MARKER")
        self.cap, self.current, self.can_throttle = cap, 1, True
        self.startup = max(time.time() - PROCESS_STARTED, 0.5)
        self.work_seconds, self.keys = 0.0, 0

    def growing(self):
        return self.enabled and self.can_throttle and self.current < self.cap

    def made(self, seconds, keys):
        self.work_seconds += seconds
        self.keys += keys

    def want(self, potential):
        if not (self.enabled and self.can_throttle) or not self.keys or self.current >= self.cap:
            return
        per_key = self.work_seconds / self.keys
        wanted = max(1, min(self.cap, int(potential * per_key / self.startup)))
        if wanted > self.current:
            self._throttle(wanted, "%d key(s) can come, %.2f s per key, %.1f s to start a worker"
                           % (potential, per_key, self.startup))

    def done(self):
        if not self.enabled:
            return
        if self.marker:
            try:
                with open(self.marker, "w") as f:
                    f.write("done\n")
            except OSError as e:
                log.warning("could not write the done marker %s: %s", self.marker, e)
        if self.can_throttle and self.current < self.cap:
            self._throttle(self.cap, "table done: the tasks still pending exit at once")

    def _throttle(self, n, why):
        try:
            subprocess.run(["scontrol", "update", "JobId=%s" % self.job, "ArrayTaskThrottle=%d" % n],
                           check=True, capture_output=True, timeout=20)
            log.info("workers: auto: array %s throttle %d -> %d (%s)", self.job, self.current, n, why)
            self.current = n
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("workers: auto: could not raise the array's throttle: %s", e)
            self.can_throttle = False


class UpstreamStalled(Exception):
    """--follow: upstream keys are left to do but nothing upstream moves (exit 1)."""


# ---------------------------------------------------------------------------
# workflow pool: one scheduler job runs the tables of a workflow with workers forked after the imports
# ---------------------------------------------------------------------------

MEMBER_FIELDS = ("follow", "after", "max-calls", "priority", "suppress-errors")
POOL_RECLAIM_AFTER = 5.0  # seconds without change before an idle pool worker looks for dead workers' keys


class PoolMember:
    """One table of a pool, as ``--member`` gives it: its nearest upstream members followed key by key
    (``follow``) or in table-level order (``after``: it takes no key until they are done, and none at all
    once one of them has a key in error, as ``afterok`` would), and its per-table options."""

    def __init__(self, name):
        self.name, self.follow, self.after = name, [], []
        self.max_calls, self.priority, self.suppress = None, None, False
        self.table = None
        self.success_count, self.errors = 0, []

    @property
    def upstream(self):
        return self.follow + self.after


def parse_member(text):
    """``TABLE[;follow=T,...][;after=T,...][;max-calls=N][;priority=P][;suppress-errors]``."""
    fields = text.split(";")
    member = PoolMember(fields[0].strip())
    if not member.name:
        raise UsageError("--member %r names no table" % text)
    for field in fields[1:]:
        key, eq, value = (part.strip() for part in field.partition("="))
        if key in ("follow", "after") and eq:
            getattr(member, key).extend(v.strip() for v in value.split(",") if v.strip())
        elif key == "max-calls" and eq and value.isdigit() and int(value) >= 1:
            member.max_calls = int(value)
        elif key == "priority" and eq and value.isdigit() and int(value) <= 255:
            member.priority = int(value)
        elif key == "suppress-errors" and not eq:
            member.suppress = True
        else:
            raise UsageError("--member %r: bad field %r (fields: %s; max-calls >= 1, priority 0..255)"
                             % (text, field, ", ".join(MEMBER_FIELDS)))
    return member


def check_pool_args(args):
    if not args.member:
        raise UsageError("--pool needs at least one --member")
    clashing = [flag for flag, given in (
        ("--table", args.table), ("--follow", args.follow), ("--upstream", args.upstream),
        ("--auto-workers", args.auto_workers), ("--refresh-only", args.refresh_only),
        ("--no-refresh", args.no_refresh), ("--describe", args.describe), ("--max-calls", args.max_calls),
        ("--priority", args.priority is not None), ("--processes", args.processes > 1)) if given]
    if clashing:
        raise UsageError("--pool populates its --member tables: it cannot be combined with %s (per-table "
                         "options go in --member)" % ", ".join(clashing))
    args.members, seen = [], set()
    for text in args.member:
        member = parse_member(text)
        if member.name in seen:
            raise UsageError("--member %s is listed twice" % member.name)
        for up in member.upstream:
            if up not in seen:
                raise UsageError("--member %s: %s is not a member listed before it (members go in topological "
                                 "order)" % (member.name, up))
        seen.add(member.name)
        args.members.append(member)


class PoolProbe(FollowProbe):
    """One poll of a pool = one SQL statement: for every member, the keys a worker can take now
    (``available``; 2.x: ``new`` of them have no jobs row yet), the keys still to do (``remaining``), those
    parked in ``error``/``ignore`` (``stuck``; exact on 2.x, an upper bound on 0.14) and ``reserved`` rows."""

    def __init__(self, members, major, restrictions):  # noqa: super().__init__ builds a single table's terms
        self.major, self.members, self.restrictions = major, members, restrictions
        self.connection = members[0].table.connection
        self.quote = _quote_for(self.connection)
        self._aliases = 0
        terms = []
        for member in members:
            table = member.table
            remaining = _restricted_source(table, restrictions) - table.proj()
            if major >= 2:
                jobs = table.jobs
                held = lambda where: remaining.restrict((jobs & where).proj(), semantic_check=False)  # noqa: E731
                terms += [self._count(held("status='pending'")),
                          self._count(remaining.restrict(dj_not(jobs), semantic_check=False)),
                          self._count(remaining), self._rows(jobs, "status='reserved'"),
                          self._count(held(_status_in(STUCK)))]
            else:
                terms += [self._count(remaining), self._rows014(table, None), self._rows014(table, ("reserved",)),
                          self._rows014(table, STUCK)]
        self.sql = "SELECT " + ", ".join(terms)

    def poll(self):
        row = [int(v or 0) for v in self.connection.query(self.sql).fetchone()]
        snaps = []
        for i, member in enumerate(self.members):
            if self.major >= 2:
                pending, new, remaining, reserved, stuck = row[5 * i:5 * i + 5]
                snaps.append(dict(available=pending + new, new=new, remaining=remaining, reserved=reserved,
                                  stuck=stuck))
            else:
                remaining, rows, reserved, stuck = row[4 * i:4 * i + 4]
                if remaining and (remaining <= rows or remaining <= stuck):  # rows out of scope blur the counts
                    free, stuck = _stuck_014(member.table, self.restrictions)
                else:
                    free, stuck = remaining - rows, 0 if not remaining else min(stuck, remaining)
                snaps.append(dict(available=max(free, 0), new=0, remaining=remaining, reserved=reserved,
                                  stuck=stuck))
        return snaps


def pool_state(members, snaps, exhausted=()):
    """From one snapshot, per member in order: ``open`` (keys to do that are not parked), ``blocked`` (a
    table-level upstream member has keys in error: the member takes no key, as afterok would not start it),
    ``gate`` (it may take keys now) and ``settled`` (nothing more can come: it and every upstream member
    have nothing open, or it is blocked, or this worker's --max-calls for it are spent)."""
    by, state = {}, []
    for member, snap in zip(members, snaps):
        failed = lambda name: by[name]["blocked"] or (by[name]["stuck"] and not by[name]["suppress"])  # noqa: E731
        entry = dict(snap, suppress=member.suppress, open=max(snap["remaining"] - snap["stuck"], 0))
        entry["blocked"] = any(failed(u) for u in member.after)
        entry["gate"] = not entry["blocked"] and all(by[u]["settled"] for u in member.after)
        entry["settled"] = all(by[u]["settled"] for u in member.upstream) and (
            entry["open"] == 0 or entry["blocked"] or member.name in exhausted)
        by[member.name] = entry
        state.append(entry)
    return state


def pool_worker(index, members, major, restrictions, held, since):
    """One forked worker: populate every member whose keys can be taken, in topological order, then poll;
    finish when every member is settled, decided from one snapshot. Worker N > 0 leaves as soon as at most
    N keys are open in the whole pool."""
    probe = PoolProbe(members, major, restrictions)
    calls = {m.name: m.max_calls for m in members}
    stats = {"polls": 0, "rounds": 0, "waited_seconds": 0.0, "left": None}
    interval, calm_since, signature = POLL_FIRST, time.time(), None
    while True:
        state = pool_state(members, probe.poll(), [name for name, left in calls.items() if left == 0])
        stats["polls"] += 1
        if all(entry["settled"] for entry in state):
            stats["left"] = "done"
            return stats
        potential = sum(entry["open"] for entry in state)
        if index > 0 and index >= potential:
            stats["left"] = "worker %d: at most %d key(s) open in the pool" % (index, potential)
            return stats
        made = 0
        for member, entry in zip(members, state):
            left = calls[member.name]
            if not entry["gate"] or entry["available"] <= 0 or left == 0:
                continue
            if major >= 2 and entry["new"]:
                member.table.jobs.refresh(*restrictions, priority=member.priority, delay=-1)
            kwargs = dict(reserve_jobs=True, suppress_errors=True, max_calls=left, processes=1,
                          display_progress=False)
            if major >= 2:
                kwargs.update(priority=member.priority, refresh=False)
            held[:] = [(member.table, major, 1, since)]
            result = member.table.populate(*restrictions, **kwargs)
            del held[:]
            done, errors = int(result.get("success_count") or 0), result.get("error_list") or []
            member.success_count += done
            member.errors += errors
            made += done + len(errors)
            if left is not None:
                calls[member.name] = max(left - done - len(errors), 0)
            stats["rounds"] += 1
        now = time.time()
        if made:
            interval, calm_since = POLL_FIRST, now
            continue
        current = tuple((e["remaining"], e["reserved"]) for e in state)
        if current != signature:
            signature, calm_since = current, now
        elif now - calm_since > POOL_RECLAIM_AFTER and any(e["reserved"] for e in state):
            for member, entry in zip(members, state):  # a sibling or another job died holding keys?
                if entry["reserved"]:
                    reclaim_dead_jobs(member.table, major, [])
            calm_since = now
        time.sleep(interval)
        stats["waited_seconds"] = round(stats["waited_seconds"] + interval, 3)
        interval = min(interval * POLL_FACTOR, POLL_MAX)


def _connections(members):
    found = []
    for member in members:
        if not any(member.table.connection is c for c in found):
            found.append(member.table.connection)
    return found


def pool_child(index, members, major, restrictions, since):
    """The body of forked worker `index`: returns (exit code, report); never raises."""
    report = {"index": index, "pid": os.getpid(), "code": EXIT_OK, "status": "ok", "errors": []}
    held = []
    try:
        for connection in _connections(members):
            connection.connect()  # its own connection: the parent closed its one before forking
        schemas = set()
        for member in members:
            if member.table.database not in schemas:
                schemas.add(member.table.database)
                record_worker(member.table, 1)
        report["follow"] = pool_worker(index, members, major, restrictions, held, since)
    except BaseException as e:  # noqa: B902 - SIGTERM arrives as SystemExit
        # Under SLURM a worker gets every stop signal twice: from slurmstepd (it signals all processes of the
        # step) and forwarded by the pool's parent. The second must not cut the release of its key short.
        try:
            _note_stop_signals()
        except SystemExit:  # the repeated signal landed before the line above
            _note_stop_signals()
        kind = classify(e)
        report["code"], report["status"], message = failure_outcome(e, kind)
        report["errors"] = [message]
        release_held(held, kind)
    report["members"] = {m.name: {"success_count": m.success_count, "error_count": len(m.errors),
                                  "errors": [[_json_safe(k), str(msg)[:300]] for k, msg in m.errors[:MAX_REPORTED_ERRORS]]}
                         for m in members}
    return report["code"], report


def fork_workers(slots, body):
    """Fork `slots` workers running body(index) -> (code, report); returns {pid: (index, read fd)}. Stop
    signals are blocked while forking, so a SIGTERM is forwarded to every worker (see wait_for_workers)."""
    children = {}
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        for index in range(slots):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = EXIT_ERRORS
                try:
                    os.close(r)
                    for s in _STOP_SIGNALS:
                        signal.signal(s, _raise_terminated)
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
                    code, report = body(index)
                    os.write(w, json.dumps(report, default=str).encode("utf-8"))
                finally:
                    os._exit(code)
            os.close(w)
            children[pid] = (index, r)
    except BaseException:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        raise
    return children


def wait_for_workers(children):
    """Wait for every worker; a SIGTERM/SIGINT to this process is forwarded to them (each releases its
    keys). Returns (reports by index, the stop signals received)."""
    received = []

    def forward(signum, frame):
        received.append(signum)
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    for s in _STOP_SIGNALS:
        signal.signal(s, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    reports = {}
    while children:
        pid, status = os.waitpid(-1, 0)
        if pid not in children:
            continue
        index, r = children.pop(pid)
        chunks = []
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        code = os.waitstatus_to_exitcode(status)
        try:
            report = json.loads(b"".join(chunks).decode("utf-8"))
        except ValueError:
            report = {"index": index, "pid": pid, "status": "killed", "errors": [], "members": {}}
            how = "was killed by signal %d" % -code if code < 0 else "exited with code %d without its report" % code
            log.warning("pool worker %d (pid %d) %s: its keys are reclaimed by the others", index, pid, how)
        report["code"] = code
        reports[index] = report
    for s in _STOP_SIGNALS:
        signal.signal(s, _raise_terminated)
    return [reports[i] for i in sorted(reports)], received


def run_pool(args, summary, dj, major, modules, restrictions):
    """``--pool N``: set every member up once (dead workers' keys, the 2.x job queue, --clear-errors), fork N
    workers that share the member tables key by key, then judge the tables from the database."""
    members, notes = args.members, summary["notes"]
    summary["table"] = ", ".join(m.name for m in members)
    if major >= 2 and _backend(dj) == "postgresql":
        check_postgres_quoting(restrictions)
    if major < 2:
        check_014_quoting(restrictions)
        if any(m.priority is not None for m in members):
            notes.append("priority ignored: DataJoint %s has no job priorities" % dj.__version__)
    for member in members:
        cls = resolve_table(modules, member.name, dj)
        check_declared(cls, member.name, modules, dj)
        check_populatable(cls, member.name, dj)
        member.table = cls()
        check_restriction_attributes(member.table, restrictions)
    pool = summary["pool"] = {"slots": args.pool, "members": {}, "workers": []}
    for member in members:
        entry = pool["members"][member.name] = {}
        table = member.table
        if major >= 2:
            declare_jobs_table(table)
        if args.clear_errors:
            entry["cleared_errors"] = clear_errors(table, major, restrictions)
        entry["remaining"], entry["total"] = checked_progress(table, restrictions)
        entry["reclaimed"] = reclaim_dead_jobs(table, major, notes)
        if major >= 2:
            entry["refresh"] = dict(table.jobs.refresh(*restrictions, priority=member.priority, delay=-1,
                                                       orphan_timeout=args.orphan_timeout))
    summary["remaining"] = sum(e["remaining"] for e in pool["members"].values())
    summary["total"] = sum(e["total"] for e in pool["members"].values())
    log.info("pool of %d workers: %d of %d keys to do in %s", args.pool, summary["remaining"], summary["total"],
             summary["table"])
    check_signalled()
    since = server_now(members[0].table, major)
    for connection in _connections(members):
        connection.close()  # every worker opens its own
    children = fork_workers(args.pool, lambda i: pool_child(i, members, major, restrictions, since))
    reports, received = wait_for_workers(children)
    for connection in _connections(members):
        connection.connect()
    pool["workers"] = [{k: r.get(k) for k in ("index", "pid", "code", "status", "errors", "follow")} for r in reports]
    codes = [r["code"] for r in reports]
    if received or EXIT_TERMINATED in codes or EXIT_INTERRUPTED in codes:
        raise SystemExit(SIGINT_MESSAGE if signal.SIGINT in received or EXIT_INTERRUPTED in codes
                         else SIGTERM_MESSAGE)
    summary["errors"], summary["error_keys"] = [], []
    for member in members:
        entry = pool["members"][member.name]
        entry["success_count"] = sum(r["members"].get(member.name, {}).get("success_count", 0) for r in reports)
        entry["error_count"] = sum(r["members"].get(member.name, {}).get("error_count", 0) for r in reports)
        for r in reports:
            for key, message in r["members"].get(member.name, {}).get("errors", []):
                if len(summary["errors"]) < MAX_REPORTED_ERRORS:
                    summary["errors"].append("%s: %s" % (member.name, message))
                    summary["error_keys"].append(key)
        summary["success_count"] += entry["success_count"]
        summary["error_count"] += entry["error_count"]
    for status, code in (("usage", EXIT_USAGE), ("transient", EXIT_TRANSIENT), ("errors", EXIT_ERRORS)):
        failed = [r for r in reports if r["code"] == code and r.get("status") == status]
        if failed:
            summary["status"] = status
            summary["errors"] = failed[0]["errors"] + summary["errors"]
            return code
    capped = [m.name for m in members if m.max_calls is not None]  # keys left by --max-calls are no failure
    state = pool_state(members, PoolProbe(members, major, restrictions).poll(), capped)
    killed = [r["index"] for r in reports if r["code"] < 0]
    if killed:
        notes.append("pool worker(s) %s ended by a signal; the others reclaimed their keys" % killed)
    unfinished = {m.name: e["open"] for m, e in zip(members, state) if not e["settled"]}
    if killed and unfinished:  # every worker that stayed to the end was killed: keys are left for a retry
        summary["status"] = "transient"
        summary["errors"].insert(0, "pool workers ended with keys left: %s" % unfinished)
        return EXIT_TRANSIENT
    held_back = {m.name: e["open"] for m, e in zip(members, state) if e["blocked"] and e["open"]}
    if held_back:
        pool["held_back"] = held_back
        log.warning("keys held back by table-level upstream members with keys in error: %s", held_back)
    failing, scopes = False, {"count": 0, "messages": [], "keys": []}
    for member in members:
        found = pool["members"][member.name]["scope_errors"] = scope_errors(member.table, major, restrictions)
        scopes["count"] += found["count"]
        scopes["messages"] += ["%s: %s" % (member.name, m) for m in found["messages"]][:MAX_REPORTED_ERRORS]
        scopes["keys"] += found["keys"][:MAX_REPORTED_ERRORS]
        failing = failing or (found["count"] > 0 and not member.suppress)
    summary["scope_errors"] = scopes
    if scopes["count"]:
        log.error("%d key(s) within the scope are in error status (clear them with --clear-errors to retry), "
                  "e.g. %s", scopes["count"], scopes["messages"][0] if scopes["messages"] else "?")
        summary["status"] = "errors"
        return EXIT_ERRORS if failing else EXIT_OK
    summary["status"] = "ok"
    return EXIT_OK


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def run(argv, summary, held):
    """Do the work; fill `summary`; return the exit code (may raise).

    While populate() runs, `held` holds what release_keys() needs after a SIGTERM.
    """
    args = parse_args(argv)
    summary["table"] = args.table
    summary["worker"] = args.worker
    restrictions = parse_restriction(args.restriction)

    dj, major = import_datajoint()
    summary["datajoint"] = dj.__version__
    notes = summary["notes"]
    track_connection_ids(dj)
    guard_pool_workers()

    modules = import_modules(args.modules)
    if args.pool is not None:
        return run_pool(args, summary, dj, major, modules, restrictions)
    cls = resolve_table(modules, args.table, dj)
    check_declared(cls, args.table, modules, dj)
    summary.update(full_table_name=cls.full_table_name)

    if args.describe:
        info = table_info(cls, dj)
        if issubclass(cls, (dj.Computed, dj.Imported)) and not issubclass(cls, dj.Part):
            table = cls()
            check_restriction_attributes(table, restrictions)
            info["remaining"], info["total"] = checked_progress(table, restrictions)
        summary["describe"] = info
        summary["status"] = "ok"
        return EXIT_OK

    check_populatable(cls, args.table, dj)
    table = cls()
    check_restriction_attributes(table, restrictions)

    if major >= 2 and _backend(dj) == "postgresql":
        check_postgres_quoting(restrictions)
    if major < 2:
        check_014_quoting(restrictions)
        if args.priority is not None:
            notes.append("--priority ignored: DataJoint %s has no job priorities" % dj.__version__)
        if args.no_refresh:
            notes.append("--no-refresh ignored: DataJoint %s has no job queue to refresh" % dj.__version__)
        if args.orphan_timeout is not None:
            notes.append("--orphan-timeout ignored: DataJoint %s cannot re-pend orphaned jobs" % dj.__version__)
        if args.refresh_only:
            notes.append("--refresh-only is a no-op on DataJoint %s apart from reclaiming dead workers' keys "
                          "(workers find keys themselves)" % dj.__version__)
    elif args.no_refresh and args.orphan_timeout is not None:
        notes.append("--orphan-timeout ignored with --no-refresh (it applies to the refresh step)")

    if major >= 2:
        declare_jobs_table(table)  # before any fan-out: concurrent declarations race on PostgreSQL

    if args.clear_errors:  # also on a refresh step: the first step of a multi-worker table (--retry-failed)
        summary["cleared_errors"] = clear_errors(table, major, restrictions)
        log.info("retry: %d error row(s) given back to the queue", summary["cleared_errors"])

    # progress before populating; also validates a SQL restriction early (exit 2)
    summary["remaining"], summary["total"] = checked_progress(table, restrictions)
    log.info("%s: %d of %d keys to do%s", args.table, summary["remaining"], summary["total"],
             " (restricted)" if restrictions else "")

    # reservations of workers that are gone (SIGKILL, node failure): back to the queue
    summary["reclaimed"] = reclaim_dead_jobs(table, major, notes)

    if major >= 2:
        if not args.no_refresh:
            t = time.time()
            refreshed = table.jobs.refresh(*restrictions, priority=args.priority, delay=-1,
                                           orphan_timeout=args.orphan_timeout)
            summary["refresh"] = dict(refreshed)
            log.info("refreshed job queue in %.2f s: %s", time.time() - t, refreshed)
    if args.refresh_only:
        summary["status"] = "ok"  # errors of the table do not fail the refresh step
        return EXIT_OK

    kwargs = dict(reserve_jobs=True, suppress_errors=True, max_calls=args.max_calls,
                  processes=args.processes, display_progress=False)
    if major >= 2:
        kwargs.update(priority=args.priority, refresh=False)  # refreshed above (or by the refresh step)

    check_signalled()
    record_worker(table, args.processes)
    since = server_now(table, major)
    held.append((table, major, args.processes, since))
    if args.follow:
        result = follow(table, major, restrictions, args, kwargs, modules, dj, summary)
    else:
        result = table.populate(*restrictions, **kwargs)
    del held[:]

    errors = result.get("error_list") or []
    summary["success_count"] = int(result.get("success_count") or 0)
    summary["error_count"] = len(errors)
    summary["errors"] = [str(msg)[:1000] for _key, msg in errors[:MAX_REPORTED_ERRORS]]
    summary["error_keys"] = [_json_safe(key) for key, _msg in errors[:MAX_REPORTED_ERRORS]]
    for key, msg in errors:
        log.error("key %s failed: %s", _json_safe(key), msg)
    # The job succeeds only when its table is done in scope: error rows of keys within the
    # restriction fail it too, also those left by an earlier run (populate() skips them).
    found = summary["scope_errors"] = scope_errors(table, major, restrictions)
    if (major >= 2 and args.no_refresh and not summary["success_count"] and not errors
            and summary["remaining"] > found["count"]):
        notes.append("%d key(s) remain but none was pending in the job queue: did the --refresh-only step run?"
                     % (summary["remaining"] - found["count"]))
    if found["count"] > len(errors):
        log.error("%d key(s) within the scope are in error status (clear them with --clear-errors to retry), "
                  "e.g. %s: %s", found["count"], found["keys"][0] if found["keys"] else "?",
                  found["messages"][0] if found["messages"] else "?")
    if errors or found["count"]:
        summary["status"] = "errors"
        return EXIT_OK if args.suppress_errors else EXIT_ERRORS
    summary["status"] = "ok"
    return EXIT_OK


def _installed_datajoint():
    """datajoint's version without importing it (for summaries of early usage errors)."""
    try:
        from importlib.metadata import version

        return version("datajoint")
    except Exception:
        return None


def _json_safe(value):
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------
# --introspect: the live reader
# ---------------------------------------------------------------------------

_TIER_PREFIXES = (("__", "computed"), ("_", "imported"), ("#", "lookup"))


def _split_full_name(full):
    """`db`.`tbl` or "db"."tbl" -> (db, tbl)."""
    q = full[0]
    db, _, tbl = full.partition(q + "." + q)
    return db.strip(q), tbl.strip(q)


def _camel(snake):
    """DataJoint's to_camel_case: l_f_p -> LFP, curated_clustering -> CuratedClustering."""
    import re

    return re.sub(r"(^|[_\W])+[a-zA-Z]", lambda m: m.group(0)[-1].upper(), snake)


def _parse_table_name(tbl):
    """(tier, master snake name, part snake name or None) from a table name; None for hidden tables."""
    if tbl.startswith("~"):
        return None
    tier = "manual"
    for prefix, name in _TIER_PREFIXES:
        if tbl.startswith(prefix):
            tier, tbl = name, tbl[len(prefix):]
            break
    master, sep, part = tbl.partition("__")
    return ("part" if sep else tier), master, (part or None), tier


def _class_names(dj, schemas):
    """{(db, table_name): (module, class path)} from the classes of every imported module."""
    names = {}
    for mod_name, mod in sorted(sys.modules.items()):
        if mod is None or mod_name == "__main__":
            continue
        try:
            members = list(vars(mod).values())
        except TypeError:
            continue
        for obj in members:
            if not (isinstance(obj, type) and issubclass(obj, dj.Table)) or issubclass(obj, dj.Part):
                continue
            db = getattr(obj, "database", None)
            if db not in schemas or obj.__module__ != mod_name:
                continue
            try:
                master_name = obj.table_name
            except Exception:
                continue
            names.setdefault((db, master_name), (mod_name, obj.__name__))
            for attr in dir(obj):
                part = getattr(obj, attr, None)
                if attr[:1].isupper() and isinstance(part, type) and issubclass(part, dj.Part):
                    try:
                        names.setdefault((db, part.table_name), (mod_name, obj.__name__ + "." + part.__name__))
                    except Exception:
                        pass
    return names


def _yaml_scalar(text):
    if text and all(c.isalnum() or c in "._-" for c in text) and not text[0].isdigit():
        return text
    return json.dumps(text)


def introspect(argv):
    """The live graph of the given schemas as djflow YAML text."""
    p = _Parser(prog="djflow_populate.py --introspect",
                description="Print the tables, tiers, parts and foreign keys of live schemas as djflow YAML.")
    p.add_argument("--introspect", action="store_true", required=True)
    p.add_argument("--schema", action="append", required=True, metavar="S", help="database schema (repeatable)")
    p.add_argument("--module", action="append", default=[], metavar="M",
                   help="module to import first (activates schemas, names tables by their classes)")
    p.add_argument("--pipeline", default="introspected", metavar="NAME")
    args = p.parse_args(argv)
    schemas = [s.strip() for item in args.schema for s in item.split(",") if s.strip()]
    dj, major = import_datajoint()
    import_modules([m.strip() for item in args.module for m in item.split(",") if m.strip()])
    conn = dj.conn()
    existing = set(conn.query("SELECT schema_name FROM information_schema.schemata").fetchall())
    existing = {row[0] for row in existing}
    missing = [s for s in schemas if s not in existing]
    if missing:
        raise UsageError("no such schema: %s" % ", ".join(missing))
    for schema in schemas:
        # registers the schema with the connection's dependency graph (virtual: no classes needed)
        dj.Schema(schema, create_schema=False, create_tables=False, connection=conn) if major >= 2 \
            else dj.Schema(schema, create_schema=False, create_tables=False)
    graph = conn.dependencies
    graph.load()
    classes = _class_names(dj, set(schemas))

    def parents_of(node):
        found = graph.parents(node)  # 0.14: {name: props}; 2.x: [(name, props)]
        return list(found.keys()) if isinstance(found, dict) else [item[0] for item in found]

    def real(node):
        # renamed foreign keys (.proj) put numeric alias nodes between parent and child
        while node.isdigit():
            node = parents_of(node)[0]
        return node

    def name_of(node):
        db, tbl = _split_full_name(node)
        known = classes.get((db, tbl))
        if known:
            return known[0] + "." + known[1]
        parsed = _parse_table_name(tbl)
        path = _camel(parsed[1]) + ("." + _camel(parsed[2]) if parsed[2] else "")
        return db + "." + path

    wanted = []
    for node in graph.topo_sort() if hasattr(graph, "topo_sort") else __import__("networkx").topological_sort(graph):
        if node.isdigit():
            continue
        db, tbl = _split_full_name(node)
        if db in schemas and _parse_table_name(tbl) is not None:
            wanted.append(node)
    # upstream tables of other schemas are listed too, so the YAML is complete
    closure, stack = set(wanted), list(wanted)
    while stack:
        for parent in parents_of(stack.pop()):
            parent = real(parent)
            if parent not in closure and _parse_table_name(_split_full_name(parent)[1]) is not None:
                closure.add(parent)
                stack.append(parent)
    entries = {}
    for node in closure:
        db, tbl = _split_full_name(node)
        tier, master_snake, part_snake, master_tier = _parse_table_name(tbl)
        name = name_of(node)
        parents = sorted({name_of(real(x)) for x in parents_of(node)})
        if part_snake:
            master = name.rsplit(".", 1)[0]
            parents = [x for x in parents if x != master]
        entries[name] = {"tier": tier, "parents": parents, "parts": [], "schema": db}
    for name, entry in entries.items():
        if entry["tier"] == "part":
            master, part = name.rsplit(".", 1)
            if master in entries:
                entries[master]["parts"].append(part)
    modules = sorted({n.rsplit(".", 2 if entries[n]["tier"] == "part" else 1)[0] for n in entries})
    out = ["# Live graph of %s, read by djflow_populate.py --introspect (DataJoint %s)."
           % (", ".join(schemas), dj.__version__),
           "# Tables are named module.Class (the Python class when --module imported it, else schema.Class).",
           "pipeline: %s" % _yaml_scalar(args.pipeline),
           "runner:",
           "  module: [%s]" % ", ".join(_yaml_scalar(m) for m in modules),
           "tables:"]
    for name in sorted(entries):
        entry = entries[name]
        fields = [] if entry["tier"] == "part" else ["tier: %s" % entry["tier"]]
        if entry["parents"]:
            fields.append("depends_on: [%s]" % ", ".join(_yaml_scalar(x) for x in entry["parents"]))
        if entry["parts"]:
            fields.append("parts: [%s]" % ", ".join(sorted(entry["parts"])))
        out.append("  %s: {%s}%s" % (_yaml_scalar(name), ", ".join(fields), "  # schema %s" % entry["schema"]))
    return "\n".join(out) + "\n"


def describe_tables(argv):
    """Progress of several tables in one start: one line ``REMAINING TOTAL TABLE`` per --table, in order.

    For ``submit.sh --skip-done``: REMAINING counts the keys of the restricted key source not yet in the
    table (keys in error included), as --describe reports them. Each table must be populatable.
    """
    p = _Parser(prog="djflow_populate.py --describe-tables",
                description="Print the keys left and the keys in total of each table, one line per table.")
    p.add_argument("--describe-tables", action="store_true", required=True)
    p.add_argument("--module", action="append", required=True, metavar="M",
                   help="pipeline module import path (repeatable, or comma-separated)")
    p.add_argument("--table", action="append", required=True, metavar="T", help="table class (repeatable)")
    p.add_argument("--restriction", metavar="JSON", help="JSON object, array (OR) or SQL string")
    args = p.parse_args(argv)
    modules = [m.strip() for item in args.module for m in item.split(",") if m.strip()]
    if not modules:
        raise UsageError("--module is empty")
    restrictions = parse_restriction(args.restriction)
    dj, major = import_datajoint()
    imported = import_modules(modules)
    lines = []
    for spec in args.table:
        cls = resolve_table(imported, spec, dj)
        check_declared(cls, spec, imported, dj)
        check_populatable(cls, spec, dj)
        table = cls()
        check_restriction_attributes(table, restrictions)
        if major >= 2 and _backend(dj) == "postgresql":
            check_postgres_quoting(restrictions)
        if major < 2:
            check_014_quoting(restrictions)
        remaining, total = checked_progress(table, restrictions)
        lines.append("%d %d %s" % (remaining, total, spec))
    return "\n".join(lines) + "\n"


def introspect_main(argv):
    return _text_main(introspect, argv)


def _text_main(produce, argv):
    """Modes that print text instead of the JSON summary (--introspect, --describe-tables): exit 0, 2 usage,
    75 transient, 1 otherwise; messages on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s djflow %(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # pipeline modules and DataJoint print to stderr; stdout carries only the text
    try:
        text = produce(argv)
        os.write(real_stdout, text.encode("utf-8"))
        return EXIT_OK
    except UsageError as e:
        log.error("usage: %s", e)
        return EXIT_USAGE
    except BaseException as e:  # noqa: B902
        kind = classify(e)
        log.error("%s: %s", type(e).__name__, e)
        if kind == "transient":
            return EXIT_TRANSIENT
        if kind in ("usage-db", "sql"):
            return EXIT_USAGE
        return EXIT_ERRORS


PROCESS_STARTED = time.time()  # module import time: how long this worker took to start, for the scaler


def failure_outcome(e, kind):
    """(exit code, summary status, message) for an exception that ended a run, logged."""
    message = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
    if kind in ("terminated", "interrupted"):
        log.warning("terminated by %s", "SIGTERM" if kind == "terminated" else "SIGINT")
        return (EXIT_TERMINATED if kind == "terminated" else EXIT_INTERRUPTED), "terminated", message
    if kind == "transient":
        log.error("transient database failure: %s", message)
        return EXIT_TRANSIENT, "transient", message
    if kind in ("usage-db", "sql"):
        log.error("%s", message)
        return EXIT_USAGE, "usage", message
    if isinstance(e, UsageError):
        log.error("usage: %s", e)
        return EXIT_USAGE, "usage", str(e)
    if isinstance(e, UpstreamStalled):
        log.error("%s", e)
        return EXIT_ERRORS, "errors", str(e)
    if isinstance(e, SystemExit):
        log.error("pipeline code called sys.exit(%r)", e.code)
        return EXIT_ERRORS, "errors", message
    log.error("unexpected failure:\n%s", traceback.format_exc())
    return EXIT_ERRORS, "errors", message


def release_held(held, kind):
    """After populate() was aborted (not by a lost database): hand back the keys this run still held."""
    if not held or kind == "transient":
        return
    _note_stop_signals()
    try:
        released = release_keys(*held[0])
        log.warning("released %d job row(s) of this run for a rerun", released)
    except Exception as ce:  # best effort: the database may be gone too
        log.error("could not release job rows: %s: %s", type(ce).__name__, ce)


def main(argv=None):
    started = time.time()
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--introspect" in argv:
        return introspect_main(argv)
    if "--describe-tables" in argv:
        return _text_main(describe_tables, argv)
    if "-h" in argv or "--help" in argv:  # plain help on stdout, no JSON summary
        try:
            parse_args(argv)
        except SystemExit as e:
            return e.code or 0
    # Keep stdout for the one summary line; everything else (including prints in
    # pipeline code and in forked pool workers) goes to stderr.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s djflow %(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, _raise_terminated)

    summary = {"table": None, "success_count": 0, "error_count": 0, "seconds": None,
               "job_id": job_id(), "worker": None, "datajoint": None, "status": None,
               "errors": [], "full_table_name": None, "error_keys": [], "refresh": None,
               "remaining": None, "total": None, "notes": [], "reclaimed": None, "scope_errors": None}
    held = []
    try:
        summary["datajoint"] = _installed_datajoint()
        code = run(argv, summary, held)
    except UsageError as e:
        log.error("usage: %s", e)
        summary.update(status="usage", errors=[str(e)])
        code = EXIT_USAGE
    except BaseException as e:  # noqa: B902 - SIGTERM arrives as SystemExit
        kind = classify(e)
        code, status, message = failure_outcome(e, kind)
        summary.update(status=status, errors=[message])
        release_held(held, kind)
    summary["seconds"] = round(time.time() - started, 3)
    line = json.dumps(summary, default=str, ensure_ascii=False) + "\n"
    os.write(real_stdout, line.encode("utf-8"))
    return code


if __name__ == "__main__":
    sys.exit(main())
