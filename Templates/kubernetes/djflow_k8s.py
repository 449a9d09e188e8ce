"""djflow Kubernetes helper: order Jobs without CRDs, and mark retries. Standard library only, Python 3.6+.

    python3 djflow_k8s.py wait [--timeout S] [--create-timeout S] [--interval S]
                               [--service-account-dir DIR] JOB...
        Init container of a Job whose table has upstream Jobs. Polls each Job through the API server
        (GET /apis/batch/v1/namespaces/NS/jobs/NAME with the pod's service account token; RBAC: get on
        those Jobs) until every one has the condition Complete. Exit codes:
          0  every Job completed
          2  misconfigured: the API server refused the token (401/403: RBAC), bad arguments
          3  a Job failed (condition Failed or FailureTarget): the pod failure policy fails this Job at once
          4  a Job did not exist after --create-timeout seconds, or did not finish within --timeout seconds
        Transient API errors (connection refused, 5xx, 429) are retried until the timeouts.

    python3 djflow_k8s.py run -- COMMAND...
        Main container: runs COMMAND (the populate runner) in place of itself (exec), adding --clear-errors
        when this pod is a retry, i.e. when DJFLOW_INDEX_FAILURES (the pod annotation
        batch.kubernetes.io/job-index-failure-count that the Job controller sets with backoffLimitPerIndex,
        through the downward API) is a number above 0, or when DJFLOW_RETRY_FAILED (the workflow ConfigMap's
        key retry_failed, given to the first Job of each table) is "true" (also 1, yes, on). Exit codes are
        COMMAND's.

The API server address comes from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (set by the kubelet);
the token, CA certificate and namespace from the service account directory (token re-read on every request:
the kubelet rotates it).
"""

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UPSTREAM_FAILED = 3
EXIT_TIMEOUT = 4


def log(message):
    sys.stderr.write("djflow-k8s: %s\n" % message)
    sys.stderr.flush()


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _api_base():
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ValueError("KUBERNETES_SERVICE_HOST is not set (not running in a pod?)")
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "https://%s:%s" % (host, port)


def job_state(base, context, account_dir, namespace, name):
    """('complete'|'failed'|'running'|'missing'|'denied'|'error', detail)"""
    url = "%s/apis/batch/v1/namespaces/%s/jobs/%s" % (base, namespace, name)
    request = urllib.request.Request(url, headers={
        "Authorization": "Bearer " + _read(os.path.join(account_dir, "token")),
        "Accept": "application/json",
    })
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            job = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return "missing", "not found"
        if e.code in (401, 403):
            return "denied", "HTTP %d" % e.code
        return "error", "HTTP %d" % e.code
    except (urllib.error.URLError, OSError, ValueError) as e:
        return "error", str(e)
    conditions = (job.get("status") or {}).get("conditions") or []
    true = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    for kind in ("Failed", "FailureTarget"):
        if kind in true:
            c = true[kind]
            return "failed", "%s: %s %s" % (kind, c.get("reason", ""), c.get("message", ""))
    if "Complete" in true:
        return "complete", "Complete"
    return "running", "running"


def wait(argv):
    timeout, create_timeout, interval = 86400.0, 600.0, 10.0
    account_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    jobs = []
    i = 0
    try:
        while i < len(argv):
            arg = argv[i]
            if arg in ("--timeout", "--create-timeout", "--interval", "--service-account-dir"):
                value = argv[i + 1]
                i += 2
                if arg == "--service-account-dir":
                    account_dir = value
                elif arg == "--timeout":
                    timeout = float(value)
                elif arg == "--create-timeout":
                    create_timeout = float(value)
                else:
                    interval = float(value)
            elif arg.startswith("-"):
                raise ValueError("unknown option %s" % arg)
            else:
                jobs.append(arg)
                i += 1
        if not jobs:
            raise ValueError("no Job to wait for")
        base = _api_base()
        namespace = _read(os.path.join(account_dir, "namespace"))
        context = ssl.create_default_context(cafile=os.path.join(account_dir, "ca.crt"))
    except (IndexError, ValueError, OSError) as e:
        log("wait: %s" % e)
        return EXIT_USAGE
    start = time.time()
    pending = list(jobs)
    log("waiting for %s (namespace %s)" % (", ".join(jobs), namespace))
    last = {}
    while True:
        for name in list(pending):
            state, detail = job_state(base, context, account_dir, namespace, name)
            if state != last.get(name):
                log("job %s: %s" % (name, detail))
                last[name] = state
            if state == "complete":
                pending.remove(name)
            elif state == "failed":
                log("upstream Job %s failed: not starting (exit %d)" % (name, EXIT_UPSTREAM_FAILED))
                return EXIT_UPSTREAM_FAILED
            elif state == "denied":
                log("the API server refused to show Job %s (%s): check the Role and RoleBinding" % (name, detail))
                return EXIT_USAGE
            elif state == "missing" and time.time() - start > create_timeout:
                log("upstream Job %s does not exist after %ds" % (name, create_timeout))
                return EXIT_TIMEOUT
        if not pending:
            log("every upstream Job completed")
            return EXIT_OK
        if time.time() - start > timeout:
            log("upstream Jobs %s did not finish within %ds" % (", ".join(pending), timeout))
            return EXIT_TIMEOUT
        time.sleep(interval)


def run(argv):
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        log("run: no command")
        return EXIT_USAGE
    failures = os.environ.get("DJFLOW_INDEX_FAILURES", "").strip()
    retry_failed = os.environ.get("DJFLOW_RETRY_FAILED", "").strip().lower()
    command = list(argv)
    if failures.isdigit() and int(failures) > 0:
        log("retry after %s failed attempt(s) of this index: --clear-errors" % failures)
        command.append("--clear-errors")
    elif retry_failed in ("true", "1", "yes", "on"):
        log("retry_failed is set in the workflow's ConfigMap: --clear-errors")
        command.append("--clear-errors")
    elif retry_failed not in ("", "false", "0", "no", "off"):
        log("run: retry_failed must be \"true\" or \"\", got %r: not retrying failed keys" % retry_failed)
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except OSError as e:
        log("run: cannot start %s: %s" % (command[0], e))
        return 127


def main(argv):
    if argv[:1] == ["wait"]:
        return wait(argv[1:])
    if argv[:1] == ["run"]:
        return run(argv[1:])
    log("usage: djflow_k8s.py wait [options] JOB... | run -- COMMAND...")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
