// Kubernetes: lowers the plan to one multi-document manifest per workflow.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// Kubernetes: one multi-document file per workflow for `kubectl apply -f` on a stock cluster (no CRDs):
/// a ConfigMap (runner, helper, key restriction), one Indexed `batch/v1` Job per table (plus a one-pod
/// refresh Job before multi-worker tables), and, when some Job waits for another, a ServiceAccount, Role and
/// RoleBinding that allow only `get` on the Jobs waited for.
///
/// Ordering: a Job with upstream Jobs has an init container that polls them through the API server
/// (`djflow_k8s.py wait`, standard library Python in the pipeline image): Complete → start, Failed → exit 3,
/// which the pod failure policy turns into an immediate Job failure, so failures propagate downstream.
///
/// Layout under `kubernetes/`: `<workflow>.yaml`.
public struct KubernetesTarget: SchedulerTarget {
    public var kind: TargetKind { .kubernetes }
    static let folder = "kubernetes"
    static let mountPath = "/djflow"
    static let tokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"
    static let runnerFile = "djflow_populate.py"
    static let helperFile = "djflow_k8s.py"
    /// Pod failure policy: exit codes that fail the Job at once (2 runner usage error; 3 an upstream Job
    /// failed; 4 an upstream Job never appeared or never finished in time).
    static let fatalExitCodes = [RunnerExit.usage.rawValue, KubernetesWorkflowContext.HelperExitCodes().upstreamFailed,
                                 KubernetesWorkflowContext.HelperExitCodes().timeout]
    /// Added to the latest end of the Jobs waited for: pod start-up and creation skew.
    static let waitMargin = 300
    /// The refresh step's limits (it only inserts pending rows into the job queue).
    static let refreshSeconds = 3600

    public init() {}

    func checkedOptions(for input: TargetInput, diagnostics: inout Diagnostics) -> KubernetesOptions? {
        let options = KubernetesOptions.read(input.spec, workflows: input.plan.workflows.map(\.id), diagnostics: &diagnostics)
        ValueChecks.check(input.spec, diagnostics: &diagnostics)
        return options
    }

    func artifacts(for input: TargetInput, options: KubernetesOptions) -> [Artifact] {
        let names = KubernetesObjectNames(plan: input.plan)
        return input.plan.workflows.map { workflow in
            let context = KubernetesWorkflowBuilder(input: input, workflow: workflow, options: options, names: names)
            return Artifact(path: "\(Self.folder)/\(workflow.id).yaml", content: .template(context.context()))
        }
    }
}

/// The context of `kubernetes/workflow.yaml`: one workflow's ConfigMap, RBAC for the waits, and Jobs.
/// Structured parts (metadata, pod specs, RBAC rules) come as lines of YAML that `YAMLValue` wrote, every
/// string a double-quoted scalar made by `YAMLQuoting`.
struct KubernetesWorkflowContext: TemplateContext {
    static let template = "kubernetes/workflow.yaml"

    /// The ConfigMap holding the runner, the helper, the restriction and `retry_failed`.
    struct ConfigMap: Codable, Sendable {
        /// Block YAML lines (`metadata:` and the like are in the template; these are the indented lines after them).
        var metadata: String
        /// The workflow's key restriction, a YAML scalar.
        var restriction: String
        /// `kubernetes/djflow_k8s.py` and the runner, as YAML block scalars.
        var helper: EmbeddedFile
        var runner: EmbeddedFile
    }

    /// The ServiceAccount, Role and RoleBinding of the init containers that wait for upstream Jobs.
    struct RBAC: Codable, Sendable {
        /// djflow creates the ServiceAccount (none named in `service_account`).
        var createAccount: Bool
        var metadata: String
        var rules: String
        var roleRef: String
        var subjects: String
    }

    /// One Job: a table's indexed workers, or its refresh step.
    struct Job: Codable, Sendable {
        var comments: [Line]
        var metadata: String
        /// Indexed completions (one per worker) and how many run at once.
        var completions: Int
        var parallelism: Int
        /// `backoffLimitPerIndex`.
        var retries: Int
        /// The runner's exit codes that fail the Job at once, a YAML flow list.
        var fatalExitCodes: String
        var hasDeadline: Bool
        var deadline: Int
        var ttl: Int
        var podMetadata: String
        var podSpec: String
    }

