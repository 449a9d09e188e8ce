// The runner's exit codes as templates print them: one shared context value, built from `RunnerExit`.

import DJFlowPlan

/// `{{exit.transient}}` and the like: the numbers of `RunnerExit`, for retry conditions and comments.
struct ExitCodes: Codable, Sendable, Equatable {
    var ok: Int
    var errors: Int
    var usage: Int
    var transient: Int
    var terminated: Int

    static let runner = ExitCodes(ok: RunnerExit.ok.rawValue, errors: RunnerExit.errors.rawValue, usage: RunnerExit.usage.rawValue,
                                  transient: RunnerExit.transient.rawValue, terminated: RunnerExit.terminated.rawValue)
}
