"""Loading djflow's Kubernetes manifests and checking what the official schemas miss.

- load(path): every document of a multi-document file, parsed by PyYAML's SafeLoader with duplicate
  keys rejected (PyYAML silently keeps the last one).
- SchemaValidator: kubernetes-validate's bundled JSON schemas (--strict), loaded once per version and kind,
  so validating many objects against 9 versions stays fast.
- semantic_problems(docs): names and label values (DNS-1123, 63), quantities, Job rules the schemas do not
  encode (Indexed + backoffLimitPerIndex + Never, pod failure policy shape, GPU in limits as a whole
  number, requests <= limits), references between objects (ConfigMap keys and volumes, ServiceAccount,
  Role/RoleBinding, Secret keys named by the spec, the Jobs a wait refers to, RBAC covering every wait),
  and no cycles among the waits.
"""

import json
import re

import yaml

LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUANTITY_RE = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$")
REQUIRED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component",
                   "app.kubernetes.io/managed-by")
WAIT_HELPER = "djflow_k8s.py"


class UniqueKeyLoader(yaml.SafeLoader):
    pass


def _mapping_without_duplicates(loader, node, deep=False):
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_text(text):
    return [doc for doc in yaml.load_all(text, Loader=UniqueKeyLoader) if doc is not None]


def load(path):
    with open(path, encoding="utf-8") as f:
        return load_text(f.read())


# ---------------------------------------------------------------------------
# schemas
# ---------------------------------------------------------------------------

class SchemaValidator:
    """kubernetes-validate's schemas, strict, with the loaded validators cached per (version, kind)."""

    def __init__(self):
        import jsonschema  # noqa: F401  (kubernetes-validate's dependency)
        from kubernetes_validate import utils
        self.utils = utils
        self.cache = {}

    def _validator(self, version, doc):
        import jsonschema
        from referencing import Registry, Resource
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
        key = (version, doc["kind"], api)
        if key not in self.cache:
            folder = "v%s-local-strict" % [v for v in self.utils.all_versions()
                                           if self.utils.major_minor(v) <= version][-1]
            schema = self.utils.schema_contents("kubernetes-json-schema/%s/%s-%s.json" % (folder, doc["kind"].lower(), api), version)
            definitions = self.utils.schema_contents("kubernetes-json-schema/%s/_definitions.json" % folder, version)
            registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
            self.cache[key] = jsonschema.validators.Draft202012Validator(schema, registry=registry)
        return self.cache[key]

    def errors(self, doc, version):
        """Every schema error of one object (not only the first, unlike the CLI)."""
        validator = self._validator(version, doc)
        return ["%s: %s" % (".".join(str(p) for p in e.absolute_path), e.message) for e in validator.iter_errors(doc)]


# ---------------------------------------------------------------------------
# semantic checks
# ---------------------------------------------------------------------------

def _quantity(text):
    """A Kubernetes quantity as a float (cpu in cores, memory in bytes), or None when malformed."""
    if isinstance(text, int):
        return float(text)
    if not isinstance(text, str) or not QUANTITY_RE.match(text):
        return None
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
                "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
    match = re.match(r"^[+]?([0-9.]+)(.*)$", text)
    number, suffix = match.group(1), match.group(2)
    if suffix and suffix[0] in "eE":
        return float(number + suffix)
    return float(number) * suffixes.get(suffix, 1)


def wait_targets(pod_spec):
    """The Jobs the init containers of a pod template wait for (positional args of `djflow_k8s.py wait`)."""
    targets = []
    for container in pod_spec.get("initContainers") or []:
        words = list(container.get("command") or []) + list(container.get("args") or [])
        if len(words) >= 3 and words[1].endswith("/" + WAIT_HELPER) and words[2] == "wait":
            rest = words[3:]
            i = 0
            while i < len(rest):
                if rest[i].startswith("--"):
                    i += 2
                else:
                    targets.append(rest[i])
                    i += 1
    return targets


