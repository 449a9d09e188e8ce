// The table graph: parts folded into masters, structural checks, topological order, transitive reduction.

import DJFlowCore
import DJFlowSpec

/// The table graph with parts folded into their masters, checked for every structural problem.
struct TableGraph {
    /// Master tables by name.
    var tables: [TableName: TableSpec]
    /// Parts per master, sorted.
    var parts: [TableName: [TableName]]
    /// Direct upstream masters of each master, sorted.
    var parents: [TableName: [TableName]]
    /// All masters in deterministic topological order (ties by name).
    var order: [TableName]
    /// Imported or computed tables with nothing upstream: populate() has no key source, so they get no job.
    var unpopulatable: Set<TableName> = []
    /// Per master, the parents it (or one of its parts) also references outside its own primary key: its
    /// key source does not wait for their rows, so pipelining keeps table-level order on them.
    var secondaryParents: [TableName: Set<TableName>] = [:]

    /// Builds and checks the graph: unknown or ambiguous references, parts without masters, cycles,
    /// auto-populated tables with nothing upstream.
    /// - Returns: nil when a problem makes the graph unusable (diagnostics say why).
    static func build(_ spec: PipelineSpec, diagnostics: inout Diagnostics) -> TableGraph? {
        let errorsBefore = diagnostics.errorCount
        let index = TableIndex(spec.tables, diagnostics: &diagnostics)
        var masters: [TableName: TableSpec] = [:]
        var parts: [TableName: [TableName]] = [:]
        let names = index.names
        for name in names {
            guard let table = index.tables[name] else { continue }
            if name.isPart {
                if name.part == name.className {
                    diagnostics.error("part '\(name.part!)' of '\(name.master)' has its master's name: give the part a name of its own",
                                      at: table.location,
                                      notes: ["inside the master's class, '\(name.className)' would then mean the part"])
                }
                if index.tables[name.master] == nil {
                    diagnostics.error("part table '\(name)' has no master: declare '\(name.master)' or list '\(name.part!)' under its master's 'parts'",
                                      at: table.location)
                } else {
                    parts[name.master, default: []].append(name)
                }
            } else {
                if table.tier == .part {
                    diagnostics.error("part table '\(name)' has no master: name it 'Master.\(name.className)' or list it under its master's 'parts'",
                                      at: table.location)
                }
                masters[name] = table
            }
        }

        // Edges, with the location of the reference that made each (for cycle reports).
        var parentSets: [TableName: Set<TableName>] = [:]
        var unresolved = Set<TableName>()
        var edgeLocation: [TableName: [TableName: SourceLocation]] = [:]
        // Tables outside the pipeline that the Python sources name (supplied at run time, or imported from
        // modules that are not sources): staged tables, unless the pipeline declares them.
        var outside: [TableName: TableSpec] = [:]
        // Masters with a table upstream through their own primary key (what populate() takes keys from).
        var keyed = Set<TableName>()
        var secondary: [TableName: Set<TableName>] = [:]
        for name in names {
            guard let table = index.tables[name] else { continue }
            let owner = name.master
            let written = table.dependsOn.map { ($0, true) } + (table.definition?.references ?? []).map { ($0.name, $0.isPrimary) }
            for (reference, isPrimary) in written {
                var resolution = index.resolve(reference.value, from: name)
                if case .unknown = resolution, table.externalReferences.contains(reference.value),
                   let external = TableName(parsing: reference.value) {
                    if outside[external.master] == nil {
                        outside[external.master] = TableSpec(name: external.master, location: reference.location, tier: .manual)
                    }
                    resolution = .found(external)
                }
                switch resolution {
                case .found(let target):
                    let parent = target.master
                    if parent == owner && !name.isPart && target.isPart {
                        unresolved.insert(owner)
                        diagnostics.error("'\(name)' depends on its own part '\(target)': the part is filled by \(name)'s own job (its make() inserts the part's rows), so it cannot come first",
                                          at: reference.location,
                                          notes: ["a dependency cycle: remove the reference, or make '\(target.part!)' a table of its own"])
                        continue
                    }
                    if parent == owner && (name.isPart || target.isPart) { continue } // a part and its master, or two parts of one master
                    parentSets[owner, default: []].insert(parent)
                    if isPrimary && !name.isPart { keyed.insert(owner) } else { secondary[owner, default: []].insert(parent) }
                    if edgeLocation[owner]?[parent] == nil { edgeLocation[owner, default: [:]][parent] = reference.location }
                case .unknown(let suggestion):
                    unresolved.insert(owner)
                    diagnostics.error("unknown table '\(reference.value)' in the dependencies of '\(name)'"
                                      + (suggestion.map { "; did you mean '\($0)'?" } ?? ""),
                                      at: reference.location,
                                      notes: suggestion == nil ? ["declare it under 'tables' (e.g. with 'tier: manual') if it lives outside this pipeline"] : [])
                case .ambiguous(let candidates):
                    unresolved.insert(owner)
                    diagnostics.error("'\(reference.value)' in '\(name)' is ambiguous: it could be \(candidates.map { "'\($0)'" }.joined(separator: " or ")); qualify it with its module",
                                      at: reference.location)
                case .invalid:
                    unresolved.insert(owner)
                    let message = reference.value == "master"
                        ? "'-> master' is only valid in a part table, and '\(name)' is not one"
                        : "'\(reference.value)' is not a table reference"
                    diagnostics.error(message, at: reference.location)
                }
            }
        }
        for (name, table) in outside where masters[name] == nil { masters[name] = table }
        var parents: [TableName: [TableName]] = [:]
        for name in masters.keys { parents[name] = (parentSets[name] ?? []).filter { masters[$0] != nil }.sorted() }

        var unpopulatable = Set<TableName>()
        let keyless = masters.filter { name, table in
            table.tier.isAutoPopulated && !keyed.contains(name) && !unresolved.contains(name) && !table.hasUnresolvedReferences
        }
        for (name, table) in keyless.sorted(by: { $0.key < $1.key }) {
            unpopulatable.insert(name)
            diagnostics.warning("\(table.tier.rawValue) table '\(name)' cannot be auto-populated: nothing in its primary key comes from another table; it gets no job",
                                at: table.location,
                                notes: ["populate() needs a key source: add '->' lines (or 'depends_on') if it has upstream tables, or make it a manual table"])
        }

        // The masters in name order: `names` is sorted already; only tables named from outside are added.
        var masterNames = names.filter { !$0.isPart }
        let named = outside.keys.filter { index.tables[$0] == nil }
        if !named.isEmpty { masterNames = (masterNames + named).sorted() }
        assert(masterNames.count == masters.count)
        guard let order = topologicalOrder(masterNames, parents: parents) else {
            for cycle in cycles(in: masters.keys, parents: parents) {
                let first = cycle[0], next = cycle.count > 1 ? cycle[1] : cycle[0]
                let location = edgeLocation[first]?[next] ?? masters[first]!.location
                diagnostics.error("dependency cycle: \((cycle + [first]).map(\.description).joined(separator: " -> "))",
                                  at: location, notes: ["a table cannot depend on itself through other tables; remove one of these references"])
            }
            return nil
        }
        guard diagnostics.errorCount == errorsBefore else { return nil }
        return TableGraph(tables: masters, parts: parts, parents: parents, order: order, unpopulatable: unpopulatable,
                          secondaryParents: secondary)
    }

