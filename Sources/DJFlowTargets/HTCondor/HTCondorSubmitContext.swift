// HTCondor: the context of one submit file.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// The context of `htcondor/job.sub`: one job's worker cluster or its refresh step. Every value is already
/// quoted for the submit language.
struct HTCondorSubmitContext: TemplateContext {
    static let template = "htcondor/job.sub"
    /// What the job is, as comment lines.
    var description: [Line]
    /// `universe = vanilla`, or `universe = container` and `container_image = …`.
    var universe: [Line]
    /// The node script (`djflow_node.sh`) that runs the runner.
    var executable: String
    /// `arguments = "…"` in the new syntax: attempt, restriction, interpreter, runner arguments.
    var arguments: String
    /// `environment = "…"`: connection settings by value, credential variable names, `env` values.
    var environment: String
    /// The credential variables copied from where DAGMan submits the node (`getenv = A, B`).
    var getenv: String
    /// Resource requests and log files, one submit command each.
    var commands: [Line]
    /// The runner file shipped with the job.
    var runner: String
    /// `targets.htcondor.extra` lines of the table, checked.
    var extra: [Line]
    var hasExtra: Bool
    /// `queue N` (one proc per worker), or `queue` (one proc per DAG node).
    var queue: String
    /// The runner's exit codes.
    var exit = ExitCodes.runner
}

/// Builds the submit-file contexts of one job.
struct HTCondorSubmitBuilder {
    let job: Job
    let input: TargetInput
    let options: HTCondorOptions
    let names: HTCondorNames
    let shared: Shared

    /// What every submit file shares, made once per target rather than once per job.
    struct Shared {
        let universe: [Line]
        let environment: String
        let getenv: String

        init(input: TargetInput, options: HTCondorOptions) {
            universe = (options.image.map { ["universe = container", "container_image = \($0)"] } ?? ["universe = vanilla"]).asLines
            environment = HTCondorSubmitBuilder.environment(input: input, options: options)
            getenv = HTCondorSubmitBuilder.credentialNames(input: input, options: options).joined(separator: ", ")
        }
    }

    /// The worker cluster: `queue N` (one proc per worker), or `queue 1` per node when throttled.
    func worker() -> HTCondorSubmitContext {
        let throttled = names.workerNodes(job) != nil
        var arguments = runnerArguments(step: .populate)
        arguments += [.value("--worker"), .raw((throttled ? "$(DJFLOW_WORKER:0)" : "$(Process)") + "/\(job.workers)")]
        var description = job.poolDescription.map { [$0] } ?? ["Table \(job.table) (\(job.tier.rawValue)), workflow \(job.workflow): \(job.workers) worker\(job.workers == 1 ? "" : "s")."]
        if !job.parts.isEmpty { description.append("Fills its parts too: \(job.parts.joined(separator: ", ")).") }
        if throttled {
            description.append("Throttled to \(job.throttle!) at once: one DAG node per worker (DJFLOW_WORKER set by VARS), category \(names.node(job))-workers.")
        } else if job.hasRefreshStep {
            description.append("One cluster of \(job.workers) procs; \(job.id).refresh.sub fills the job queue once before they start.")
        }
        if job.onError == .continue { description.append("on_error: continue: keys that fail stay in the jobs table and dependents still start.") }
        var commands = resourceLines(cpus: job.resources.cpus, memoryMiB: job.resources.memoryMiB, gpus: job.resources.gpus,
                                     diskMiB: job.resources.diskMiB, seconds: job.resources.timeSeconds)
        commands += logLines(stem: job.id)
        return context(description: description, arguments: arguments, commands: commands, queue: throttled ? "queue" : "queue \(job.workers)")
    }

    /// The one-proc step that refreshes the table's job queue before a multi-worker cluster starts.
    func refresh() -> HTCondorSubmitContext {
        let arguments = runnerArguments(step: .refresh)
        let description = ["Refresh step of table \(job.table), workflow \(job.workflow): fills its job queue once, so the \(job.workers) workers do not each refresh."]
        var commands = resourceLines(cpus: 1, memoryMiB: 1024, gpus: 0, diskMiB: nil, seconds: min(job.resources.timeSeconds ?? 3600, 3600))
        commands += logLines(stem: "\(job.id).refresh")
        return context(description: description, arguments: arguments, commands: commands, queue: "queue")
    }

