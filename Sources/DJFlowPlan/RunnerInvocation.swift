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

extension Job {
    /// The runner keeps populating as keys arrive (`--follow`): pipelined, or sized from the work.
    public var followsKeys: Bool { !follows.isEmpty || autoWorkers }

    /// A separate refresh step runs before the workers: several workers in table-level order. Following
    /// workers refresh the queue themselves as keys arrive.
    public var hasRefreshStep: Bool { workers > 1 && !followsKeys }

    /// The job's steps in the order they run.
    public var steps: [RunnerStep] { hasRefreshStep ? [.refresh, .populate] : [.populate] }

    /// The runner arguments of a step.
    public func runnerArguments(for step: RunnerStep) -> [String] {
        var words = runnerSelection
        if let priority { words += ["--priority", String(priority)] }
        guard step == .populate else { return words + ["--refresh-only"] }
        if let maxCalls { words += ["--max-calls", String(maxCalls)] }
        if let processes { words += ["--processes", String(processes)] }
        if onError == .continue { words.append("--suppress-errors") }
        if hasRefreshStep { words.append("--no-refresh") }
        if followsKeys {
            words.append("--follow")
            for table in upstreamTables { words += ["--upstream", table] }
            if autoWorkers { words.append("--auto-workers") }
        }
        return words
    }
}