    /// Kahn's algorithm, always taking the smallest ready name: the same order on every run. Works on
    /// positions in name order, with the ready ones in a min-heap.
    static func topologicalOrder(_ nodes: some Collection<TableName>, parents: [TableName: [TableName]]) -> [TableName]? {
        var sorted = Array(nodes)
        if !zip(sorted, sorted.dropFirst()).allSatisfy({ $0 < $1 }) { sorted.sort() }
        let position = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) })
        var remaining = [Int](repeating: 0, count: sorted.count)
        var children = [[Int]](repeating: [], count: sorted.count)
        for (i, node) in sorted.enumerated() {
            let upstream = parents[node] ?? []
            remaining[i] = upstream.count
            for parent in upstream {
                guard let p = position[parent] else { return nil }  // a parent outside `nodes` never comes first
                children[p].append(i)
            }
        }
        var ready = MinHeap()
        for i in sorted.indices where remaining[i] == 0 { ready.push(i) }
        var order: [TableName] = []
        order.reserveCapacity(sorted.count)
        while let next = ready.pop() {
            order.append(sorted[next])
            for child in children[next] {
                remaining[child] -= 1
                if remaining[child] == 0 { ready.push(child) }
            }
        }
        return order.count == sorted.count ? order : nil
    }

    /// One cycle per strongly connected component that has one, each starting at its smallest name
    /// and following "depends on" edges.
    static func cycles(in nodes: some Collection<TableName>, parents: [TableName: [TableName]]) -> [[TableName]] {
        // Tarjan's algorithm, iterated in sorted order for determinism.
        var indexOf: [TableName: Int] = [:], low: [TableName: Int] = [:]
        var stack: [TableName] = [], onStack: Set<TableName> = []
        var components: [[TableName]] = []
        var counter = 0
        func visit(_ node: TableName) {
            indexOf[node] = counter; low[node] = counter; counter += 1
            stack.append(node); onStack.insert(node)
            for parent in parents[node] ?? [] {
                if indexOf[parent] == nil { visit(parent); low[node] = min(low[node]!, low[parent]!) }
                else if onStack.contains(parent) { low[node] = min(low[node]!, indexOf[parent]!) }
            }
            if low[node] == indexOf[node] {
                var component: [TableName] = []
                while let top = stack.popLast() { onStack.remove(top); component.append(top); if top == node { break } }
                components.append(component)
            }
        }
        for node in nodes.sorted() where indexOf[node] == nil { visit(node) }
        var result: [[TableName]] = []
        for component in components {
            let members = Set(component)
            let start = component.min()!
            if component.count == 1 && !(parents[start] ?? []).contains(start) { continue }
            // Walk from start back to start inside the component (breadth-first for the shortest cycle).
            var previous: [TableName: TableName] = [:]
            var queue = [start], found = false
            var head = 0
            while head < queue.count && !found {
                let node = queue[head]; head += 1
                for parent in parents[node] ?? [] where members.contains(parent) {
                    if parent == start { previous[start] = node; found = true; break }
                    if previous[parent] == nil { previous[parent] = node; queue.append(parent) }
                }
            }
            var path = [start]
            var node = previous[start]!
            while node != start { path.append(node); node = previous[node]! }
            // `path` follows child links backwards; reverse so each entry depends on the next.
            result.append([start] + path.dropFirst().reversed())
        }
        return result.sorted { $0[0] < $1[0] }
    }
}

/// A binary min-heap of integers.
struct MinHeap {
    private var items: [Int] = []

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count && items[left] < items[smallest] { smallest = left }
                if right < items.count && items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