    /// What the file holds and how to apply it, as comment lines.
    var description: [Line]
    var configMap: ConfigMap
    /// Empty, or one entry when some Job waits for another.
    var rbac: [RBAC]
    var jobs: [Job]
    /// The runner's exit codes, and the helper's (`djflow_k8s.py wait`).
    var exit = ExitCodes.runner
    var helperExit = HelperExitCodes()

    /// The exit codes of `djflow_k8s.py wait` beyond the runner's (checked against its `EXIT_*` by a test).
    struct HelperExitCodes: Codable, Sendable {
        /// An upstream Job failed.
        var upstreamFailed = 3
        /// An upstream Job never appeared or never finished in time.
        var timeout = 4
    }
}

/// One Job of a workflow: a table's workers, or the refresh step before them.
struct KubernetesUnit {
    enum Role: String { case populate, refresh }
    var job: Job
    var role: Role
    var name: String
    /// Jobs (names) this one waits for, in order.
    var waitsFor: [String]
    var waitSeconds: Int?
    var deadline: Int?
}

/// The context of one workflow file.
struct KubernetesWorkflowBuilder {
    let input: TargetInput
    let workflow: Workflow
    let options: KubernetesOptions
    let names: KubernetesObjectNames

    var runtime: RuntimeEnvironment { input.plan.runtime }

    /// The workflow's Jobs in run order with their waits and deadlines.
    func units() -> [KubernetesUnit] {
        var units: [KubernetesUnit] = []
        var end: [String: Int?] = [:]
        for job in input.plan.jobs(of: workflow) {
            let upstream = job.needs.map(names.job)
            if job.hasRefreshStep {
                units.append(unit(job, .refresh, names.refreshJob(job.id), waits: upstream, end: &end))
                units.append(unit(job, .populate, names.job(job.id), waits: [names.refreshJob(job.id)], end: &end))
            } else {
                units.append(unit(job, .populate, names.job(job.id), waits: upstream, end: &end))
            }
        }
        return units
    }

    /// A Job's deadline counts from its creation, so it includes the wait: the latest end of what it waits
    /// for (plus a margin), or `wait_timeout` when something it waits for has no time limit.
    private func unit(_ job: Job, _ role: KubernetesUnit.Role, _ name: String, waits: [String], end: inout [String: Int?]) -> KubernetesUnit {
        var waitSeconds: Int?
        if !waits.isEmpty {
            let ends = waits.map { end[$0] ?? nil }
            waitSeconds = ends.contains { $0 == nil } ? options.waitTimeout : ends.compactMap { $0 }.max()! + KubernetesTarget.waitMargin
        }
        var run = job.resources.timeSeconds
        if role == .refresh { run = min(run ?? KubernetesTarget.refreshSeconds, KubernetesTarget.refreshSeconds) }
        let deadline = run.map { $0 + (waitSeconds ?? 0) }
        end[name] = deadline
        return KubernetesUnit(job: job, role: role, name: name, waitsFor: waits, waitSeconds: waitSeconds, deadline: deadline)
    }

