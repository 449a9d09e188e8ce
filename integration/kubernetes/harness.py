"""Runs djflow's Kubernetes manifests on the host, command by command, without an API server.

What it emulates, and how closely:

- kubectl apply: the documents of a file are stored as they are (no defaulting, no admission).
- The Job controller: Indexed Jobs only (what djflow writes): at most `parallelism` pods at once, one per
  pending index; a failed pod is judged by `podFailurePolicy` (rules in order; `onExitCodes` on every
  container, init containers included, unless `containerName` is set; `FailJob`, `FailIndex`, `Ignore`,
  `Count`); `backoffLimitPerIndex` (per index; the pod annotation
  `batch.kubernetes.io/job-index-failure-count` counts earlier failures) or `backoffLimit` (per Job);
  `activeDeadlineSeconds` from the Job's start; conditions `FailureTarget` then `Failed`, or `Complete`;
  `ttlSecondsAfterFinished` (the Job then disappears from the API). Replacement pods start at once (no
  exponential back-off delay).
- The kubelet: init containers in order, then the container; `restartPolicy: Never`. Environment: the
  "image" environment, then the container's `env` in order (`value` with `$(VAR)` expansion over earlier
  entries; `secretKeyRef` from the test Secrets (a missing Secret or key is a CreateContainerConfigError
  and fails the test); `configMapKeyRef`; `fieldRef` for metadata.name, metadata.namespace and
  metadata.annotations[...]), plus `JOB_COMPLETION_INDEX` and KUBERNETES_SERVICE_HOST/PORT; `command` and
  `args` expanded exactly like Kubernetes (`$(VAR)` from the container's env, `$$` → `$`, unknown
  references left as they are). Volumes: ConfigMap volumes (with `items`) and projected volumes (service
  account token, `kube-root-ca.crt`, downward API namespace) materialised in a temporary folder; paths in
  command and args under a `mountPath` are mapped into it. The image is the host: its environment is
  `image_env` (PATH with .venv/dj2/bin first, so `python3` is DataJoint's interpreter).
- The API server: HTTPS on 127.0.0.1 with a self-signed certificate (the pods get it as `ca.crt`), GET
  /apis/batch/v1/namespaces/NS/jobs/NAME only. Bearer tokens identify the pod's service account;
  RBAC is enforced from the applied Roles and RoleBindings (verb get, apiGroup batch, resource jobs,
  resourceNames): anything else is 403.
"""

import http.server
import json
import os
import re
import secrets
import signal
import ssl
import subprocess
import tempfile
import threading
import time

FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"


