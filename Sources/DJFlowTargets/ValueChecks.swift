import DJFlowCore
import DJFlowSpec

/// Checks of spec values every target writes (the runner's interpreter and image, the plain environment):
/// each target runs them, and identical diagnostics are reported once.
enum ValueChecks {
    /// Variables djflow sets in every job: the connection (from `database:`), and its own `DJFLOW_*`.
    static let reservedEnvironment: Set<String> = ["DJ_HOST", "DJ_USER", "DJ_PASS", "DJ_BACKEND"]

    static func isReserved(_ name: String) -> Bool {
        reservedEnvironment.contains(name) || name.hasPrefix("DJFLOW_")
    }

    /// The error for an environment entry that would override what djflow sets (nil when it does not).
    static func reservedMessage(_ name: String, in context: String) -> String? {
        guard isReserved(name) else { return nil }
        let instead = name.hasPrefix("DJFLOW_")
            ? "DJFLOW_* variables are djflow's own (job id, restriction, retries)"
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
