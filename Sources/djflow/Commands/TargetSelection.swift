// `--target`: which targets a command compiles or validates.

import ArgumentParser
import DJFlowTargets

/// `--target slurm` or `--target all`, repeatable.
struct TargetSelection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The scheduler to compile for: \(TargetKind.allCases.map(\.rawValue).joined(separator: ", ")) or all (default: those under 'targets:' in the pipeline). Repeatable.",
                                            valueName: "target"),
            completion: .list(TargetKind.allCases.map(\.rawValue) + ["all"]))
    var target: [String] = []

    /// The targets named with --target, or nil when none is (the pipeline's configured targets apply).
    func chosen() throws -> [TargetKind]? {
        target.isEmpty ? nil : try kinds()
    }

    func kinds() throws -> [TargetKind] {
        var kinds = Set<TargetKind>()
        for name in target.flatMap({ $0.split(separator: ",").map(String.init) }) {
            if name == "all" { kinds.formUnion(TargetKind.allCases); continue }
            guard let kind = TargetKind(rawValue: name) else {
                throw ValidationError("unknown target '\(name)'; choose from: \(TargetKind.allCases.map(\.rawValue).joined(separator: ", ")), all")
            }
            kinds.insert(kind)
        }
        return kinds.sorted()
    }
}