def expand(text, env):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion)."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else "$(" + name + ")")
                    i = end + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class ConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError: a missing Secret, ConfigMap or key."""


def make_certificate(folder):
    cert, key = os.path.join(folder, "apiserver.crt"), os.path.join(folder, "apiserver.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=djflow-test-apiserver", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class Pod:
    def __init__(self, job, index, failures, name):
        self.job, self.index, self.failures, self.name = job, index, failures, name
        self.exit_codes = {}  # container name -> exit code
        self.phase = "Running"
        self.process = None
        self.thread = None
        self.terminated = False
        self.ran_main = False
        self.started = self.ended = None


class JobRecord:
    def __init__(self, doc):
        self.doc = doc
        self.name = doc["metadata"]["name"]
        self.namespace = doc["metadata"].get("namespace") or "default"
        spec = doc["spec"]
        self.completions = spec.get("completions", 1)
        self.parallelism = spec.get("parallelism", 1)
        self.per_index = spec.get("backoffLimitPerIndex")
        self.backoff = spec.get("backoffLimit", 6 if self.per_index is None else 2 ** 31 - 1)
        self.deadline = spec.get("activeDeadlineSeconds")
        self.ttl = spec.get("ttlSecondsAfterFinished")
        self.index_state = {i: "pending" for i in range(self.completions)}
        self.index_failures = {i: 0 for i in range(self.completions)}
        self.failures = 0
        self.conditions = []  # (type, reason, message)
        self.pods = []
        self.start = time.time()
        self.finished = None

    @property
    def done(self):
        return self.finished is not None

    def condition(self, kind):
        return any(c[0] == kind for c in self.conditions)

    def api_object(self):
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": self.name, "namespace": self.namespace},
                "status": {"conditions": [{"type": t, "status": "True", "reason": r, "message": m} for t, r, m in self.conditions],
                           "succeeded": sum(1 for s in self.index_state.values() if s == "succeeded"),
                           "failed": self.failures}}

    @property
    def status(self):
        if self.condition("Complete"):
            return "Complete"
        if self.condition("Failed"):
            return "Failed"
        return "Running"


class Cluster:
    def __init__(self, workdir, secrets_by_name, image_env, log=None):
        self.workdir = workdir
        self.secrets = secrets_by_name
        self.image_env = dict(image_env)
        self.lock = threading.RLock()
        self.config_maps, self.roles, self.bindings, self.accounts = {}, {}, {}, set()
        self.jobs = {}
        self.tokens = {}  # token -> (namespace, service account)
        self.events = []  # (time, job, index, container, "start"|"end", exit code)
        self.api_log = []  # (time, path, (namespace, service account) or None, HTTP status)
        self.log = log or (lambda message: None)
        self.cert, self.key = make_certificate(workdir)
        self._start_api()

    # -- API server ----------------------------------------------------------

    def _start_api(self):
        cluster = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                status, body = cluster.api_get(self.path, self.headers.get("Authorization", ""))
                with cluster.lock:
                    cluster.api_log[-1] = cluster.api_log[-1] + (status,)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _allowed(self, namespace, account, verb, name):
        for binding in self.bindings.values():
            if (binding["metadata"].get("namespace") or "default") != namespace:
                continue
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == account
                       and (s.get("namespace") or namespace) == namespace for s in binding.get("subjects") or []):
                continue
            role = self.roles.get((namespace, binding["roleRef"]["name"]))
            for rule in (role or {}).get("rules") or []:
                if ("batch" in rule.get("apiGroups", []) and "jobs" in rule.get("resources", [])
                        and verb in rule.get("verbs", []) and (not rule.get("resourceNames") or name in rule["resourceNames"])):
                    return True
        return False

    def api_get(self, path, authorization):
        match = re.match(r"^/apis/batch/v1/namespaces/([^/]+)/jobs/([^/?]+)$", path)
        with self.lock:
            identity = self.tokens.get(authorization[len("Bearer "):]) if authorization.startswith("Bearer ") else None
            self.api_log.append((time.time(), path, identity))
            if identity is None:
                return 401, {"kind": "Status", "code": 401, "reason": "Unauthorized"}
            if not match:
                return 404, {"kind": "Status", "code": 404}
            namespace, name = match.groups()
            if not self._allowed(namespace, identity[1], "get", name) or identity[0] != namespace:
                return 403, {"kind": "Status", "code": 403, "reason": "Forbidden"}
            job = self.jobs.get((namespace, name))
            if job is None or (job.done and job.ttl is not None and time.time() - job.finished > job.ttl):
                return 404, {"kind": "Status", "code": 404, "reason": "NotFound"}
            return 200, job.api_object()

    # -- apply ---------------------------------------------------------------

    def apply(self, docs):
        with self.lock:
            for doc in docs:
                kind, meta = doc["kind"], doc["metadata"]
                namespace = meta.get("namespace") or "default"
                key = (namespace, meta["name"])
                if kind == "ConfigMap":
                    self.config_maps[key] = doc
                elif kind == "ServiceAccount":
                    self.accounts.add(key)
                elif kind == "Role":
                    self.roles[key] = doc
                elif kind == "RoleBinding":
                    self.bindings[key] = doc
                elif kind == "Job":
                    if key in self.jobs:
                        raise ValueError("Job %s exists (Jobs are immutable: delete it first)" % (key,))
                    self.jobs[key] = JobRecord(doc)
                else:
                    raise ValueError("unexpected kind %s" % kind)

    def delete(self, docs):
        """kubectl delete -f: the Jobs (and their pods' records) and the other objects of these documents."""
        with self.lock:
            for doc in docs:
                key = (doc["metadata"].get("namespace") or "default", doc["metadata"]["name"])
                for table in (self.jobs, self.config_maps, self.roles, self.bindings):
                    table.pop(key, None)
                self.accounts.discard(key)

    # -- controller ----------------------------------------------------------

    def run(self, timeout=600):
        """Runs until every Job has finished; returns {job name: status}."""
        limit = time.time() + timeout
        while True:
            with self.lock:
                active_jobs = [j for j in self.jobs.values() if not j.done]
                for job in active_jobs:
                    self._sync(job)
                if all(j.done for j in self.jobs.values()):
                    return {j.name: j.status for j in self.jobs.values()}
            if time.time() > limit:
                with self.lock:
                    for job in self.jobs.values():
                        for pod in job.pods:
                            self._terminate(pod)
                raise TimeoutError("Jobs still running after %ss: %s" % (timeout, [j.name for j in self.jobs.values() if not j.done]))
            time.sleep(0.05)

    def _sync(self, job):
        now = time.time()
        running = [p for p in job.pods if p.phase == "Running"]
        if job.condition("FailureTarget"):
            for pod in running:
                self._terminate(pod)
            if not running:
                reason = [c for c in job.conditions if c[0] == "FailureTarget"][0]
                self._finish(job, "Failed", reason[1], reason[2])
            return
        if job.deadline is not None and now - job.start > job.deadline:
            job.conditions.append(("FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline"))
            return
        for pod in [p for p in job.pods if p.phase in ("Succeeded", "Failed") and not getattr(p, "judged", False)]:
            pod.judged = True
            self._judge(job, pod)
            if job.condition("FailureTarget"):
                return
        states = job.index_state.values()
        if all(s == "succeeded" for s in states):
            self._finish(job, "Complete", "CompletionsReached", "Reached expected number of succeeded pods")
            return
        running = [p for p in job.pods if p.phase == "Running"]
        if not running and not any(s == "pending" for s in states):
            self._finish(job, "Failed", "FailedIndexes" if job.per_index is not None else "BackoffLimitExceeded",
                         "Job has failed indexes")
            return
        busy = {p.index for p in running}
        for index, state in sorted(job.index_state.items()):
            if len(busy) >= job.parallelism:
                break
            if state == "pending" and index not in busy:
                self._start_pod(job, index)
                busy.add(index)

    def _judge(self, job, pod):
        if pod.phase == "Succeeded":
            job.index_state[pod.index] = "succeeded"
            return
        action = "Count"
        for rule in (job.doc["spec"].get("podFailurePolicy") or {}).get("rules") or []:
            codes = rule.get("onExitCodes")
            if codes:
                relevant = [code for name, code in pod.exit_codes.items()
                            if code != 0 and (codes.get("containerName") in (None, name))]
                values = codes.get("values") or []
                matched = any((code in values) if codes["operator"] == "In" else (code not in values) for code in relevant)
                if matched:
                    action = rule["action"]
                    break
            # onPodConditions (DisruptionTarget, ...) never arise here: no eviction or preemption.
        self.log("job %s index %d pod %s failed %s -> %s" % (job.name, pod.index, pod.name, pod.exit_codes, action))
        if action == "Ignore":
            return
        if action == "FailJob":
            job.conditions.append(("FailureTarget", "PodFailurePolicy", "Container exited with %s" % pod.exit_codes))
            return
        job.failures += 1
        if job.per_index is not None:
            job.index_failures[pod.index] += 1
            if action == "FailIndex" or job.index_failures[pod.index] > job.per_index:
                job.index_state[pod.index] = "failed"
        elif job.failures > job.backoff:
            job.conditions.append(("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"))

    def _finish(self, job, kind, reason, message):
        job.conditions.append((kind, reason, message))
        job.finished = time.time()
        self.log("job %s: %s (%s)" % (job.name, kind, reason))

    def _terminate(self, pod):
        pod.terminated = True
        if pod.process and pod.process.poll() is None:
            try:
                os.killpg(pod.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- kubelet -------------------------------------------------------------

    def _start_pod(self, job, index):
        name = "%s-%d-%s" % (job.name, index, secrets.token_hex(3))
        pod = Pod(job, index, job.index_failures[index], name)
        job.pods.append(pod)
        pod.thread = threading.Thread(target=self._run_pod, args=(pod,), daemon=True)
        pod.thread.start()

    def _run_pod(self, pod):
        job = pod.job
        spec = job.doc["spec"]["template"]["spec"]
        pod.started = time.time()
        root = tempfile.mkdtemp(prefix=pod.name + "-", dir=self.workdir)
        try:
            mounts = self._materialise_volumes(pod, spec, root)
            for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
                is_main = container in (spec.get("containers") or [])
                code = self._run_container(pod, container, mounts, root)
                pod.exit_codes[container["name"]] = code
                if is_main:
                    pod.ran_main = True
                if code != 0:
                    pod.phase = "Failed"
                    return
            pod.phase = "Succeeded"
        except ConfigError as e:
            pod.phase = "Failed"
            pod.exit_codes["<config>"] = -1
            self.config_errors = getattr(self, "config_errors", []) + ["%s: %s" % (pod.name, e)]
            with self.lock:
                job.conditions.append(("FailureTarget", "CreateContainerConfigError", str(e)))
        finally:
            pod.ended = time.time()

    def _materialise_volumes(self, pod, spec, root):
        job = pod.job
        paths = {}
        for volume in spec.get("volumes") or []:
            folder = os.path.join(root, "volumes", volume["name"])
            os.makedirs(folder)
            paths[volume["name"]] = folder
            if "configMap" in volume:
                ref = volume["configMap"]
                cm = self.config_maps.get((job.namespace, ref["name"]))
                if cm is None:
                    raise ConfigError("ConfigMap %s not found" % ref["name"])
                data = cm.get("data") or {}
                items = ref.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] not in data:
                        raise ConfigError("ConfigMap %s has no key %s" % (ref["name"], item["key"]))
                    with open(os.path.join(folder, item["path"]), "w", encoding="utf-8", newline="") as f:
                        f.write(data[item["key"]])
            elif "projected" in volume:
                for source in volume["projected"]["sources"]:
                    if "serviceAccountToken" in source:
                        account = spec.get("serviceAccountName") or "default"
                        token = secrets.token_hex(16)
                        with self.lock:
                            self.tokens[token] = (job.namespace, account)
                        with open(os.path.join(folder, source["serviceAccountToken"]["path"]), "w") as f:
                            f.write(token)
                    elif "configMap" in source:
                        assert source["configMap"]["name"] == "kube-root-ca.crt"
                        for item in source["configMap"]["items"]:
                            with open(self.cert) as src, open(os.path.join(folder, item["path"]), "w") as f:
                                f.write(src.read())
                    elif "downwardAPI" in source:
                        for item in source["downwardAPI"]["items"]:
                            assert item["fieldRef"]["fieldPath"] == "metadata.namespace"
                            with open(os.path.join(folder, item["path"]), "w") as f:
                                f.write(job.namespace)
                    else:
                        raise ConfigError("unsupported projected source %s" % source)
            else:
                raise ConfigError("unsupported volume %s" % volume)
        return paths

    def _field(self, pod, path):
        annotations = {"batch.kubernetes.io/job-completion-index": str(pod.index)}
        if pod.job.per_index is not None:
            annotations[FAILURE_COUNT] = str(pod.failures)
        if path == "metadata.name":
            return pod.name
        if path == "metadata.namespace":
            return pod.job.namespace
        match = re.match(r"^metadata\.annotations\['(.+)'\]$", path)
        if match:
            return annotations.get(match.group(1), "")
        raise ConfigError("unsupported fieldRef %s" % path)

    def container_env(self, pod, container):
        """The container's env as the kubelet builds it (without the image env), in order."""
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port)}
        for entry in container.get("env") or []:
            name = entry["name"]
            if "value" in entry:
                env[name] = expand(entry["value"], env)
                continue
            source = entry.get("valueFrom") or {}
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                secret = self.secrets.get(ref["name"])
                if secret is None or ref["key"] not in secret:
                    if ref.get("optional"):
                        continue
                    raise ConfigError("Secret %s key %s not found" % (ref["name"], ref["key"]))
                env[name] = secret[ref["key"]]
            elif "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                cm = self.config_maps.get((pod.job.namespace, ref["name"]))
                if cm is None or ref["key"] not in (cm.get("data") or {}):
                    raise ConfigError("ConfigMap %s key %s not found" % (ref["name"], ref["key"]))
                env[name] = cm["data"][ref["key"]]
            elif "fieldRef" in source:
                env[name] = self._field(pod, source["fieldRef"]["fieldPath"])
            else:
                raise ConfigError("unsupported env source %s" % source)
        env["JOB_COMPLETION_INDEX"] = str(pod.index)  # added by the Job controller
        return env

    def _run_container(self, pod, container, mounts, root):
        env = self.container_env(pod, container)
        words = [expand(w, env) for w in list(container.get("command") or []) + list(container.get("args") or [])]
        for mount in container.get("volumeMounts") or []:
            target = mounts[mount["name"]]
            prefix = mount["mountPath"].rstrip("/")
            words = [target + w[len(prefix):] if w == prefix or w.startswith(prefix + "/") else w for w in words]
        process_env = dict(self.image_env)
        process_env.update(env)
        log_path = os.path.join(self.workdir, "logs", "%s.%s.log" % (pod.name, container["name"]))
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with self.lock:
            if pod.terminated:
                return 143
            self.events.append((time.time(), pod.job.name, pod.index, container["name"], "start", None))
            with open(log_path, "wb") as log:
                pod.process = subprocess.Popen(words, env=process_env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True)
        code = pod.process.wait()
        if code < 0:
            code = 128 - code
        with self.lock:
            self.events.append((time.time(), pod.job.name, pod.index, container["name"], "end", code))
        return code

    # -- reports -------------------------------------------------------------

    def logs(self, job_name, container=None):
        folder = os.path.join(self.workdir, "logs")
        out = {}
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            pod, _, rest = name.partition(".")
            if re.match(re.escape(job_name) + r"-\d+-[0-9a-f]{6}$", pod) and (container is None or rest == container + ".log"):
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                    out[name] = f.read()
        return out

    def summaries(self, job_name):
        """The runner's JSON summary lines of a Job's pods."""
        found = []
        for text in self.logs(job_name).values():
            for line in text.splitlines():
                if line.startswith("{") and '"success_count"' in line:
                    found.append(json.loads(line))
        return found