    func context() -> KubernetesWorkflowContext {
        let units = self.units()
        let waited = Array(Set(units.flatMap(\.waitsFor))).sorted()
        let configMap = names.configMap(workflow.id)
        var description = ["Workflow \(workflow.id) of pipeline \(input.plan.pipeline): \(workflow.jobs.joined(separator: ", ")).",
                           "Apply with: kubectl apply -f \(workflow.id).yaml" + (options.namespace == nil ? " -n NAMESPACE" : "")]
        if workflow.gates.isEmpty {
            description.append("Enter the staged data first: \(workflow.waitsOn.joined(separator: ", ")).")
        } else {
            description.append("Runs after people enter data into: \(workflow.gates.joined(separator: ", ")) (the gate): apply it once that is done.")
        }
        description.append("Needs the Secret '\(runtime.database.secretName ?? "")' with keys '\(runtime.database.userEnv)' and '\(runtime.database.passwordEnv)' (not generated).")
        description.append("To run it again: kubectl delete -f \(workflow.id).yaml, then apply (Jobs are immutable).")
        description.append("Failed keys again, after fixing their cause: set retry_failed: \"true\" in the ConfigMap below, then delete and apply.")
        description.append("Some tables only: kubectl apply -f \(workflow.id).yaml -l '!djflow/table' (ConfigMap, RBAC), then -l 'djflow/table in (JOB,...)'.")

        var rbac: [KubernetesWorkflowContext.RBAC] = []
        if !waited.isEmpty {
            let waiter = names.waiter(workflow.id)
            let account = options.serviceAccount ?? waiter
            var subject: [YAMLEntry] = [.init("kind", "ServiceAccount"), .init("name", .string(account))]
            if let namespace = options.namespace { subject.append(.init("namespace", .string(namespace))) }
            rbac.append(.init(
                createAccount: options.serviceAccount == nil,
                metadata: metadata(name: waiter, labels: labels(name: "djflow-wait", component: "wait")),
                rules: YAMLValue.list([.object([
                    "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"],
                    "resourceNames": .list(waited.map { .string($0) }),
                ])]).blockText(indent: 0),
                roleRef: YAMLValue.object(["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": .string(waiter)]).blockText(indent: 2),
                subjects: YAMLValue.list([.map(subject)]).blockText(indent: 0)))
        }