    /// `djflow_node.sh ATTEMPT RESTRICTION PYTHON RUNNER-ARGUMENTS…`: the attempt comes from DAGMan's
    /// `$(RETRY)` and the restriction from `VARS … APPEND DJFLOW_RESTRICTION=…` (empty: every key).
    private func runnerArguments(step: RunnerStep) -> [HTCondorQuoting.Word] {
        let words: [HTCondorQuoting.Word] = [.raw("$(RETRY:0)"), .raw("'$(DJFLOW_RESTRICTION:)'"), .value(input.plan.runtime.python)]
        return words + job.runnerArguments(for: step).map(HTCondorQuoting.Word.value)
    }

    private func resourceLines(cpus: Int, memoryMiB: Int?, gpus: Int, diskMiB: Int?, seconds: Int?) -> [String] {
        var lines = ["request_cpus = \(cpus)"]
        if let memory = memoryMiB { lines.append("request_memory = \(Self.quantity(memory))") }
        if gpus > 0 { lines.append("request_gpus = \(gpus)") }
        if let disk = diskMiB { lines.append("request_disk = \(Self.quantity(disk))") }
        // The job is put on hold when it runs longer (HTCondor has no wall-time kill): see the README.
        if let seconds { lines.append("allowed_execute_duration = \(seconds)") }
        return lines
    }

    /// MiB with an explicit unit (a bare `request_disk` means KiB): `8GB`, `1536MB` (HTCondor's units are powers of 1024).
    static func quantity(_ mebibytes: Int) -> String {
        mebibytes % 1024 == 0 ? "\(mebibytes / 1024)GB" : "\(mebibytes)MB"
    }

    private func logLines(stem: String) -> [String] {
        let base = "\(options.logDir)/\(stem)"
        return ["log = \(base).log", "output = \(base).$(Cluster).$(Process).out", "error = \(base).$(Cluster).$(Process).err"]
    }

    /// Connection settings by value, credentials by name. `getenv = NAME, NAME` copies exactly the two
    /// variables `database.secret` names from where DAGMan submits the node (never `getenv = true`, which
    /// copies everything); HTCondor quotes their values itself, so any password survives. The runner wants
    /// DJ_USER/DJ_PASS: djflow_node.sh maps the names given in DJFLOW_USER_ENV/DJFLOW_PASSWORD_ENV.
    static func credentialNames(input: TargetInput, options: HTCondorOptions) -> [String] {
        let database = input.plan.runtime.database
        return [database.userEnv] + (options.passwordFile == nil ? [database.passwordEnv] : [])
    }

    static func environment(input: TargetInput, options: HTCondorOptions) -> String {
        let database = input.plan.runtime.database
        var pairs: [(name: String, value: HTCondorQuoting.Word)] = []
        if let host = database.host { pairs.append(("DJ_HOST", .value(host))) }
        pairs.append(("DJ_BACKEND", .value(database.backend)))
        pairs.append(("DJFLOW_USER_ENV", .value(database.userEnv)))
        if let file = options.passwordFile {
            pairs.append(("DJFLOW_PASSWORD_FILE", .value(file)))
        } else {
            pairs.append(("DJFLOW_PASSWORD_ENV", .value(database.passwordEnv)))
        }
        pairs.append(("DJFLOW_JOB_ID", .raw("$(Cluster).$(Process)")))
        // Set by `djflow_restrict.py --retry-failed` (VARS … APPEND) on the first node of each table.
        pairs.append(("DJFLOW_RETRY_FAILED", .raw("$(DJFLOW_RETRY_FAILED:)")))
        for variable in input.plan.runtime.environment { pairs.append((variable.name, .value(variable.value))) }
        for (name, value) in options.environment { pairs.append((name, .value(value))) }
        return HTCondorQuoting.environment(pairs)
    }

    private func context(description: [String], arguments: [HTCondorQuoting.Word], commands: [String], queue: String) -> HTCondorSubmitContext {
        let extra = options.extraLines(for: job.table)
        return HTCondorSubmitContext(
            description: description.asLines, universe: shared.universe, executable: HTCondorTarget.nodeScript,
            arguments: HTCondorQuoting.arguments(arguments), environment: shared.environment, getenv: shared.getenv,
            commands: commands.asLines, runner: HTCondorTarget.runnerFile, extra: extra.asLines, hasExtra: !extra.isEmpty,
            queue: queue)
    }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension HTCondorSubmitContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 12)
        tree.add("description", description)
        tree.add("universe", universe)
        tree.add("executable", executable)
        tree.add("arguments", arguments)
        tree.add("environment", environment)
        tree.add("getenv", getenv)
        tree.add("commands", commands)
        tree.add("runner", runner)
        tree.add("extra", extra)
        tree.add("hasExtra", hasExtra)
        tree.add("queue", queue)
        tree.add("exit", exit)
        return .object(tree)
    }
}
