"""Every generated file against the official schemas of Kubernetes 1.29-1.37 (kubernetes-validate --strict),
and djflow's own checks for what the schemas miss."""

import copy
import glob
import os
import subprocess
import sys
import time

import pytest

import manifests
import specs
from conftest import REPO, VERSIONS

GOLDEN_FILES = sorted(glob.glob(str(REPO / "Tests/DJFlowTests/Golden/*/kubernetes/*.yaml")))
SECRETS = {"ephys-db": ["DJ_USER", "DJ_PASS"], "tutorial-db": ["DJ_USER", "DJ_PASS"], "lab-db": ["LAB_USER", "LAB_PASS"],
           "flat-db": ["DJ_USER", "DJ_PASS"], "hostile-db": ["DJ_USER", "DJ_PASS"]}


@pytest.fixture(scope="module")
def variant_files(compile_spec):
    files = []
    for text in (specs.FULL_OPTIONS, specs.NO_WAITS):
        files += sorted(glob.glob(str(compile_spec(text) / "*.yaml")))
    return files


@pytest.fixture(scope="module")
def hostile_files(compile_spec):
    return sorted(glob.glob(str(compile_spec(specs.hostile_pipeline()) / "*.yaml")))


@pytest.fixture(scope="module")
def validator():
    return manifests.SchemaValidator()


def test_goldens_exist_for_both_samples():
    assert any("/ephys/kubernetes/" in f for f in GOLDEN_FILES) and any("/tutorial/kubernetes/" in f for f in GOLDEN_FILES)


def test_kubernetes_validate_strict_cli_passes_every_file_for_every_version(variant_files):
    """The official command, one call for all files and all versions (it reloads schemas per object)."""
    files = GOLDEN_FILES + variant_files
    command = [os.path.join(os.path.dirname(sys.executable), "kubernetes-validate"), "--strict"]
    for version in VERSIONS:
        command += ["-k", version]
    start = time.time()
    result = subprocess.run(command + files, capture_output=True, text=True)
    seconds = time.time() - start
    objects = sum(len(manifests.load(f)) for f in files)
    sys.stderr.write("\n[kubernetes-validate --strict: %d files, %d objects x %d versions in %.1f s]\n"
                     % (len(files), objects, len(VERSIONS), seconds))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    passed = [line for line in result.stdout.splitlines() if line.startswith("INFO ") and " passed " in line]
    assert len(passed) == objects * len(VERSIONS), result.stdout[-3000:]
    assert "WARN" not in result.stdout and "ERROR" not in result.stdout
    for version in VERSIONS:
        assert sum(line.endswith("against version %s" % version) for line in passed) == objects


def test_every_object_passes_each_schema_version_in_process(variant_files, hostile_files, validator):
    """Same schemas, cached in-process, reporting every error (the CLI stops at the first per object); also
    the 60-odd workflows of the hostile-strings pipeline, too many for the CLI's speed."""
    start = time.time()
    count = 0
    for path in GOLDEN_FILES + variant_files + hostile_files:
        for doc in manifests.load(path):
            for version in VERSIONS:
                assert validator.errors(doc, version) == [], (path, doc["kind"], doc["metadata"]["name"], version)
                count += 1
    sys.stderr.write("\n[in-process schema validation: %d object-versions in %.1f s]\n" % (count, time.time() - start))


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_schema_validation_catches_a_misspelt_field(validator, version):
    doc = manifests.load(GOLDEN_FILES[0])[-1]
    bad = copy.deepcopy(doc)
    bad["spec"]["backoffLimitPerIndx"] = bad["spec"].pop("backoffLimitPerIndex")
    assert validator.errors(bad, version)


def test_semantic_checks_pass_on_every_file(variant_files, hostile_files):
    for path in GOLDEN_FILES + variant_files + hostile_files:
        docs = manifests.load(path)
        assert manifests.semantic_problems(docs, secret_keys=SECRETS) == [], path
        manifests.topological_jobs(docs)


