"""Pipeline definitions the Kubernetes tests compile besides the samples."""

# Every targets.kubernetes option, per-table options, GPUs, disk, throttle, on_error, long names.
FULL_OPTIONS = """\
pipeline: Lab_Pipeline-With-A-Long-Name-For-K8s
runner:
  module: lab.pipeline
  python: /opt/conda/bin/python3
  image: registry.example.org:5000/lab/pipeline@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  env: {OMP_NUM_THREADS: "1", GREETING: "it's $(HOME) and $$ \\"quoted\\""}
database:
  host: db.lab.internal:3306
  backend: mysql
  secret: {name: lab-db, user_env: LAB_USER, password_env: LAB_PASS}
defaults:
  resources: {cpus: 2, memory: 3G}
  retries: 2
tables:
  Session: {tier: manual}
  VeryLongTableNameThatKeepsGoingAndGoingForeverAndEverOne: {tier: imported, depends_on: [Session], workers: 12, throttle: 3, resources: {time: "2:00:00"}}
  VeryLongTableNameThatKeepsGoingAndGoingForeverAndEverTwo:
    tier: computed
    depends_on: [VeryLongTableNameThatKeepsGoingAndGoingForeverAndEverOne]
    resources: {cpus: 8, memory: 64G, gpus: 2, disk: 100G, time: "1-00:00:00"}
    targets:
      kubernetes:
        image: registry.example.org/lab/gpu:2
        node_selector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}
        tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]
  Summary:
    tier: computed
    depends_on: [VeryLongTableNameThatKeepsGoingAndGoingForeverAndEverTwo, Session]
    on_error: continue
    max_calls: 100
    processes: 2
    priority: 5
  Report: {tier: computed, depends_on: [Summary], resources: {memory: 512M, time: "0:30:00"}}
targets:
  kubernetes:
    namespace: lab-pipelines
    image_pull_secrets: [regcred, other-cred]
    node_selector: {kubernetes.io/arch: amd64, topology.kubernetes.io/zone: eu-1a}
    tolerations: [{key: batch, operator: Exists, effect: NoExecute, toleration_seconds: 3600}]
    service_account: lab-runner
    ttl_seconds_after_finished: 172800
    wait_image: registry.example.org/lab/slim-python:3.12
    wait_timeout: 43200
    create_timeout: 900
    wait_interval: 15
    env: {TZ: Europe/Berlin}
    restrictions: {w0-very_long_table_name_that_keeps_going_and_going_forever_and_ever_one: '{"session": 3}'}
"""

# No namespace, no waits at all (independent tables): no RBAC objects.
NO_WAITS = """\
pipeline: flat
runner: {module: flat_pipeline, image: 'flat:1'}
database: {secret: {name: flat-db}}
tables:
  S: {tier: manual}
  A: {tier: computed, depends_on: [S]}
  B: {tier: computed, depends_on: [S], workers: 1}
"""

HOSTILE = [
    "", "plain", "with space", "it's", '"double"', "$(touch /tmp/djflow-pwned)", "$(DJ_PASS)", "$(JOB_COMPLETION_INDEX)",
    "$$", "$", "$$(HOME)", "`id`", "a\nb\n", "tab\there", "back\\slash", "!bang", '{"subject": "M\'1"}',
    "ünïcødé ✓", "emoji 😀", "--looks-like-a-flag", "*glob?[x]", "~", "yes", "no", "on", "off", "null", "Null",
    "true", "0755", "0x1F", "1e3", ".inf", "12:30:00", "a: b", "# hash", "- dash", "&anchor", "*alias", "!tag",
    "%directive", "@at", "|literal", ">folded", "[flow]", "{flow: map}", "'single'", "---", "...", "trailing space ",
    " leading space", "\ttab first", "cr\rlf\r\n", "nel\u0085line", "ls\u2028ps\u2029", "nbsp\u00a0", "bom\ufeff",
    "del\x7f", "bell\x07esc\x1b", "c1\x80\x9f", "\ufffd replacement", "back\\\"slash quote", "\\n not a newline",
]


def yaml_double_quoted(text):
    """A YAML double-quoted scalar written independently of djflow's Swift quoting (for test inputs)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= code <= 0x7E or (0xA0 < code <= 0xFFFD and code not in (0x2028, 0x2029, 0xFEFF)) or code > 0xFFFF:
            out.append(ch)
        elif code <= 0xFF:
            out.append("\\x%02X" % code)
        else:
            out.append("\\u%04X" % code)
    out.append('"')
    return "".join(out)


def hostile_pipeline():
    """One independent table per hostile string: workflow w0-t<i> gets hostile[i] as its restriction and
    every job gets every hostile string in runner.env (H<i>) and targets.kubernetes.env (K<i>)."""
    lines = ["pipeline: hostile", "runner:", "  module: hostile_pipeline", "  image: 'hostile:1'", "  env:"]
    lines += ["    H%d: %s" % (i, yaml_double_quoted(s)) for i, s in enumerate(HOSTILE)]
    lines += ["database:", "  host: %s" % yaml_double_quoted("db:3306 $(X) \"q\""), "  secret: {name: hostile-db}", "tables:"]
    for i in range(len(HOSTILE)):
        lines.append("  S%d: {tier: manual}" % i)
        lines.append("  T%d: {tier: computed, depends_on: [S%d]}" % (i, i))
    lines += ["targets:", "  kubernetes:", "    env:"]
    lines += ["      K%d: %s" % (i, yaml_double_quoted(s)) for i, s in enumerate(HOSTILE)]
    lines.append("    restrictions:")
    lines += ["      w0-t%d: %s" % (i, yaml_double_quoted(s)) for i, s in enumerate(HOSTILE)]
    return "\n".join(lines) + "\n"