        let restriction = options.restrictions[workflow.id] ?? ""
        return KubernetesWorkflowContext(
            description: description.asLines,
            configMap: .init(
                metadata: metadata(name: configMap, labels: labels(name: "djflow-runner", component: "runner")),
                restriction: YAMLQuoting.quote(restriction),
                helper: EmbeddedFile("kubernetes/djflow_k8s.py", encoding: .yamlBlockIndent4),
                runner: EmbeddedFile("runner/djflow_populate.py", encoding: .yamlBlockIndent4)),
            rbac: rbac,
            jobs: units.map { jobContext($0, configMap: configMap, account: waited.isEmpty ? options.serviceAccount : (options.serviceAccount ?? names.waiter(workflow.id))) })
    }

    // MARK: Jobs

    private func jobContext(_ unit: KubernetesUnit, configMap: String, account: String?) -> KubernetesWorkflowContext.Job {
        let job = unit.job
        var comments: [String]
        if unit.role == .refresh {
            comments = ["Refresh step of table \(job.table): fills its DataJoint job queue once, so the \(job.workers) workers of \(names.job(job.id)) do not each refresh."]
        } else {
            comments = ["Table \(job.table) (\(job.tier.rawValue)): \(job.workers) worker\(job.workers == 1 ? "" : "s"), one index each."]
            if !job.parts.isEmpty { comments.append("Fills its parts too: \(job.parts.joined(separator: ", ")).") }
            if job.onError == .continue { comments.append("on_error: continue: keys that fail stay in the jobs table and dependents still start.") }
        }
        if !unit.waitsFor.isEmpty {
            comments.append("Starts after \(unit.waitsFor.joined(separator: ", ")) completed; fails at once if one failed (init container 'wait').")
        }
        let workers = unit.role == .refresh ? 1 : job.workers
        let parallelism = min(job.throttle ?? workers, workers)
        var jobLabels = labels(name: unit.name, component: unit.role.rawValue)
        jobLabels.append(.init("djflow/table", .string(KubernetesNames.labelValue(job.id))))
        let annotations: [YAMLEntry] = [.init("djflow/table", .string(job.table)), .init("djflow/workflow", .string(workflow.id))]
        return KubernetesWorkflowContext.Job(
            comments: comments.asLines,
            metadata: metadata(name: unit.name, labels: jobLabels, annotations: annotations),
            completions: workers,
            parallelism: parallelism,
            retries: job.retries,
            fatalExitCodes: YAMLValue.list(KubernetesTarget.fatalExitCodes.map { .int($0) }).flow,
            hasDeadline: unit.deadline != nil,
            deadline: unit.deadline ?? 0,
            ttl: options.ttlSecondsAfterFinished,
            podMetadata: YAMLValue.object(["labels": .map(jobLabels), "annotations": .map(annotations)]).blockText(indent: 6),
            podSpec: podSpec(unit, configMap: configMap, account: account).blockText(indent: 6))
    }

    private func podSpec(_ unit: KubernetesUnit, configMap: String, account: String?) -> YAMLValue {
        let job = unit.job
        let placement = options.placement(of: job.table)
        let image = placement.image ?? options.image
        let gpus = unit.role == .refresh ? 0 : job.resources.gpus
        var pod: [YAMLEntry] = [.init("restartPolicy", "Never")]
        if let account { pod.append(.init("serviceAccountName", .string(account))) }
        pod.append(.init("automountServiceAccountToken", false))
        if !options.imagePullSecrets.isEmpty {
            pod.append(.init("imagePullSecrets", .list(options.imagePullSecrets.map { .object(["name": .string($0)]) })))
        }
        if !placement.nodeSelector.isEmpty {
            pod.append(.init("nodeSelector", .map(placement.nodeSelector.map { YAMLEntry($0.0, .string($0.1)) })))
        }
        var tolerations = placement.tolerations
        let gpuToleration = KubernetesOptions.Toleration(key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule")
        if gpus > 0 && !tolerations.contains(gpuToleration) { tolerations.append(gpuToleration) }
        if !tolerations.isEmpty { pod.append(.init("tolerations", .list(tolerations.map(\.yaml)))) }

        let python = Self.literal(runtime.python)
        let helper = "\(KubernetesTarget.mountPath)/\(KubernetesTarget.helperFile)"
        let scripts: YAMLValue = .object(["name": "djflow", "mountPath": .string(KubernetesTarget.mountPath), "readOnly": true])
        if !unit.waitsFor.isEmpty {
            var args: [YAMLValue] = ["--timeout", .string(String(unit.waitSeconds!)), "--create-timeout", .string(String(options.createTimeout)),
                                     "--interval", .string(String(options.waitInterval)), "--service-account-dir", .string(KubernetesTarget.tokenPath)]
            args += unit.waitsFor.map { .string($0) }
            pod.append(.init("initContainers", .list([.object([
                "name": "wait",
                "image": .string(options.waitImage ?? image),
                "command": [.string(python), .string(helper), "wait"],
                "args": .list(args),
                "resources": .object(["requests": .object(["cpu": "10m", "memory": "32Mi"]), "limits": .object(["cpu": "100m", "memory": "128Mi"])]),
                "volumeMounts": [scripts, .object(["name": "djflow-token", "mountPath": .string(KubernetesTarget.tokenPath), "readOnly": true])],
            ])])))
        }

        var args: [YAMLValue] = [.string(python), .string("\(KubernetesTarget.mountPath)/\(KubernetesTarget.runnerFile)")]
        args += job.runnerArguments(for: unit.role == .populate ? .populate : .refresh).map(YAMLValue.string)
        args += ["--worker", unit.role == .populate ? .string("$(JOB_COMPLETION_INDEX)/\(job.workers)") : "0/1"]
        args += ["--restriction", "$(DJFLOW_RESTRICTION)"]

        var requests: [YAMLEntry] = [], limits: [YAMLEntry] = []
        let cpus = unit.role == .refresh ? 1 : job.resources.cpus
        let memory = unit.role == .refresh ? 1024 : job.resources.memoryMiB
        requests.append(.init("cpu", .string(String(cpus)))); limits.append(.init("cpu", .string(String(cpus))))
        if let memory { requests.append(.init("memory", .string("\(memory)Mi"))); limits.append(.init("memory", .string("\(memory)Mi"))) }
        if let disk = job.resources.diskMiB, unit.role == .populate {
            requests.append(.init("ephemeral-storage", .string("\(disk)Mi"))); limits.append(.init("ephemeral-storage", .string("\(disk)Mi")))
        }
        if gpus > 0 { limits.append(.init("nvidia.com/gpu", .string(String(gpus)))) }

        pod.append(.init("containers", .list([.object([
            "name": .string(unit.role == .refresh ? "refresh" : "populate"),
            "image": .string(image),
            "command": [.string(python), .string(helper), "run", "--"],
            "args": .list(args),
            "env": .list(environment(configMap: configMap, firstStep: unit.role == .refresh || !job.hasRefreshStep)),
            "resources": .object(["requests": .map(requests), "limits": .map(limits)]),
            "volumeMounts": [scripts],
        ])])))

        var volumes: [YAMLValue] = [.object(["name": "djflow", "configMap": .object([
            "name": .string(configMap),
            "items": [.object(["key": .string(KubernetesTarget.runnerFile), "path": .string(KubernetesTarget.runnerFile)]),
                      .object(["key": .string(KubernetesTarget.helperFile), "path": .string(KubernetesTarget.helperFile)])],
        ])])]
        if !unit.waitsFor.isEmpty {
            volumes.append(.object(["name": "djflow-token", "projected": .object(["sources": [
                .object(["serviceAccountToken": .object(["path": "token", "expirationSeconds": 3600])]),
                .object(["configMap": .object(["name": "kube-root-ca.crt", "items": [.object(["key": "ca.crt", "path": "ca.crt"])]])]),
                .object(["downwardAPI": .object(["items": [.object(["path": "namespace", "fieldRef": .object(["fieldPath": "metadata.namespace"])])]])]),
            ]])]))
        }
        pod.append(.init("volumes", .list(volumes)))
        return .map(pod)
    }

    /// Connection by value, credentials by `secretKeyRef`, plain environment, restriction and retry count;
    /// for the first Job of a table (its refresh Job, or its only Job) the ConfigMap's `retry_failed`.
    private func environment(configMap: String, firstStep: Bool) -> [YAMLValue] {
        let database = runtime.database
        var env: [YAMLValue] = []
        if let host = database.host { env.append(.object(["name": "DJ_HOST", "value": .string(Self.literal(host))])) }
        env.append(.object(["name": "DJ_BACKEND", "value": .string(database.backend)]))
        let secret = database.secretName ?? ""
        for (name, key) in [("DJ_USER", database.userEnv), ("DJ_PASS", database.passwordEnv)] {
            env.append(.object(["name": .string(name), "valueFrom": .object(["secretKeyRef": .object(["name": .string(secret), "key": .string(key)])])]))
        }
        for variable in runtime.environment {
            env.append(.object(["name": .string(variable.name), "value": .string(Self.literal(variable.value))]))
        }
        for (name, value) in options.environment {
            env.append(.object(["name": .string(name), "value": .string(Self.literal(value))]))
        }
        env.append(.object(["name": "DJFLOW_RESTRICTION", "valueFrom": .object(["configMapKeyRef": .object(["name": .string(configMap), "key": "restriction"])])]))
        if firstStep {
            env.append(.object(["name": "DJFLOW_RETRY_FAILED", "valueFrom": .object(["configMapKeyRef": .object(["name": .string(configMap), "key": "retry_failed"])])]))
        }
        env.append(.object(["name": "DJFLOW_JOB_ID", "valueFrom": .object(["fieldRef": .object(["fieldPath": "metadata.name"])])]))
        env.append(.object(["name": "DJFLOW_INDEX_FAILURES", "valueFrom": .object(["fieldRef": .object([
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-index-failure-count']"])])]))
        return env
    }

    // MARK: Metadata

    private func labels(name: String, component: String) -> [YAMLEntry] {
        [.init("app.kubernetes.io/name", .string(KubernetesNames.labelValue(name))),
         .init("app.kubernetes.io/instance", .string(KubernetesNames.labelValue("\(input.plan.pipeline)-\(workflow.id)"))),
         .init("app.kubernetes.io/component", .string(component)),
         .init("app.kubernetes.io/part-of", .string(KubernetesNames.labelValue(input.plan.pipeline))),
         .init("app.kubernetes.io/managed-by", "djflow")]
    }

    private func metadata(name: String, labels: [YAMLEntry], annotations: [YAMLEntry] = []) -> String {
        var entries: [YAMLEntry] = [.init("name", .string(name))]
        if let namespace = options.namespace { entries.append(.init("namespace", .string(namespace))) }
        entries.append(.init("labels", .map(labels)))
        if !annotations.isEmpty { entries.append(.init("annotations", .map(annotations))) }
        return YAMLValue.map(entries).blockText(indent: 2)
    }

    /// A literal string in `command`, `args` or an env `value`: Kubernetes expands `$(VAR)` there and reads
    /// `$$` as `$`, so every `$` is doubled.
    static func literal(_ text: String) -> String { text.replacingOccurrences(of: "$", with: "$$") }
}