def _job(docs, name):
    return next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == name)


def _ephys_w0():
    return manifests.load(str(REPO / "Tests/DJFlowTests/Golden/ephys/kubernetes/w0-recording.yaml"))


def _first_container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


MUTATIONS = {
    "bad name": lambda d: d[-1]["metadata"].update(name="Bad_Name"),
    "long label value": lambda d: d[-1]["metadata"]["labels"].update({"app.kubernetes.io/name": "x" * 64}),
    "label ends in dash": lambda d: d[-1]["metadata"]["labels"].update({"app.kubernetes.io/part-of": "ephys-"}),
    "missing managed-by": lambda d: d[-1]["metadata"]["labels"].pop("app.kubernetes.io/managed-by"),
    "gpu not whole": lambda d: _first_container(d[-1])["resources"]["limits"].update({"nvidia.com/gpu": "0.5"}),
    "bad quantity": lambda d: _first_container(d[-1])["resources"]["requests"].update(cpu="one"),
    "request above limit": lambda d: _first_container(d[-1])["resources"]["requests"].update(memory="1Ti"),
    "unknown configmap": lambda d: d[-1]["spec"]["template"]["spec"]["volumes"][0]["configMap"].update(name="nope"),
    "unknown configmap key": lambda d: d[-1]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"][0].update(key="nope"),
    "unknown secret key": lambda d: _first_container(d[-1])["env"][2]["valueFrom"]["secretKeyRef"].update(key="PASSWORD"),
    "wait for unknown job": lambda d: d[-1]["spec"]["template"]["spec"]["initContainers"][0]["args"].append("ephys-nope"),
    "rbac misses a wait": lambda d: next(x for x in d if x["kind"] == "Role")["rules"][0]["resourceNames"].pop(),
    "rbac too wide": lambda d: next(x for x in d if x["kind"] == "Role")["rules"][0]["verbs"].append("delete"),
    "no fail on exit 2": lambda d: d[-1]["spec"]["podFailurePolicy"]["rules"].pop(0),
    "condition without status": lambda d: d[-1]["spec"]["podFailurePolicy"]["rules"][1]["onPodConditions"][0].pop("status"),
    "not indexed": lambda d: d[-1]["spec"].update(completionMode="NonIndexed"),
    "parallelism above completions": lambda d: d[-1]["spec"].update(parallelism=5),
    "restart on failure": lambda d: d[-1]["spec"]["template"]["spec"].update(restartPolicy="OnFailure"),
    "token everywhere": lambda d: d[-1]["spec"]["template"]["spec"].update(automountServiceAccountToken=True),
    "password by value": lambda d: _first_container(d[-1])["env"].append({"name": "DJ_PASS", "value": "hunter2"}),
    "cycle": lambda d: _job(d, "ephys-recording-refresh")["spec"]["template"]["spec"].update(
        initContainers=copy.deepcopy(_job(d, "ephys-lfp")["spec"]["template"]["spec"]["initContainers"])),
    "duplicate object": lambda d: d.append(copy.deepcopy(d[-1])),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_semantic_checks_catch_defects_the_schemas_miss(mutation):
    docs = _ephys_w0()
    assert manifests.semantic_problems(docs, secret_keys=SECRETS) == []
    MUTATIONS[mutation](docs)
    assert manifests.semantic_problems(docs, secret_keys=SECRETS), mutation


def test_duplicate_yaml_keys_are_rejected():
    with pytest.raises(Exception, match="duplicate key"):
        manifests.load_text("a: 1\na: 2\n")


def test_full_options_reach_the_manifests(compile_spec):
    folder = compile_spec(specs.FULL_OPTIONS)
    docs = [d for f in sorted(folder.glob("*.yaml")) for d in manifests.load(f)]
    assert {d["metadata"].get("namespace") for d in docs} == {"lab-pipelines"}
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert all(len(j["metadata"]["name"]) <= 55 for j in jobs)
    assert len({j["metadata"]["name"] for j in jobs}) == len(jobs)
    assert not [d for d in docs if d["kind"] == "ServiceAccount"], "the user's service account is bound, not created"
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert bindings and all(b["subjects"][0]["name"] == "lab-runner" for b in bindings)
    gpu = next(j for j in jobs if "gpu" in str(j["spec"]["template"]["spec"]["containers"][0]["resources"]))
    pod = gpu["spec"]["template"]["spec"]
    main = pod["containers"][0]
    assert main["resources"]["limits"]["nvidia.com/gpu"] == "2" and "nvidia.com/gpu" not in main["resources"]["requests"]
    assert main["resources"]["limits"]["ephemeral-storage"] == "102400Mi"
    assert main["image"] == "registry.example.org/lab/gpu:2"
    assert pod["initContainers"][0]["image"] == "registry.example.org/lab/slim-python:3.12"
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": "eu-1a",
                                   "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"key": "batch", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3600} in pod["tolerations"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other-cred"}]
    assert gpu["spec"]["backoffLimitPerIndex"] == 2 and gpu["spec"]["ttlSecondsAfterFinished"] == 172800
    env = {e["name"]: e for e in main["env"]}
    assert env["DJ_USER"]["valueFrom"]["secretKeyRef"] == {"name": "lab-db", "key": "LAB_USER"}
    assert env["DJ_PASS"]["valueFrom"]["secretKeyRef"] == {"name": "lab-db", "key": "LAB_PASS"}
    assert env["GREETING"]["value"] == "it's $$(HOME) and $$$$ \"quoted\""
    assert main["command"][0] == "/opt/conda/bin/python3"
    throttled = next(j for j in jobs if j["spec"]["completions"] == 12)
    assert throttled["spec"]["parallelism"] == 3
    summary = next(j for j in jobs if "--suppress-errors" in j["spec"]["template"]["spec"]["containers"][0]["args"])
    args = summary["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--priority") + 1] == "5" and args[args.index("--max-calls") + 1] == "100"
    assert "activeDeadlineSeconds" not in summary["spec"], "no time limit on the table"
    report = next(j for j in jobs if j["metadata"]["annotations"]["djflow/table"] == "Report")
    wait = report["spec"]["template"]["spec"]["initContainers"][0]["args"]
    assert wait[wait.index("--timeout") + 1] == "43200", "Summary has no time limit: wait_timeout bounds the wait"
    assert wait[wait.index("--interval") + 1] == "15" and wait[wait.index("--create-timeout") + 1] == "900"
    assert report["spec"]["activeDeadlineSeconds"] == 43200 + 1800
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["data"]["restriction"])
    assert cm["data"]["restriction"] == '{"session": 3}'


