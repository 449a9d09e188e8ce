// The table graph: parts folded into masters, structural checks, topological order, transitive reduction.

import DJFlowCore
import DJFlowSpec

/// The table graph with parts folded into their masters, checked for every structural problem. Tables are
/// numbered by their position in `order`; every per-table array is indexed by that position.
struct TableGraph {
    /// All masters in deterministic topological order (ties by name).
    var order: [TableName]
    /// The master at each position.
    var tables: [TableSpec]
    /// The position each master has among the masters sorted by name.
    var rank: [Int]
    /// Parts per master, sorted.
    var parts: [[TableName]]
    /// Direct upstream masters of each master (positions), sorted by name.
    var parents: [[Int]]
    /// Imported or computed tables with nothing upstream: populate() has no key source, so they get no job.
    var unpopulatable: [Bool]
    /// Per master, the parents (positions, sorted by name) it or one of its parts also references outside its
    /// own primary key: its key source does not wait for their rows, so pipelining keeps table-level order
    /// on them.
    var secondaryParents: [[Int]]

    /// Builds and checks the graph: unknown or ambiguous references, parts without masters, cycles,
    /// auto-populated tables with nothing upstream.
    /// - Returns: nil when a problem makes the graph unusable (diagnostics say why).
    static func build(_ spec: PipelineSpec, diagnostics: inout Diagnostics) -> TableGraph? {
        // The work is on table numbers (the index's, then tables named from outside after them): 10,000
        // tables would hash names millions of times otherwise.
        let errorsBefore = diagnostics.errorCount
        var index = TableIndex(spec.tables, diagnostics: &diagnostics)
        let known = index.count
        let sorted = index.sortedNumbers()
        var isMaster = [Bool](repeating: false, count: known)
        var masterOf = [Int](repeating: -1, count: known)
        var parts = [[TableName]](repeating: [], count: known)
        for number in sorted {
            let name = index.names[number], table = index.specs[number]
            if name.isPart {
                if name.part == name.className {
                    diagnostics.error("part '\(name.part!)' of '\(name.master)' has its master's name: give the part a name of its own",
                                      at: table.location,
                                      notes: ["inside the master's class, '\(name.className)' would then mean the part"])
                }
                if let master = index.number(of: name.master) {
                    parts[master].append(name)
                    masterOf[number] = master
                } else {
                    diagnostics.error("part table '\(name)' has no master: declare '\(name.master)' or list '\(name.part!)' under its master's 'parts'",
                                      at: table.location)
                }
            } else {
                if table.tier == .part {
                    diagnostics.error("part table '\(name)' has no master: name it 'Master.\(name.className)' or list it under its master's 'parts'",
                                      at: table.location)
                }
                isMaster[number] = true
                masterOf[number] = number
            }
        }

        // Edges between numbers, each with the location of the first reference that made it (for cycle
        // reports). Tables outside the pipeline that the Python sources name (supplied at run time, or
        // imported from modules that are not sources) become staged tables numbered after the known ones.
        var outside: [TableName: Int] = [:]
        var outsideSpecs: [TableSpec] = []
        func masterNumber(of target: TableName) -> Int? {
            index.number(of: target.master) ?? outside[target.master]
        }
        var parentEdges = [[(parent: Int, location: SourceLocation)]](repeating: [], count: known)
        var unresolved = [Bool](repeating: false, count: known)
        // Masters with a table upstream through their own primary key (what populate() takes keys from).
        var keyed = [Bool](repeating: false, count: known)
        var secondary = [[Int]](repeating: [], count: known)
        // Resolving a reference reads only the index: all of them are resolved on all cores first.
        let lookup = index
        let resolved = concurrentIndices(sorted.count, grain: 256) { k -> [(reference: Located<String>, isPrimary: Bool, resolution: TableIndex.Resolution)] in
            let table = lookup.specs[sorted[k]], name = lookup.names[sorted[k]]
            let written = table.dependsOn.map { ($0, true) } + (table.definition?.references ?? []).map { ($0.name, $0.isPrimary) }
            return written.map { ($0.0, $0.1, lookup.resolve($0.0.value, from: name)) }
        }
        for (k, number) in sorted.enumerated() {
            let table = index.specs[number], name = index.names[number]
            let owner = masterOf[number] >= 0 ? masterOf[number] : nil
            for (reference, isPrimary, found) in resolved[k] {
                var resolution = found
                if case .unknown = resolution, table.externalReferences.contains(reference.value),
                   let external = TableName(parsing: reference.value) {
                    if index.number(of: external.master) == nil && outside[external.master] == nil {
                        outside[external.master] = known + outsideSpecs.count
                        outsideSpecs.append(TableSpec(name: external.master, location: reference.location, tier: .manual))
                    }
                    resolution = .found(external, number: nil)
                }
                switch resolution {
                case .found(let target, let number):
                    // The master a reference lands on: none for a part whose master is missing (reported).
                    guard let owner else { continue }
                    let parent = number.flatMap { masterOf[$0] >= 0 ? masterOf[$0] : nil } ?? masterNumber(of: target)
                    if parent == owner && !name.isPart && target.isPart {
                        unresolved[owner] = true
                        diagnostics.error("'\(name)' depends on its own part '\(target)': the part is filled by \(name)'s own job (its make() inserts the part's rows), so it cannot come first",
                                          at: reference.location,
                                          notes: ["a dependency cycle: remove the reference, or make '\(target.part!)' a table of its own"])
                        continue
                    }
                    if parent == owner && (name.isPart || target.isPart) { continue } // a part and its master, or two parts of one master
                    if isPrimary && !name.isPart { keyed[owner] = true }
                    guard let parent else { continue }
                    if !parentEdges[owner].contains(where: { $0.parent == parent }) { parentEdges[owner].append((parent, reference.location)) }
                    if !(isPrimary && !name.isPart) && !secondary[owner].contains(parent) { secondary[owner].append(parent) }
                case .unknown(let suggestion):
                    if let owner { unresolved[owner] = true }
                    diagnostics.error("unknown table '\(reference.value)' in the dependencies of '\(name)'"
                                      + (suggestion.map { "; did you mean '\($0)'?" } ?? ""),
                                      at: reference.location,
                                      notes: suggestion == nil ? ["declare it under 'tables' (e.g. with 'tier: manual') if it lives outside this pipeline"] : [])
                case .ambiguous(let candidates):
                    if let owner { unresolved[owner] = true }
                    diagnostics.error("'\(reference.value)' in '\(name)' is ambiguous: it could be \(candidates.map { "'\($0)'" }.joined(separator: " or ")); qualify it with its module",
                                      at: reference.location)
                case .invalid:
                    if let owner { unresolved[owner] = true }
                    let message = reference.value == "master"
                        ? "'-> master' is only valid in a part table, and '\(name)' is not one"
                        : "'\(reference.value)' is not a table reference"
                    diagnostics.error(message, at: reference.location)
                }
            }
        }

        // The masters in name order, outside tables merged in; dense numbers from here on are their ranks.
        for spec in outsideSpecs { index.add(spec) }
        let total = index.count
        isMaster += repeatElement(true, count: outsideSpecs.count)
        parts += repeatElement([], count: outsideSpecs.count)
        parentEdges += repeatElement([], count: outsideSpecs.count)
        unresolved += repeatElement(false, count: outsideSpecs.count)
        keyed += repeatElement(false, count: outsideSpecs.count)
        secondary += repeatElement([], count: outsideSpecs.count)
        var masters = sorted.filter { isMaster[$0] }
        if !outsideSpecs.isEmpty { masters = (masters + (known..<total)).sorted { index.names[$0] < index.names[$1] } }
        var rankOf = [Int](repeating: -1, count: total)
        for (rank, number) in masters.enumerated() { rankOf[number] = rank }
        // Parents by rank (name order), only masters (a reference to a part of a missing master is reported).
        let parentRanks = masters.map { number in parentEdges[number].map { rankOf[$0.parent] }.filter { $0 >= 0 }.sorted() }

        var unpopulatable = [Bool](repeating: false, count: total)
        for number in masters {
            let table = index.specs[number]
            guard table.tier.isAutoPopulated && !keyed[number] && !unresolved[number] && !table.hasUnresolvedReferences else { continue }
            unpopulatable[number] = true
            diagnostics.warning("\(table.tier.rawValue) table '\(index.names[number])' cannot be auto-populated: nothing in its primary key comes from another table; it gets no job",
                                at: table.location,
                                notes: ["populate() needs a key source: add '->' lines (or 'depends_on') if it has upstream tables, or make it a manual table"])
        }

        guard let topological = topologicalOrder(count: masters.count, parents: parentRanks) else {
            var byName: [TableName: [TableName]] = [:]
            for (rank, number) in masters.enumerated() { byName[index.names[number]] = parentRanks[rank].map { index.names[masters[$0]] } }
            for cycle in cycles(in: masters.map { index.names[$0] }, parents: byName) {
                let first = cycle[0], next = cycle.count > 1 ? cycle[1] : cycle[0]
                let from = index.number(of: first)!, to = index.number(of: next)!
                let location = parentEdges[from].first { $0.parent == to }?.location ?? index.specs[from].location
                diagnostics.error("dependency cycle: \((cycle + [first]).map(\.description).joined(separator: " -> "))",
                                  at: location, notes: ["a table cannot depend on itself through other tables; remove one of these references"])
            }
            return nil
        }
        guard diagnostics.errorCount == errorsBefore else { return nil }
        var positionOfRank = [Int](repeating: 0, count: masters.count)
        for (position, rank) in topological.enumerated() { positionOfRank[rank] = position }
        let numbers = topological.map { masters[$0] }
        let byRank = { (number: Int) in positionOfRank[rankOf[number]] }
        return TableGraph(
            order: numbers.map { index.names[$0] },
            tables: numbers.map { index.specs[$0] },
            rank: topological,
            parts: numbers.map { parts[$0] },
            parents: topological.map { parentRanks[$0].map { positionOfRank[$0] } },
            unpopulatable: numbers.map { unpopulatable[$0] },
            secondaryParents: numbers.map { number in
                secondary[number].filter { rankOf[$0] >= 0 }.sorted { rankOf[$0] < rankOf[$1] }.map(byRank)
            })
    }

    /// Kahn's algorithm over `0..<count` (nodes numbered in name order), always taking the smallest ready
    /// node: the same order on every run, ties by name. Nil when there is a cycle.
    static func topologicalOrder(count: Int, parents: [[Int]]) -> [Int]? {
        var remaining = [Int](repeating: 0, count: count)
        var children = [[Int]](repeating: [], count: count)
        for node in 0..<count {
            remaining[node] = parents[node].count
            for parent in parents[node] { children[parent].append(node) }
        }
        var ready = MinHeap()
        for node in 0..<count where remaining[node] == 0 { ready.push(node) }
        var order: [Int] = []
        order.reserveCapacity(count)
        while let next = ready.pop() {
            order.append(next)
            for child in children[next] {
                remaining[child] -= 1
                if remaining[child] == 0 { ready.push(child) }
            }
        }
        return order.count == count ? order : nil
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
