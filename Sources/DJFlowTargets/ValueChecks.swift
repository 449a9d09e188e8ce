// Checks of spec values that every target writes (interpreter, image, environment).

import DJFlowCore
import DJFlowSpec

/// Checks of spec values every target writes (the runner's interpreter and image, the plain environment):
/// each target runs them, and identical diagnostics are reported once.
enum ValueChecks {
    /// The connection, set from `database:` in every job.
    static let connectionEnvironment: Set<String> = ["DJ_HOST", "DJ_USER", "DJ_PASS", "DJ_BACKEND"]

    /// The variables djflow's scripts set or read in jobs (job id, restriction, retries, workers, the
    /// credential mapping of HTCondor nodes, the runner path of Airflow tasks, the SLURM retry delay, and
    /// pipelining: the tables a partial submission followed, `workers: auto`'s scaler and done marker).
    static let djflowEnvironment: Set<String> = [
        "DJFLOW_JOB_ID", "DJFLOW_RESTRICTION", "DJFLOW_RETRY_FAILED", "DJFLOW_RETRY_DELAY", "DJFLOW_TRY_NUMBER",
        "DJFLOW_WORKER", "DJFLOW_INDEX_FAILURES", "DJFLOW_RUNNER", "DJFLOW_USER_ENV", "DJFLOW_PASSWORD_ENV",
        "DJFLOW_PASSWORD_FILE", "DJFLOW_FOLLOW_TABLES", "DJFLOW_SCALE", "DJFLOW_SCALE_CAP", "DJFLOW_DONE_MARKER",
    ]

    static func isReserved(_ name: String) -> Bool {
        connectionEnvironment.contains(name) || djflowEnvironment.contains(name)
    }

    /// The error for an environment entry that would override what djflow sets (nil when it does not).
    static func reservedMessage(_ name: String, in context: String) -> String? {
        guard isReserved(name) else { return nil }
        let instead = name == "DJFLOW_RETRY_DELAY"
            ? "use 'retry_delay:' under 'targets.slurm' (DJFLOW_RETRY_DELAY is read from where submit.sh runs)"
            : name.hasPrefix("DJFLOW_")
            ? "djflow sets \(name) itself (job id, restriction, retries, workers, credentials)"
            : "set the database in 'database:' (host, backend) and the credentials by name in 'database.secret'"
        return "'\(name)' in \(context) would override what djflow sets in every job: \(instead)"
    }

    static func check(_ spec: PipelineSpec, diagnostics: inout Diagnostics) {
        let python = spec.runner.python
        if python.value.isEmpty {
            diagnostics.error("'runner.python' must name the interpreter on the workers (like 'python3' or '/opt/conda/bin/python')", at: python.location)
        } else if let problem = PathLimits.problem(python.value) {
            diagnostics.error("'runner.python' is too long: \(problem)", at: python.location)
        }
        if let image = spec.runner.image, let problem = PathLimits.problem(image.value) {
            diagnostics.error("'runner.image' is too long: \(problem)", at: image.location)
        }
        for pair in spec.runner.environment {
            if let message = reservedMessage(pair.key.value, in: "'runner.env'") { diagnostics.error(message, at: pair.key.location) }
        }
    }
}
