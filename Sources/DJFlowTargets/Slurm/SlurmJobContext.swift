// SLURM: the context of one `.sbatch` script (worker array or refresh step).

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// The context of `slurm/job.sbatch`: one job's worker array, or its refresh step. Every value is already
/// quoted for bash or checked for `#SBATCH`.
struct SlurmJobContext: TemplateContext {
    static let template = "slurm/job.sbatch"
    /// What the job is and does, as comment lines.
    var description: [Line]
    /// The `#SBATCH` options (`--mem=8G`), djflow's and then the user's `extra`.
    var sbatch: [Line]
    /// `targets.slurm.setup`, line by line as written, run before the runner.
    var setup: [Line]
    var hasSetup: Bool
    /// `export` lines: connection settings by value, credentials checked by name, `env` values.
    var environment: [Line]
    /// The runner invocation: bash words, each quoted, before the per-run arguments.
    var command: String
    /// The number of workers (`--worker i/N`).
    var workers: Int
    /// How many times exit 1 or 75 is retried in the job.
    var retries: Int
    var retried: Bool
    /// The first retry's delay in seconds (doubled, tripled, ... after).
    var retryDelay: Int
    /// `workers: auto` with more than one worker: the array starts one task and worker 0 raises the throttle.
    var autoWorkers: Bool
    /// The most tasks `workers: auto` lets run at once.
    var scaleCap: Int?
    /// The done marker's path prefix, quoted (the array job id is appended at run time).
    var doneMarker: String?
    /// The runner's exit codes.
    var exit = ExitCodes.runner
}

/// Builds the `.sbatch` contexts of one job.
struct SlurmJobBuilder {
    let job: Job
    let input: TargetInput
    let options: SlurmOptions
    let names: SlurmNames
    let shared: Shared

    /// What every job's scripts share, made once per target rather than once per job.
    struct Shared {
        let environment: [Line]
        let setup: [Line]
        /// How jobs start the runner without GPUs and with them (`apptainer exec --nv`), as bash words.
        let interpreter: String
        let gpuInterpreter: String

        init(input: TargetInput, options: SlurmOptions) {
            environment = SlurmEnvironment.lines(input: input, options: options).asLines
            setup = options.setup.asLines
            interpreter = SlurmJobBuilder.interpreter(input: input, options: options, gpus: 0).joined(separator: " ")
            gpuInterpreter = SlurmJobBuilder.interpreter(input: input, options: options, gpus: 1).joined(separator: " ")
        }
    }

    private var placement: SlurmOptions.Placement {
        (options.tablePlacement[job.table] ?? .init()).over(options.placement)
    }

    /// The worker array: one task per worker, full resources.
    func worker() -> SlurmJobContext {
        var sbatch = ["--job-name=\(names.jobName(job))"]
        sbatch.append("--array=\(SlurmArrays.chunks(workers: job.workers, throttle: Self.initialThrottle(job), maxArraySize: options.maxArraySize)[0].range)")
        sbatch.append("--cpus-per-task=\(job.resources.cpus)")
        if let memory = job.resources.memoryMiB { sbatch.append("--mem=\(MemoryAmount(mebibytes: memory).slurmText)") }
        if job.resources.gpus > 0 { sbatch.append("--gres=gpu:\(job.resources.gpus)") }
        if let disk = job.resources.diskMiB { sbatch.append("--tmp=\(MemoryAmount(mebibytes: disk).slurmText)") }
        if let time = job.resources.timeSeconds { sbatch.append("--time=\(WallTime(seconds: time).slurmText)") }
        sbatch += placementLines(gpuJob: true)
        sbatch.append("--output=\(options.logDir)/%x_%A_%a.out")
        sbatch.append("--error=\(options.logDir)/%x_%A_%a.err")
        sbatch += commonLines()

        let command = runnerCommand(step: .populate, gpus: job.resources.gpus)
        var description = job.poolDescription.map { [$0] } ?? ["Table \(job.table) (\(job.tier.rawValue)), workflow \(job.workflow): "
            + (job.autoWorkers ? "up to \(job.workers) workers (auto: those beyond the keys that can come leave at once)" : "\(job.workers) worker\(job.workers == 1 ? "" : "s")")
            + ", one array task each."]
        if !job.parts.isEmpty { description.append("Fills its parts too: \(job.parts.joined(separator: ", ")).") }
        if !job.follows.isEmpty { description.append("Pipelined: starts with \(job.follows.joinedInOnePass(separator: ", ")) and takes each key once its inputs are committed.") }
        if job.hasRefreshStep { description.append("\(job.id).refresh.sbatch fills the job queue once before these workers start.") }
        if job.onError == .continue { description.append("on_error: continue: keys that fail stay in the jobs table and dependents still start.") }
        var values = context(description: description, sbatch: sbatch, command: command, workers: job.workers, retries: job.retries)
        if job.autoWorkers && job.workers > 1 {
            values.autoWorkers = true
            values.scaleCap = min(job.throttle ?? job.workers, job.workers)
            values.doneMarker = ShellQuoting.quote("\(options.logDir)/.djflow-done-")
        }
        return values
    }

