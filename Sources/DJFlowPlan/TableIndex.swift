// Resolves table references (`Subject`, `subject.Subject`, `Master.Part`) the way DataJoint code names them.

import DJFlowCore
import DJFlowSpec

/// Looks up table references the way DataJoint code names them.
struct TableIndex {
    /// One entry per distinct table name (a part listed under its master and given as a key is one table).
    private(set) var tables: [TableName: TableSpec] = [:]
    private var byClass: [String: [TableName]] = [:]

    /// Merges parts listed under `parts:` with their `Master.Part` keys; reports real duplicates.
    init(_ specs: [TableSpec], diagnostics: inout Diagnostics) {
        for spec in specs {
            guard var existing = tables[spec.name] else {
                tables[spec.name] = spec
                byClass[spec.name.classPath, default: []].append(spec.name)
                continue
            }
            if existing.isListedPart != spec.isListedPart {
                // The keyed entry carries the content; keep the master's listing only as its location fallback.
                let keyed = existing.isListedPart ? spec : existing
                existing = keyed
                existing.isListedPart = false
                tables[spec.name] = existing
            } else {
                diagnostics.error("duplicate table '\(spec.name)'", at: spec.location,
                                  notes: ["first declared at line \(existing.location.line)"])
            }
        }
    }

    var names: [TableName] { tables.keys.sorted() }

    enum Resolution {
        case found(TableName)
        case unknown(suggestion: String?)
        case ambiguous([TableName])
        case invalid
    }

    /// Resolves `reference` written in the definition or `depends_on` of `owner`.
    func resolve(_ reference: String, from owner: TableName) -> Resolution {
        if reference == "master" { return owner.isPart ? .found(owner.master) : .invalid }
        guard let wanted = TableName(parsing: reference) else { return .invalid }
        let candidates = byClass[wanted.classPath] ?? []
        var matches = candidates
        if !wanted.module.isEmpty {
            // `module.X`: the module as written, or its last segment (a Python alias), or an unqualified key.
            let exact = candidates.filter { $0.module == wanted.module }
            let bySuffix = candidates.filter { !$0.module.isEmpty && ($0.module.hasSuffix("." + wanted.module) || wanted.module.hasSuffix("." + $0.module)) }
            let bare = candidates.filter { $0.module.isEmpty }
            matches = !exact.isEmpty ? exact : !bySuffix.isEmpty ? bySuffix : bare
        } else if candidates.count > 1 {
            let sameModule = candidates.filter { $0.module == owner.module }
            if !sameModule.isEmpty { matches = sameModule }
        }
        switch matches.count {
        case 1: return .found(matches[0])
        case 0:
            let all = tables.keys.map(\.description)
            return .unknown(suggestion: Suggestions.closest(to: reference, in: all))
        default: return .ambiguous(matches.sorted())
        }
    }
}
