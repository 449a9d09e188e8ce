"""The test database every Python suite shares.

`scripts/db/up.sh` starts MariaDB (or reuses a running server) and writes an env.sh with the DJ_*
connection variables; `start()` returns them. Suites create schemas under a unique prefix and
remove them with `drop_schemas()`. Stdlib plus pymysql (which DataJoint brings), imported lazily.
"""
import pathlib
import shlex
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]


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


def start(timeout=600):
    """Starts or reuses the test MariaDB; returns its DJ_* variables for an env-only DataJoint config."""
    out = subprocess.run(["bash", str(REPO / "scripts" / "db" / "up.sh")], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("scripts/db/up.sh failed:\n" + out.stderr[-3000:])
    env = read_env_sh(out.stdout.strip().splitlines()[-1])
    env.setdefault("DJ_USE_TLS", "false")
    env["DJ_IGNORE_CONFIG_FILE"] = "true"
    return env


def connect(env):
    import pymysql

    host, _, port = env["DJ_HOST"].partition(":")
    return pymysql.connect(host=host, port=int(port or 3306), user=env["DJ_USER"], password=env["DJ_PASS"],
                           charset="utf8mb4", autocommit=True)


def drop_schemas(env, prefix):
    """Drops every schema (database) whose name starts with `prefix`."""
    conn = connect(env)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            names = [r[0] for r in cur.fetchall() if r[0].startswith(prefix)]
            cur.execute("SET FOREIGN_KEY_CHECKS=0")
            for name in names:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
    finally:
        conn.close()
