// The runner's exit codes as templates print them: one shared context value, built from `RunnerExit`.

import DJFlowPlan
import DJFlowTemplates

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

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension ExitCodes: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 5)
        tree.add("ok", ok)
        tree.add("errors", errors)
        tree.add("usage", usage)
        tree.add("transient", transient)
        tree.add("terminated", terminated)
        return .object(tree)
    }
}