    /// The array's throttle at submission: `workers: auto` starts one task and worker 0 raises it.
    static func initialThrottle(_ job: Job) -> Int? {
        job.autoWorkers && job.workers > 1 ? 1 : job.throttle
    }

    /// The one-task step that refreshes the table's job queue before a multi-worker array starts.
    func refresh() -> SlurmJobContext {
        var sbatch = ["--job-name=\(names.jobName(job)).refresh", "--cpus-per-task=1", "--mem=1G"]
        let time = min(job.resources.timeSeconds ?? 3600, 3600)
        sbatch.append("--time=\(WallTime(seconds: time).slurmText)")
        sbatch += placementLines(gpuJob: false)
        sbatch.append("--output=\(options.logDir)/%x_%j.out")
        sbatch.append("--error=\(options.logDir)/%x_%j.err")
        sbatch += commonLines()
        let command = runnerCommand(step: .refresh, gpus: 0)
        var description = ["Refresh step of table \(job.table), workflow \(job.workflow): fills its job queue once, so the \(job.workers) workers do not each refresh."]
        if job.resources.gpus > 0 {
            description.append("It needs no GPU: it runs where the pipeline's other jobs run, not on the table's GPU placement.")
        }
        return context(description: description, sbatch: sbatch, command: command, workers: 1, retries: job.retries)
    }

    /// Where the job goes: the table's placement over the pipeline's. The refresh step of a GPU table
    /// (one CPU, no GPU) keeps only the table's account: its partition, qos, constraint and extra options
    /// choose GPU nodes, which the refresh step must not wait for or hold.
    private func placementLines(gpuJob: Bool) -> [String] {
        var lines: [String] = []
        var placement = self.placement
        if !gpuJob && job.resources.gpus > 0 {
            placement = SlurmOptions.Placement(account: options.tablePlacement[job.table]?.account).over(options.placement)
        }
        if let partition = placement.partition { lines.append("--partition=\(partition)") }
        if let account = placement.account { lines.append("--account=\(account)") }
        if let qos = placement.qos { lines.append("--qos=\(qos)") }
        if let constraint = placement.constraint, gpuJob { lines.append("--constraint=\(constraint)") }
        return lines + placement.extra
    }

    private func commonLines() -> [String] {
        var lines: [String] = []
        if options.requeue { lines.append("--requeue") }
        if options.signalSeconds > 0 { lines.append("--signal=B:TERM@\(options.signalSeconds)") }
        return lines
    }

    /// Marks the one word part the script fills in at run time (`"$root"`); user strings cannot contain NUL.
    private static let rootMarker = "\u{0}root"

    /// The runner invocation as bash array elements (each already quoted), before per-run arguments.
    private func runnerCommand(step: RunnerStep, gpus: Int) -> String {
        (gpus > 0 ? shared.gpuInterpreter : shared.interpreter) + " " + ShellQuoting.join(job.runnerArguments(for: step))
    }

