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

    func parts(for input: TargetInput, options: KubernetesOptions) -> [LoweringPart] {
        let names = KubernetesObjectNames(plan: input.plan)
        return input.plan.workflows.map { workflow in
            LoweringPart(weight: workflow.jobs.count) {
                let context = KubernetesWorkflowBuilder(input: input, workflow: workflow, options: options, names: names)
                return [Artifact(path: "\(Self.folder)/\(workflow.id).yaml", content: .template(context.context()))]
            }
        }
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

    typealias Context = KubernetesWorkflowContext

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

        var rbac: [Context.RBAC] = []
        if !waited.isEmpty {
            let waiter = names.waiter(workflow.id)
            rbac.append(.init(
                createAccount: options.serviceAccount == nil,
                metadata: metadata(name: waiter, labels: labels(name: "djflow-wait", component: "wait")),
                jobNames: waited.map(quote),
                role: quote(waiter),
                account: quote(options.serviceAccount ?? waiter),
                accountNamespace: namespace))
        }

        let python = Self.literal(runtime.python)
        let helper = "\(KubernetesTarget.mountPath)/\(KubernetesTarget.helperFile)"
        let shared = Shared(
            firstStepEnvironment: environment(configMap: configMap, firstStep: true),
            environment: environment(configMap: configMap, firstStep: false),
            instance: pair("app.kubernetes.io/instance", KubernetesNames.labelValue("\(input.plan.pipeline)-\(workflow.id)")),
            partOf: [pair("app.kubernetes.io/part-of", KubernetesNames.labelValue(input.plan.pipeline)),
                     pair("app.kubernetes.io/managed-by", "djflow")],
            python: python, helper: helper,
            runCommand: [python, helper, "run", "--"].map(quote),
            waitCommand: [python, helper, "wait"].map(quote))
        let restriction = options.restrictions[workflow.id] ?? ""
        let account = waited.isEmpty ? options.serviceAccount : (options.serviceAccount ?? names.waiter(workflow.id))
        return KubernetesWorkflowContext(
            description: description.asLines,
            paths: .init(mount: quote(KubernetesTarget.mountPath), token: quote(KubernetesTarget.tokenPath),
                         runner: quote(KubernetesTarget.runnerFile), helper: quote(KubernetesTarget.helperFile)),
            configMap: .init(
                metadata: metadata(name: configMap, labels: labels(name: "djflow-runner", component: "runner")),
                restriction: quote(restriction),
                helper: EmbeddedFile("kubernetes/djflow_k8s.py", encoding: .yamlBlockIndent4),
                runner: EmbeddedFile("runner/djflow_populate.py", encoding: .yamlBlockIndent4)),
            rbac: rbac,
            jobs: units.map { jobContext($0, configMap: configMap, account: account, shared: shared) })
    }

    /// What the Jobs of a workflow share, quoted once per workflow rather than once per Job.
    private struct Shared {
        let firstStepEnvironment: [Context.Variable]
        let environment: [Context.Variable]
        /// `app.kubernetes.io/instance`, and the labels after `component` (`labels(name:component:)`).
        let instance: Context.Pair
        let partOf: [Context.Pair]
        let python: String
        let helper: String
        let runCommand: [String]
        let waitCommand: [String]
    }

    // MARK: Jobs

    private func jobContext(_ unit: KubernetesUnit, configMap: String, account: String?, shared: Shared) -> Context.Job {
        let job = unit.job
        var comments: [String]
        if unit.role == .refresh {
            comments = ["Refresh step of table \(job.table): fills its DataJoint job queue once, so the \(job.workers) workers of \(names.job(job.id)) do not each refresh."]
        } else {
            comments = job.poolDescription.map { [$0] } ?? ["Table \(job.table) (\(job.tier.rawValue)): \(job.workers) worker\(job.workers == 1 ? "" : "s"), one index each."]
            if !job.parts.isEmpty { comments.append("Fills its parts too: \(job.parts.joined(separator: ", ")).") }
            if job.onError == .continue { comments.append("on_error: continue: keys that fail stay in the jobs table and dependents still start.") }
        }
        if !unit.waitsFor.isEmpty {
            comments.append("Starts after \(unit.waitsFor.joined(separator: ", ")) completed; fails at once if one failed (init container 'wait').")
        }
        let workers = unit.role == .refresh ? 1 : job.workers
        let placement = options.placement(of: job.table)
        let image = placement.image ?? options.image
        let gpus = unit.role == .refresh ? 0 : job.resources.gpus
        var tolerations = placement.tolerations
        let gpuToleration = KubernetesOptions.Toleration(key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule")
        if gpus > 0 && !tolerations.contains(gpuToleration) { tolerations.append(gpuToleration) }
        let python = shared.python

        var wait: [Context.Wait] = []
        if !unit.waitsFor.isEmpty {
            let args = ["--timeout", String(unit.waitSeconds!), "--create-timeout", String(options.createTimeout),
                        "--interval", String(options.waitInterval), "--service-account-dir", KubernetesTarget.tokenPath] + unit.waitsFor
            wait.append(.init(image: quote(options.waitImage ?? image), command: shared.waitCommand, args: args.map(quote)))
        }

        var args = [python, "\(KubernetesTarget.mountPath)/\(KubernetesTarget.runnerFile)"]
        args += job.runnerArguments(for: unit.role == .populate ? .populate : .refresh)
        args += ["--worker", unit.role == .populate ? "$(JOB_COMPLETION_INDEX)/\(job.workers)" : "0/1"]
        args += ["--restriction", "$(DJFLOW_RESTRICTION)"]

        var requests: [Context.Pair] = [], limits: [Context.Pair] = []
        func both(_ key: String, _ value: String) {
            requests.append(pair(key, value)); limits.append(pair(key, value))
        }
        both("cpu", String(unit.role == .refresh ? 1 : job.resources.cpus))
        if let memory = unit.role == .refresh ? 1024 : job.resources.memoryMiB { both("memory", "\(memory)Mi") }
        if let disk = job.resources.diskMiB, unit.role == .populate { both("ephemeral-storage", "\(disk)Mi") }
        if gpus > 0 { limits.append(pair("nvidia.com/gpu", String(gpus))) }

        // `labels(name:component:)`, with the parts every Job of the workflow shares made once.
        let jobLabels = [pair("app.kubernetes.io/name", KubernetesNames.labelValue(unit.name)), shared.instance,
                         pair("app.kubernetes.io/component", unit.role.rawValue)] + shared.partOf
            + [pair("djflow/table", KubernetesNames.labelValue(job.id))]
        let annotations = [pair("djflow/table", job.table), pair("djflow/workflow", workflow.id)]
        return Context.Job(
            comments: comments.asLines,
            metadata: metadata(name: unit.name, labels: jobLabels, annotations: annotations),
            completions: workers,
            parallelism: min(job.throttle ?? workers, workers),
            retries: job.retries,
            hasDeadline: unit.deadline != nil,
            deadline: unit.deadline ?? 0,
            ttl: options.ttlSecondsAfterFinished,
            serviceAccount: account.map { [quote($0)] } ?? [],
            hasImagePullSecrets: !options.imagePullSecrets.isEmpty,
            imagePullSecrets: options.imagePullSecrets.map(quote),
            hasNodeSelector: !placement.nodeSelector.isEmpty,
            nodeSelector: placement.nodeSelector.map { pair($0.0, $0.1) },
            hasTolerations: !tolerations.isEmpty,
            tolerations: tolerations.map(toleration),
            wait: wait,
            container: .init(
                name: quote(unit.role == .refresh ? "refresh" : "populate"),
                image: quote(image),
                command: shared.runCommand,
                args: args.map(quote),
                env: unit.role == .refresh || !job.hasRefreshStep ? shared.firstStepEnvironment : shared.environment,
                requests: requests,
                limits: limits),
            configMap: quote(configMap))
    }

    private func toleration(_ toleration: KubernetesOptions.Toleration) -> Context.Toleration {
        let fields: [(String, String?)] = [("key", toleration.key.map(quote)), ("operator", toleration.operator.map(quote)),
                                           ("value", toleration.value.map(quote)), ("effect", toleration.effect.map(quote)),
                                           ("tolerationSeconds", toleration.seconds.map { String($0) })]
        let present = fields.compactMap { field in field.1.map { (field.0, $0) } }
        return .init(fields: present.enumerated().map { .init(first: $0.offset == 0, key: $0.element.0, value: $0.element.1) })
    }

    /// Connection by value, credentials by `secretKeyRef`, plain environment, restriction and retry count;
    /// for the first Job of a table (its refresh Job, or its only Job) the ConfigMap's `retry_failed`.
    private func environment(configMap: String, firstStep: Bool) -> [Context.Variable] {
        let database = runtime.database
        func plain(_ name: String, _ value: String) -> Context.Variable { .init(name: quote(name), value: [quote(value)]) }
        func fromConfigMap(_ name: String, _ key: String) -> Context.Variable {
            .init(name: quote(name), configMapKeyRef: [.init(source: quote(configMap), item: quote(key))])
        }
        func fromField(_ name: String, _ path: String) -> Context.Variable { .init(name: quote(name), fieldRef: [quote(path)]) }

        var env: [Context.Variable] = []
        if let host = database.host { env.append(plain("DJ_HOST", Self.literal(host))) }
        env.append(plain("DJ_BACKEND", database.backend))
        let secret = database.secretName ?? ""
        for (name, key) in [("DJ_USER", database.userEnv), ("DJ_PASS", database.passwordEnv)] {
            env.append(.init(name: quote(name), secretKeyRef: [.init(source: quote(secret), item: quote(key))]))
        }
        for variable in runtime.environment { env.append(plain(variable.name, Self.literal(variable.value))) }
        for (name, value) in options.environment { env.append(plain(name, Self.literal(value))) }
        env.append(fromConfigMap("DJFLOW_RESTRICTION", "restriction"))
        if firstStep { env.append(fromConfigMap("DJFLOW_RETRY_FAILED", "retry_failed")) }
        env.append(fromField("DJFLOW_JOB_ID", "metadata.name"))
        env.append(fromField("DJFLOW_INDEX_FAILURES", "metadata.annotations['batch.kubernetes.io/job-index-failure-count']"))
        return env
    }

    // MARK: Metadata

    private func quote(_ text: String) -> String { YAMLQuoting.quote(text) }
    private func pair(_ key: String, _ value: String) -> Context.Pair { .init(key: YAMLQuoting.key(key), value: quote(value)) }
    private var namespace: [String] { options.namespace.map { [quote($0)] } ?? [] }

    private func labels(name: String, component: String) -> [Context.Pair] {
        [pair("app.kubernetes.io/name", KubernetesNames.labelValue(name)),
         pair("app.kubernetes.io/instance", KubernetesNames.labelValue("\(input.plan.pipeline)-\(workflow.id)")),
         pair("app.kubernetes.io/component", component),
         pair("app.kubernetes.io/part-of", KubernetesNames.labelValue(input.plan.pipeline)),
         pair("app.kubernetes.io/managed-by", "djflow")]
    }

    private func metadata(name: String, labels: [Context.Pair], annotations: [Context.Pair] = []) -> Context.Metadata {
        .init(name: quote(name), namespace: namespace, labels: labels, hasAnnotations: !annotations.isEmpty, annotations: annotations)
    }

    /// A literal string in `command`, `args` or an env `value`: Kubernetes expands `$(VAR)` there and reads
    /// `$$` as `$`, so every `$` is doubled.
    static func literal(_ text: String) -> String {
        text.utf8.contains(UInt8(ascii: "$")) ? text.replacingOccurrences(of: "$", with: "$$") : text
    }
}
