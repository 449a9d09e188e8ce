// Resolves table references (`Subject`, `subject.Subject`, `Master.Part`) the way DataJoint code names them.

import DJFlowCore
import DJFlowSpec

/// The pipeline's tables numbered `0..<count` (in the order given, parts listed under their master merged
/// with their `Master.Part` keys), and reference lookup the way DataJoint code names tables.
struct TableIndex {
    /// The table of each number.
    private(set) var specs: [TableSpec] = []
    /// The name of each number.
    private(set) var names: [TableName] = []
    private var numbers: [TableName: Int] = [:]
    private var byClass: [String: [Int]] = [:]

    /// Merges parts listed under `parts:` with their `Master.Part` keys; reports real duplicates.
    init(_ tables: [TableSpec], diagnostics: inout Diagnostics) {
        specs.reserveCapacity(tables.count)
        names.reserveCapacity(tables.count)
        numbers.reserveCapacity(tables.count)
        for spec in tables {
            guard let number = numbers[spec.name] else {
                add(spec)
                continue
            }
            let existing = specs[number]
            if existing.isListedPart != spec.isListedPart {
                // The keyed entry carries the content; keep the master's listing only as its location fallback.
                var keyed = existing.isListedPart ? spec : existing
                keyed.isListedPart = false
                specs[number] = keyed
            } else {
                diagnostics.error("duplicate table '\(spec.name)'", at: spec.location,
                                  notes: ["first declared at line \(existing.location.line)"])
            }
        }
    }

    var count: Int { specs.count }

    /// The number of a table, nil when the pipeline has no table of that name.
    func number(of name: TableName) -> Int? { numbers[name] }

    /// Adds a table (one named by Python sources but defined outside the pipeline); its number.
    @discardableResult
    mutating func add(_ spec: TableSpec) -> Int {
        let number = specs.count
        specs.append(spec)
        names.append(spec.name)
        numbers[spec.name] = number
        byClass[spec.name.classPath, default: []].append(number)
        return number
    }

    /// Every number, in name order.
    func sortedNumbers() -> [Int] {
        let all = Array(names.indices)
        // Definitions usually list tables in name order already: one pass says so.
        if zip(all, all.dropFirst()).allSatisfy({ names[$0] < names[$1] }) { return all }
        return all.sorted { names[$0] < names[$1] }
    }

    enum Resolution {
        /// The table, with its number when it is one of the index's.
        case found(TableName, number: Int?)
        case unknown(suggestion: String?)
        case ambiguous([TableName])
        case invalid
    }

    /// Resolves `reference` written in the definition or `depends_on` of `owner`.
    func resolve(_ reference: String, from owner: TableName) -> Resolution {
        if reference == "master" { return owner.isPart ? .found(owner.master, number: numbers[owner.master]) : .invalid }
        guard let wanted = TableName(parsing: reference) else { return .invalid }
        let candidates = byClass[wanted.classPath] ?? []
        var matches = candidates
        if !wanted.module.isEmpty {
            // `module.X`: the module as written, or its last segment (a Python alias), or an unqualified key.
            let exact = candidates.filter { names[$0].module == wanted.module }
            if exact.count == 1 { return .found(names[exact[0]], number: exact[0]) }
            let bySuffix = candidates.filter { let module = names[$0].module; return !module.isEmpty && (module.hasSuffix("." + wanted.module) || wanted.module.hasSuffix("." + module)) }
            let bare = candidates.filter { names[$0].module.isEmpty }
            matches = !exact.isEmpty ? exact : !bySuffix.isEmpty ? bySuffix : bare
        } else if candidates.count > 1 {
            let sameModule = candidates.filter { names[$0].module == owner.module }
            if !sameModule.isEmpty { matches = sameModule }
        }
        switch matches.count {
        case 1: return .found(names[matches[0]], number: matches[0])
        case 0:
            return .unknown(suggestion: Suggestions.closest(to: reference, in: names.map(\.description)))
        default: return .ambiguous(matches.map { names[$0] }.sorted())
        }
    }
}