    /// `[apptainer exec … IMAGE] PYTHON "$root"/djflow_populate.py` as bash words (each already quoted): how
    /// jobs start the runner, and how `submit.sh --skip-done` asks it for the tables' progress.
    static func interpreter(input: TargetInput, options: SlurmOptions, gpus: Int) -> [String] {
        var words: [String] = []
        if let apptainer = options.apptainer {
            words += ["apptainer", "exec"]
            if gpus > 0 { words.append("--nv") }
            for bind in apptainer.binds { words += ["--bind", bind] }
            words += ["--bind", rootMarker]
            words += apptainer.options
            words.append(apptainer.image)
        }
        words += [input.plan.runtime.python, rootMarker + "/" + SlurmTarget.runnerFile]
        return words.map { word in
            guard word.hasPrefix(rootMarker) else { return ShellQuoting.quote(word) }
            let rest = String(word.dropFirst(rootMarker.count))
            return "\"$root\"" + (rest.isEmpty ? "" : ShellQuoting.quote(rest))
        }
    }

    private func context(description: [String], sbatch: [String], command: String, workers: Int, retries: Int) -> SlurmJobContext {
        SlurmJobContext(
            description: description.asLines, sbatch: sbatch.asLines, setup: shared.setup, hasSetup: !shared.setup.isEmpty,
            environment: shared.environment, command: command,
            workers: workers, retries: retries, retried: retries > 0, retryDelay: options.retryDelaySeconds,
            autoWorkers: false, scaleCap: nil, doneMarker: nil)
    }
}

/// How many array submissions a table needs: SLURM rejects indices at or above MaxArraySize.
enum SlurmArrays {
    struct Chunk: Equatable {
        /// `0-999%K`.
        var range: String
        /// The worker number of index 0 in this chunk.
        var offset: Int
    }

    static func chunks(workers: Int, throttle: Int?, maxArraySize: Int) -> [Chunk] {
        var chunks: [Chunk] = []
        var offset = 0
        while offset < workers {
            let size = min(maxArraySize, workers - offset)
            let range = size == 1 ? "0" : "0-\(size - 1)"
            chunks.append(Chunk(range: range + (throttle.map { $0 < size ? "%\($0)" : "" } ?? ""), offset: offset))
            offset += size
        }
        return chunks
    }
}

/// The environment block of job scripts: connection settings by value, secrets by reference.
enum SlurmEnvironment {
    static func lines(input: TargetInput, options: SlurmOptions) -> [String] {
        let database = input.plan.runtime.database
        var lines: [String] = []
        if let host = database.host { lines.append("export DJ_HOST=\(ShellQuoting.quote(host))") }
        lines.append("export DJ_BACKEND=\(ShellQuoting.quote(database.backend))")
        for (target, source) in [("DJ_USER", database.userEnv), ("DJ_PASS", database.passwordEnv)] {
            // `source` is a validated variable name, safe inside ${...}.
            let message = ShellQuoting.quote("djflow: \(source) is not set: export it where you run submit.sh (the job inherits it)")
            lines.append("if [[ -z ${\(source)+set} ]]; then echo \(message) >&2; exit \(RunnerExit.usage.rawValue); fi")
            if target != source { lines.append("export \(target)=\"${\(source)}\"") }
        }
        for variable in input.plan.runtime.environment {
            lines.append("export \(variable.name)=\(ShellQuoting.quote(variable.value))")
        }
        for (name, value) in options.environment {
            lines.append("export \(name)=\(ShellQuoting.quote(value))")
        }
        return lines
    }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension SlurmJobContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 14)
        tree.add("description", description)
        tree.add("sbatch", sbatch)
        tree.add("setup", setup)
        tree.add("hasSetup", hasSetup)
        tree.add("environment", environment)
        tree.add("command", command)
        tree.add("workers", workers)
        tree.add("retries", retries)
        tree.add("retried", retried)
        tree.add("retryDelay", retryDelay)
        tree.add("autoWorkers", autoWorkers)
        tree.add("scaleCap", scaleCap)
        tree.add("doneMarker", doneMarker)
        tree.add("exit", exit)
        return .object(tree)
    }
}
