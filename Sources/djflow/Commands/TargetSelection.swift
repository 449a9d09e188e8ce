import ArgumentParser
import DJFlowTargets

/// `--target slurm` or `--target all`, repeatable.
struct TargetSelection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The scheduler to compile for: \(TargetKind.allCases.map(\.rawValue).joined(separator: ", ")) or all. Repeatable.",
                                            valueName: "target"))
    var target: [String] = []

    func kinds(defaultAll: Bool) throws -> [TargetKind] {
        if target.isEmpty { return defaultAll ? TargetKind.allCases : [] }
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
