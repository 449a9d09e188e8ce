"""The test database every Python suite shares: MariaDB, or PostgreSQL for DataJoint 2.x.

`scripts/db/up.sh` starts MariaDB and `scripts/db/pg-up.sh` PostgreSQL (each reuses a running server)
and writes an env.sh with the DJ_* connection variables; `start()` returns them. The backend is
`backend=` if given, else $DJFLOW_TEST_BACKEND (`mysql`, the default, or `postgresql`). Suites create
schemas under a unique prefix and remove them with `drop_schemas()` (on PostgreSQL a DataJoint schema is
a PostgreSQL schema inside the database DJ_DATABASE_NAME). Stdlib plus pymysql or psycopg2 (DataJoint
brings pymysql; `datajoint[postgres]` brings psycopg2), imported lazily.
"""
import os
import pathlib
import shlex
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]

UP_SCRIPTS = {"mysql": "up.sh", "postgresql": "pg-up.sh"}
_ALIASES = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgresql", "postgres": "postgresql",
            "pg": "postgresql"}


def backend_name(name=None):
    """'mysql' or 'postgresql' for a backend name (default: $DJFLOW_TEST_BACKEND, else mysql)."""
    raw = (name or os.environ.get("DJFLOW_TEST_BACKEND") or "mysql").strip().lower()
    if raw not in _ALIASES:
        raise ValueError("unknown test database backend %r (use mysql or postgresql)" % raw)
    return _ALIASES[raw]


def is_postgres(env):
    return env.get("DJ_BACKEND", "mysql").lower() in ("postgresql", "postgres")


def read_env_sh(path):
    """The variables of `export NAME=value` lines (shell-quoted values)."""
    env = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            for token in shlex.split(line[len("export "):]):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def start(timeout=600, backend=None):
    """Starts or reuses the test database; returns its DJ_* variables for an env-only DataJoint config."""
    script = REPO / "scripts" / "db" / UP_SCRIPTS[backend_name(backend)]
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("scripts/db/%s failed:\n%s" % (script.name, out.stderr[-3000:]))
    env = read_env_sh(out.stdout.strip().splitlines()[-1])
    env.setdefault("DJ_USE_TLS", "false")
    env["DJ_IGNORE_CONFIG_FILE"] = "true"
    return env


def connect(env):
    """A DB-API connection in autocommit mode (pymysql or psycopg2; both use %s placeholders)."""
    host, _, port = env["DJ_HOST"].partition(":")
    if is_postgres(env):
        import psycopg2

        conn = psycopg2.connect(host=host, port=int(port or env.get("DJ_PORT") or 5432), user=env["DJ_USER"],
                                password=env["DJ_PASS"], dbname=env.get("DJ_DATABASE_NAME") or "postgres",
                                sslmode="disable")
        conn.autocommit = True
        return conn
    import pymysql

    return pymysql.connect(host=host, port=int(port or 3306), user=env["DJ_USER"], password=env["DJ_PASS"],
                           charset="utf8mb4", autocommit=True)


def quote(env, *names):
    """A quoted (schema-qualified) name: `db`.`tbl` on MySQL, "db"."tbl" on PostgreSQL."""
    if is_postgres(env):
        return ".".join('"%s"' % n.replace('"', '""') for n in names)
    return ".".join("`%s`" % n.replace("`", "``") for n in names)


def missing_table_error(exc):
    """True for the error of a query on a table that does not exist (either backend)."""
    text = str(exc)
    return "doesn't exist" in text or ("relation" in text and "does not exist" in text)


def drop_schemas(env, prefix):
    """Drops every schema whose name starts with `prefix` (MySQL databases, PostgreSQL schemas)."""
    conn = connect(env)
    try:
        with conn.cursor() as cur:
            if is_postgres(env):
                cur.execute("SELECT nspname FROM pg_namespace")
                names = [r[0] for r in cur.fetchall() if r[0].startswith(prefix)]
                for name in names:
                    cur.execute("DROP SCHEMA IF EXISTS %s CASCADE" % quote(env, name))
            else:
                cur.execute("SHOW DATABASES")
                names = [r[0] for r in cur.fetchall() if r[0].startswith(prefix)]
                cur.execute("SET FOREIGN_KEY_CHECKS=0")
                for name in names:
                    cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
    finally:
        conn.close()
