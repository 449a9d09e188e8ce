// What every target reads the same way from `targets.<name>`: each table's own options mapping, and `env`.

import DJFlowCore
import DJFlowSpec

extension SpecReader {
    /// Every table's `targets.<target>` mapping, its keys checked against `allowed` (unknown keys are located
    /// errors with a suggestion), with the table's name as the plan names it.
    mutating func tableTargetOptions(_ spec: PipelineSpec, target: String, allowed: [String]) -> [(table: String, node: SpecNode, pairs: [(key: Located<String>, value: SpecNode)])] {
        spec.tables.compactMap { table in
            guard let node = table.targetOptions[target] else { return nil }
            let pairs = mapping(node, allowed: allowed, context: "'targets.\(target)' of table '\(table.name)'") ?? []
            return (table.name.description, node, pairs)
        }
    }

    /// `targets.<target>.env`: names that are valid and not set by djflow itself (`reserved` says why one is),
    /// values as written unless `valueProblem` says the target cannot write them (`place`: where, for the
    /// message). Every problem is a located error.
    mutating func targetEnvironment(
        _ node: SpecNode, target: String,
        reserved: ((String) -> String?)? = nil,
        valueProblem: (String) -> String? = { _ in nil }, writtenIn place: String = "there"
    ) -> [(String, String)] {
        let reserved = reserved ?? { ValueChecks.reservedMessage($0, in: "'targets.\(target).env'") }
        var environment: [(String, String)] = []
        for pair in stringMap(node, context: "'targets.\(target).env'") ?? [] {
            if !SpecLoader.isEnvironmentName(pair.key.value) {
                diagnostics.error("'\(pair.key.value)' is not a valid environment variable name", at: pair.key.location)
            } else if let message = reserved(pair.key.value) {
                diagnostics.error(message, at: pair.key.location)
            } else if let problem = valueProblem(pair.value.value) {
                diagnostics.error("the value of '\(pair.key.value)' cannot be written \(place): \(problem)", at: pair.value.location)
            } else {
                environment.append((pair.key.value, pair.value.value))
            }
        }
        return environment
    }
}
