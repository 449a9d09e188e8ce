// SLURM: the context of a submit script (one workflow's sbatch calls, or all of them).

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// The context of `slurm/submit.sh`: the sbatch calls of one workflow (`<workflow>/submit.sh`) or of all
/// (`submit_all.sh`), in topological order. Every value is already quoted for bash.
struct SlurmSubmitContext: TemplateContext {
    static let template = "slurm/submit.sh"
    /// One sbatch call: `key job label script upstream first [--array=RANGE OFFSET]...`, as quoted words.
    struct Submission: Codable, Sendable {
        var arguments: String
    }

    /// What the script submits, as comment lines.
    var description: [Line]
    /// The script's path in the output folder, for its usage text.
    var scriptName: String
    /// The way from the script's folder up to `slurm/` (`/..`, or empty for `submit_all.sh`).
    var rootFromScript: String
    /// `targets.slurm.log_dir`, quoted; and as plain text for messages.
    var logDir: String
    var logDirText: String
    /// Pass `--kill-on-invalid-dep=yes` to sbatch.
    var killOnInvalidDependency: Bool
    var submissions: [Submission]
    /// Per job: `id table 'upstream ids' runner-table`, quoted words (what --from/--only/--skip-done read).
    var jobs: [Line]
    /// The tables submitted, for messages.
    var tableNames: String
    /// The runner invocation that prints the tables' progress (`--describe-tables`), quoted words.
    var describeCommand: String
    var setup: [Line]
    var hasSetup: Bool
    var environment: [Line]
    /// The runner's exit codes.
    var exit = ExitCodes.runner
}

/// Builds the context of a submit script.
struct SlurmSubmitBuilder {
    let plan: ExecutionPlan
    let workflows: [Workflow]
    let options: SlurmOptions
    let names: SlurmNames
    let input: TargetInput
    /// `submit_all.sh` (every workflow, cross-workflow dependencies kept) rather than one workflow's script.
    let all: Bool

    func context() -> SlurmSubmitContext {
        let single = all ? nil : workflows.first
        let inScript = Set(workflows.flatMap(\.jobs))
        let jobs = workflows.flatMap { plan.jobs(of: $0) }
        var upstreamOf: [String: [String]] = [:]
        var submissions: [SlurmSubmitContext.Submission] = []
        for job in jobs {
            let upstream = (single == nil ? job.upstream : job.needs).filter(inScript.contains)
            upstreamOf[job.id] = upstream
            // A followed job only has to have started (`after:`); `start:` marks it for submit.sh.
            let dependencies = upstream.map { job.follows.contains($0) ? "start:\($0)" : $0 }
            let script = "\(job.workflow)/\(job.id)"
            var arrayUpstream = dependencies
            if job.hasRefreshStep {
                submissions.append(submission(key: "\(job.id).refresh", job: job.id, label: "\(job.table) (refresh)", script: "\(script).refresh.sbatch",
                                              upstream: dependencies, first: true, chunks: []))
                arrayUpstream = ["\(job.id).refresh"]
            }
            let chunks = SlurmArrays.chunks(workers: job.workers, throttle: SlurmJobBuilder.initialThrottle(job), maxArraySize: options.maxArraySize)
            submissions.append(submission(key: job.id, job: job.id, label: job.table, script: "\(script).sbatch", upstream: arrayUpstream,
                                          first: !job.hasRefreshStep, chunks: chunks))
        }
        // Per job: its id, its table name, the jobs it depends on in this script (submit.sh follows them down
        // from the --from tables, in this topological order), and the table as the runner resolves it.
        // A pool job has a line per member table (its id is the pool's): --only and --from take the table's
        // name or the pool's id, and --skip-done adds up the members' keys left.
        let table = jobs.flatMap { job in
            job.tableEntries.map { entry in
                [job.id, entry.table, upstreamOf[job.id]!.joinedInOnePass(separator: " "), entry.runnerTable].map(ShellQuoting.quote).joined(separator: " ")
            }
        }
        let tableNames = jobs.map { $0.table == $0.id ? $0.id : "\($0.table) (\($0.id))" }.joined(separator: ", ")
        var description: [String]
        if let workflow = single {
            description = ["Submits workflow \(workflow.id) of pipeline \(plan.pipeline): \(workflow.jobs.joined(separator: ", "))."]
            if workflow.gates.isEmpty {
                description.append("Enter the staged data first: \(workflow.waitsOn.joined(separator: ", ")).")
            } else {
                description.append("Runs after people enter data into: \(workflow.gates.joined(separator: ", ")) (the gate), so submit it once that is done.")
            }
        } else {
            description = ["Submits every workflow of pipeline \(plan.pipeline) at once, in order: \(workflows.map(\.id).joined(separator: ", ")).",
                           "Later workflows wait on gates (tables people fill); submit them all only when that data is already entered."]
        }
        let logDir = ShellQuoting.quote(options.logDir)
        return SlurmSubmitContext(
            description: description.asLines,
            scriptName: single == nil ? "submit_all.sh" : "\(single!.id)/submit.sh",
            rootFromScript: single == nil ? "" : "/..",
            logDir: logDir, logDirText: options.logDir,
            killOnInvalidDependency: options.killOnInvalidDependency,
            submissions: submissions, jobs: table.asLines, tableNames: tableNames,
            describeCommand: (SlurmJobBuilder.interpreter(input: input, options: options, gpus: 0) + ["--describe-tables"]
                + (jobs.first?.modules ?? []).flatMap { ["--module", ShellQuoting.quote($0)] }).joined(separator: " "),
            setup: options.setup.asLines, hasSetup: !options.setup.isEmpty,
            environment: SlurmEnvironment.lines(input: input, options: options).asLines)
    }

    private func submission(key: String, job: String, label: String, script: String, upstream: [String], first: Bool,
                            chunks: [SlurmArrays.Chunk]) -> SlurmSubmitContext.Submission {
        var words = [key, job, label, script, upstream.joinedInOnePass(separator: " "), first ? "first" : ""].map(ShellQuoting.quote)
        if upstream.isEmpty { words[4] = "''" }
        if !first { words[5] = "''" }
        for chunk in chunks { words += [ShellQuoting.quote("--array=\(chunk.range)"), String(chunk.offset)] }
        return SlurmSubmitContext.Submission(arguments: words.joinedInOnePass(separator: " "))
    }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension SlurmSubmitContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 14)
        tree.add("description", description)
        tree.add("scriptName", scriptName)
        tree.add("rootFromScript", rootFromScript)
        tree.add("logDir", logDir)
        tree.add("logDirText", logDirText)
        tree.add("killOnInvalidDependency", killOnInvalidDependency)
        tree.add("submissions", submissions)
        tree.add("jobs", jobs)
        tree.add("tableNames", tableNames)
        tree.add("describeCommand", describeCommand)
        tree.add("setup", setup)
        tree.add("hasSetup", hasSetup)
        tree.add("environment", environment)
        tree.add("exit", exit)
        return .object(tree)
    }
}

extension SlurmSubmitContext.Submission: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 1)
        tree.add("arguments", arguments)
        return .object(tree)
    }
}