def test_no_waits_means_no_rbac_and_no_token(compile_spec):
    folder = compile_spec(specs.NO_WAITS)
    docs = [d for f in sorted(folder.glob("*.yaml")) for d in manifests.load(f)]
    assert not [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    for job in (d for d in docs if d["kind"] == "Job"):
        pod = job["spec"]["template"]["spec"]
        assert "initContainers" not in pod and "serviceAccountName" not in pod
        assert all(d.get("namespace") is None for d in [job["metadata"]])


def test_deadlines_include_the_wait_for_upstream_jobs():
    docs = _ephys_w0()
    refresh, recording, lfp = (_job(docs, n) for n in ("ephys-recording-refresh", "ephys-recording", "ephys-lfp"))
    assert refresh["spec"]["activeDeadlineSeconds"] == 3600            # the refresh step: at most an hour
    assert recording["spec"]["activeDeadlineSeconds"] == 3600 + 300 + 7200
    assert lfp["spec"]["activeDeadlineSeconds"] == 3600 + 300 + 7200 + 300 + 3600
    args = lfp["spec"]["template"]["spec"]["initContainers"][0]["args"]
    assert args[args.index("--timeout") + 1] == str(3600 + 300 + 7200 + 300)


def _select(docs, selector):
    """kubectl's -l for the two forms the README shows: 'KEY in (A,B)' and '!KEY'."""
    if selector.startswith("!"):
        return [d for d in docs if selector[1:] not in (d["metadata"].get("labels") or {})]
    key, _, values = selector.partition(" in ")
    wanted = {v.strip() for v in values.strip("()").split(",")}
    return [d for d in docs if (d["metadata"].get("labels") or {}).get(key) in wanted]


def _env(doc):
    return {e["name"]: e for e in _first_container(doc)["env"]}


def test_retry_failed_is_a_configmap_key_read_by_the_first_job_of_each_table():
    for path in sorted(glob.glob(str(REPO / "Tests/DJFlowTests/Golden/ephys/kubernetes/*.yaml"))):
        docs = manifests.load(path)
        config = next(d for d in docs if d["kind"] == "ConfigMap")
        assert config["data"]["retry_failed"] == ""
        jobs = [d for d in docs if d["kind"] == "Job"]
        refreshed = {j["metadata"]["labels"]["djflow/table"] for j in jobs
                     if j["metadata"]["labels"]["app.kubernetes.io/component"] == "refresh"}
        for job in jobs:
            labels = job["metadata"]["labels"]
            # the first Job of a table: its refresh step, or its workers when it has none (the plan's runnerSteps)
            first = labels["app.kubernetes.io/component"] == "refresh" or labels["djflow/table"] not in refreshed
            env = _env(job)
            assert ("DJFLOW_RETRY_FAILED" in env) == first, job["metadata"]["name"]
            if first:
                assert env["DJFLOW_RETRY_FAILED"]["valueFrom"]["configMapKeyRef"] == {
                    "name": config["metadata"]["name"], "key": "retry_failed"}


def test_a_label_selector_applies_a_subset_of_the_tables():
    """What the README shows: -l '!djflow/table' applies the ConfigMap and RBAC, -l 'djflow/table in (...)' the Jobs."""
    docs = _ephys_w0()
    assert [d["kind"] for d in _select(docs, "!djflow/table")] == ["ConfigMap", "ServiceAccount", "Role", "RoleBinding"]
    assert [d["metadata"]["name"] for d in _select(docs, "djflow/table in (lfp)")] == ["ephys-lfp"]
    assert [d["metadata"]["name"] for d in _select(docs, "djflow/table in (recording)")] == ["ephys-recording-refresh", "ephys-recording"]
    # A Job applied alone waits for its upstream Jobs by name: they must still exist (Complete) from an earlier run.
    assert manifests.wait_targets(_select(docs, "djflow/table in (lfp)")[0]["spec"]["template"]["spec"]) == ["ephys-recording"]


def test_the_run_helper_adds_clear_errors_for_retry_failed_or_a_retry(tmp_path):
    helper = REPO / "Templates/kubernetes/djflow_k8s.py"
    probe = tmp_path / "argv.txt"
    command = [sys.executable, "-c", "import sys; open(%r, 'w').write(' '.join(sys.argv[1:]))" % str(probe), "runner"]
    for retry_failed, failures, cleared in [("", "", False), ("true", "", True), ("TRUE", "0", True), ("false", "", False),
                                            ("", "1", True), ("true", "2", True), ("sure", "", False)]:
        env = dict(os.environ, DJFLOW_RETRY_FAILED=retry_failed, DJFLOW_INDEX_FAILURES=failures)
        result = subprocess.run([sys.executable, str(helper), "run", "--", *command], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        words = probe.read_text().split()
        assert words.count("--clear-errors") == (1 if cleared else 0), (retry_failed, failures, words)
        if retry_failed == "sure":
            assert "retry_failed must be" in result.stderr
