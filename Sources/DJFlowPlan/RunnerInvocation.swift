// The runner contract of a job, scheduler-neutral: which steps it has and the runner arguments of each.
// Every target runs exactly these arguments (after its interpreter and the runner file, before the
// per-run ones: --worker, --restriction, --clear-errors); targets only lay them out and quote them.

/// One scheduler step of a job.
public enum RunnerStep: String, Codable, Sendable {
    /// `--refresh-only`: fills the table's DataJoint job queue once before a table-ordered worker array.
    case refresh
    /// The workers that populate.
    case populate
}

/// One step of a job with the runner arguments it runs: what `djflow plan --format json` shows as
/// `runnerSteps`, and what every target lays out.
public struct JobStep: Codable, Sendable, Equatable {
    public var step: RunnerStep
    public var arguments: [String]
}

extension Job {
    /// The runner keeps populating as keys arrive (`--follow`): pipelined, or sized from the work.
    public var followsKeys: Bool { !follows.isEmpty || autoWorkers }

    /// A separate refresh step runs before the workers: several workers in table-level order. Following
    /// workers refresh the queue themselves as keys arrive.
    public var hasRefreshStep: Bool { workers > 1 && !followsKeys }

    /// The job's steps in the order they run.
    public var steps: [RunnerStep] { hasRefreshStep ? [.refresh, .populate] : [.populate] }

    /// Every step with its runner arguments (the plan's `runnerSteps`).
    public var invocations: [JobStep] { steps.map { JobStep(step: $0, arguments: runnerArguments(for: $0)) } }

    /// The runner arguments of a step.
    public func runnerArguments(for step: RunnerStep) -> [String] {
        // Appended into one array sized up front: a following job's `--upstream` list can run to
        // thousands of words, and the plan builds these for every job.
        var words: [String] = []
        words.reserveCapacity(2 * modules.count + 12 + 2 * upstreamTables.count + 2 * (pool?.members.count ?? 0))
        for module in modules { words.append("--module"); words.append(module) }
        if let pool {  // one populate step: the members and their options
            words.append("--pool"); words.append(String(pool.slots))
            for member in pool.members { words.append("--member"); words.append(member.runnerMember) }
            return words
        }
        words.append("--table"); words.append(runnerTable)
        if let priority { words.append("--priority"); words.append(String(priority)) }
        guard step == .populate else { words.append("--refresh-only"); return words }
        if let maxCalls { words.append("--max-calls"); words.append(String(maxCalls)) }
        if let processes { words.append("--processes"); words.append(String(processes)) }
        if onError == .continue { words.append("--suppress-errors") }
        if hasRefreshStep { words.append("--no-refresh") }
        if followsKeys {
            words.append("--follow")
            for table in upstreamTables { words.append("--upstream"); words.append(table) }
            if autoWorkers { words.append("--auto-workers") }
        }
        return words
    }
}

/// The runner's exit codes: the one definition every target uses (retry rules, DAG aborts, pod failure
/// policies, the comments of generated files). `RunnerContractTests` checks it against the `EXIT_*`
/// constants of `Templates/runner/djflow_populate.py`.
public enum RunnerExit: Int, CaseIterable, Sendable {
    /// Every key in scope is done.
    case ok = 0
    /// Keys within the scope are in `error` status (failed in this run or an earlier one): retried with `--clear-errors`.
    case errors = 1
    /// Usage or import error, missing credentials: never retried.
    case usage = 2
    /// The database was unreachable: retried.
    case transient = 75
    /// SIGINT.
    case interrupted = 130
    /// SIGTERM (time limit, preemption, eviction): the running key is released for the rerun.
    case terminated = 143

    /// What a scheduler retries inside a job: failed keys and an unreachable database.
    public static let retried: [RunnerExit] = [.errors, .transient]
}