def semantic_problems(docs, secret_keys=None):
    """Problems the schemas cannot see, as strings ('' list = fine).

    secret_keys: {secret name: [keys]} that exist (what the user was told to create), or None to only
    check that every secretKeyRef names a Secret and a key.
    """
    problems = []
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind"), {})
        name = (doc.get("metadata") or {}).get("name")
        if name in by_kind[doc.get("kind")]:
            problems.append("duplicate %s %s" % (doc.get("kind"), name))
        by_kind[doc.get("kind")][name] = doc
    namespaces = {(d.get("metadata") or {}).get("namespace") for d in docs}
    if len(namespaces) != 1:
        problems.append("objects of one file in several namespaces: %s" % sorted(map(str, namespaces)))

    def check_labels(where, labels, required=True):
        for key, value in (labels or {}).items():
            if not isinstance(value, str):
                problems.append("%s: label %s value %r is not a string" % (where, key, value))
                continue
            if not LABEL_VALUE_RE.match(value) or len(value) > 63:
                problems.append("%s: label %s value %r is not a valid label value" % (where, key, value))
            prefix, _, label_name = key.rpartition("/")
            if not label_name or len(label_name) > 63 or not LABEL_VALUE_RE.match(label_name):
                problems.append("%s: label key %r is invalid" % (where, key))
            if prefix and not all(LABEL_RE.match(part) for part in prefix.split(".")):
                problems.append("%s: label key prefix %r is invalid" % (where, prefix))
        if required:
            for key in REQUIRED_LABELS:
                if key not in (labels or {}):
                    problems.append("%s: missing label %s" % (where, key))
            if (labels or {}).get("app.kubernetes.io/managed-by") != "djflow":
                problems.append("%s: app.kubernetes.io/managed-by is not djflow" % where)

    for doc in docs:
        meta = doc.get("metadata") or {}
        where = "%s/%s" % (doc.get("kind"), meta.get("name"))
        name = meta.get("name") or ""
        if not LABEL_RE.match(name) or len(name) > 63:
            problems.append("%s: name is not a DNS-1123 label of at most 63 characters" % where)
        check_labels(where, meta.get("labels"))
        if meta.get("namespace") is not None and (not LABEL_RE.match(meta["namespace"]) or len(meta["namespace"]) > 63):
            problems.append("%s: bad namespace %r" % (where, meta["namespace"]))

    config_maps = by_kind.get("ConfigMap", {})
    jobs = by_kind.get("Job", {})
    accounts = set(by_kind.get("ServiceAccount", {}))
    roles = by_kind.get("Role", {})
    bindings = by_kind.get("RoleBinding", {})

    # RBAC: what each service account may get.
    allowed = {}
    for binding_name, binding in bindings.items():
        ref = binding.get("roleRef") or {}
        if ref.get("kind") != "Role" or ref.get("name") not in roles or ref.get("apiGroup") != "rbac.authorization.k8s.io":
            problems.append("RoleBinding/%s: roleRef %r names no Role in the file" % (binding_name, ref))
            continue
        for rule in roles[ref["name"]].get("rules") or []:
            if set(rule.get("verbs") or []) - {"get"}:
                problems.append("Role/%s: more rights than needed: %s" % (ref["name"], rule.get("verbs")))
            if rule.get("apiGroups") != ["batch"] or rule.get("resources") != ["jobs"] or not rule.get("resourceNames"):
                problems.append("Role/%s: rule is not limited to named batch/jobs: %r" % (ref["name"], rule))
            for subject in binding.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount":
                    allowed.setdefault(subject.get("name"), set()).update(rule.get("resourceNames") or [])
    waited_for_anywhere = set()

    graph = {}
    for job_name, job in jobs.items():
        where = "Job/%s" % job_name
        spec = job.get("spec") or {}
        if len(job_name) > 47 + len("-refresh"):
            problems.append("%s: name too long for '<name>-<index>' host names" % where)
        if spec.get("completionMode") != "Indexed":
            problems.append("%s: completionMode is not Indexed" % where)
        completions, parallelism = spec.get("completions"), spec.get("parallelism")
        if not isinstance(completions, int) or not 1 <= completions <= 100000:
            problems.append("%s: completions %r" % (where, completions))
        if not isinstance(parallelism, int) or not 1 <= parallelism <= (completions or 0):
            problems.append("%s: parallelism %r not in 1..completions" % (where, parallelism))
        if "backoffLimitPerIndex" in spec:
            if not isinstance(spec["backoffLimitPerIndex"], int) or spec["backoffLimitPerIndex"] < 0:
                problems.append("%s: backoffLimitPerIndex %r" % (where, spec["backoffLimitPerIndex"]))
        elif not isinstance(spec.get("backoffLimit"), int):
            problems.append("%s: neither backoffLimitPerIndex nor backoffLimit" % where)
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
            problems.append("%s: activeDeadlineSeconds %r must be > 0" % (where, deadline))
        if not isinstance(spec.get("ttlSecondsAfterFinished"), int) or spec["ttlSecondsAfterFinished"] < 0:
            problems.append("%s: ttlSecondsAfterFinished missing" % where)
        rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
        if not 1 <= len(rules) <= 20:
            problems.append("%s: podFailurePolicy needs 1..20 rules" % where)
        fails_on_2 = False
        for rule in rules:
            if rule.get("action") not in ("FailJob", "Ignore", "Count", "FailIndex"):
                problems.append("%s: podFailurePolicy action %r" % (where, rule.get("action")))
            if rule.get("action") == "FailIndex" and "backoffLimitPerIndex" not in spec:
                problems.append("%s: FailIndex needs backoffLimitPerIndex" % where)
            codes = rule.get("onExitCodes")
            if codes:
                values = codes.get("values") or []
                if codes.get("operator") not in ("In", "NotIn") or 0 in values or values != sorted(set(values)):
                    problems.append("%s: onExitCodes %r: operator In/NotIn, values sorted, unique, without 0" % (where, codes))
                if rule.get("action") == "FailJob" and codes.get("operator") == "In" and 2 in values:
                    fails_on_2 = True
            for condition in rule.get("onPodConditions") or []:
                if condition.get("status") != "True":
                    problems.append("%s: onPodConditions without status \"True\"" % where)
        if not fails_on_2:
            problems.append("%s: no FailJob rule on exit 2 (runner usage error)" % where)
        template = spec.get("template") or {}
        check_labels(where + " pod template", (template.get("metadata") or {}).get("labels"))
        pod = template.get("spec") or {}
        if pod.get("restartPolicy") != "Never":
            problems.append("%s: restartPolicy must be Never (podFailurePolicy, backoffLimitPerIndex)" % where)
        account = pod.get("serviceAccountName")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        if len(volumes) != len(pod.get("volumes") or []):
            problems.append("%s: duplicate volume names" % where)
        for volume_name, volume in volumes.items():
            ref = volume.get("configMap")
            if ref is not None:
                cm = config_maps.get(ref.get("name"))
                if cm is None:
                    problems.append("%s: volume %s: ConfigMap %s not in the file" % (where, volume_name, ref.get("name")))
                else:
                    for item in ref.get("items") or []:
                        if item.get("key") not in (cm.get("data") or {}):
                            problems.append("%s: volume %s: ConfigMap %s has no key %s" % (where, volume_name, ref.get("name"), item.get("key")))
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "serviceAccountToken" in source and not account:
                    problems.append("%s: a token volume without serviceAccountName" % where)
        containers = list(pod.get("initContainers") or []) + list(pod.get("containers") or [])
        names = [c.get("name") for c in containers]
        if len(set(names)) != len(names):
            problems.append("%s: duplicate container names" % where)
        for container in containers:
            cwhere = "%s container %s" % (where, container.get("name"))
            if not LABEL_RE.match(container.get("name") or ""):
                problems.append("%s: bad container name" % cwhere)
            if not container.get("image"):
                problems.append("%s: no image" % cwhere)
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") not in volumes:
                    problems.append("%s: mounts unknown volume %s" % (cwhere, mount.get("name")))
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            for kind, amounts in (("requests", requests), ("limits", limits)):
                for resource, amount in amounts.items():
                    value = _quantity(amount)
                    if value is None or value < 0:
                        problems.append("%s: %s.%s %r is not a quantity" % (cwhere, kind, resource, amount))
                    if "/" in resource and resource.endswith("gpu"):
                        if not (isinstance(amount, (int, str)) and str(amount).isdigit() and int(amount) >= 1):
                            problems.append("%s: %s %r must be a whole number" % (cwhere, resource, amount))
            for resource in set(requests) & set(limits):
                if (_quantity(requests[resource]) or 0) > (_quantity(limits[resource]) or 0):
                    problems.append("%s: %s request above limit" % (cwhere, resource))
            for resource in requests:
                if resource.endswith("gpu") and resource not in limits:
                    problems.append("%s: %s requested without a limit" % (cwhere, resource))
            if "gpu" in requests or "gpu" in limits:
                problems.append("%s: unprefixed gpu resource" % cwhere)
            if container in (pod.get("containers") or []) and not {"cpu", "memory"} <= set(limits) and "memory" in requests:
                problems.append("%s: cpu and memory need limits" % cwhere)
            for env in container.get("env") or []:
                source = env.get("valueFrom") or {}
                if "value" in env and source:
                    problems.append("%s: env %s has both value and valueFrom" % (cwhere, env.get("name")))
                if "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    if not ref.get("name") or not ref.get("key"):
                        problems.append("%s: env %s: secretKeyRef without name or key" % (cwhere, env.get("name")))
                    elif secret_keys is not None and ref["key"] not in secret_keys.get(ref["name"], []):
                        problems.append("%s: env %s: Secret %s/%s is not one the user was told to create" % (cwhere, env.get("name"), ref["name"], ref["key"]))
                if "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    if ref.get("key") not in ((config_maps.get(ref.get("name")) or {}).get("data") or {}):
                        problems.append("%s: env %s: ConfigMap %s has no key %s" % (cwhere, env.get("name"), ref.get("name"), ref.get("key")))
                if re.search(r"(?i)(pass|token|secret)", env.get("name", "")) and "value" in env:
                    problems.append("%s: env %s looks like a credential written by value" % (cwhere, env.get("name")))
        targets = wait_targets(pod)
        graph[job_name] = targets
        for target in targets:
            waited_for_anywhere.add(target)
            if target not in jobs:
                problems.append("%s: waits for Job %s, which is not in the file" % (where, target))
            if target == job_name:
                problems.append("%s: waits for itself" % where)
            if not account:
                problems.append("%s: waits without a service account" % where)
            elif target not in allowed.get(account, set()):
                problems.append("%s: service account %s may not get Job %s" % (where, account, target))
        if targets and account and account not in accounts and not any(
                s.get("name") == account for b in bindings.values() for s in b.get("subjects") or []):
            problems.append("%s: service account %s neither created nor bound" % (where, account))
        if targets and "djflow-token" not in volumes:
            problems.append("%s: waits but mounts no token" % where)
        if not targets and any("serviceAccountToken" in s for v in volumes.values() for s in (v.get("projected") or {}).get("sources") or []):
            problems.append("%s: a token although nothing is waited for" % where)
        if pod.get("automountServiceAccountToken") is not False:
            problems.append("%s: automountServiceAccountToken must be false (the token goes only to the wait container)" % where)

    # Least rights: nothing granted that is never waited for.
    for account, names in allowed.items():
        extra = names - waited_for_anywhere
        if extra:
            problems.append("ServiceAccount %s may get Jobs nothing waits for: %s" % (account, sorted(extra)))
    if bindings and not waited_for_anywhere:
        problems.append("RBAC objects although no Job waits")

    # No cycles among the waits.
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        if state.get(node) == "active":
            problems.append("cycle among waits: %s" % " -> ".join(path + [node]))
            return
        state[node] = "active"
        for nxt in graph.get(node, []):
            visit(nxt, path + [node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])
    return problems


def topological_jobs(docs):
    """Job names in an order compatible with the waits (for reports)."""
    jobs = {d["metadata"]["name"]: wait_targets(d["spec"]["template"]["spec"]) for d in docs if d.get("kind") == "Job"}
    order, done = [], set()
    while len(order) < len(jobs):
        ready = [j for j in jobs if j not in done and all(t in done or t not in jobs for t in jobs[j])]
        if not ready:
            raise ValueError("cycle among waits")
        for j in ready:
            order.append(j)
            done.add(j)
    return order


def dumps(doc):
    return json.dumps(doc, sort_keys=True)
