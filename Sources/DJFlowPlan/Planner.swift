// The planner: a checked spec becomes an ExecutionPlan.

import DJFlowCore
import DJFlowSpec

/// Turns a checked spec into an `ExecutionPlan`: jobs, gates, workflows, nearest dependencies, order.
///
/// Rules (documented in the README):
/// - Jobs are the imported and computed tables; parts are filled by their master's job.
/// - A manual or lookup table with a job upstream is a gate. A table's level is the largest number of gates
///   on any path above it; workflow k holds the jobs of level k.
/// - Within a level, jobs connected by a dependency or reading a common staged table form one workflow;
///   unrelated groups are separate workflows.
/// - Each job depends only on its nearest upstream jobs (transitive reduction); the order is topological
///   with ties broken by table name.
public enum Planner {
    /// Analyses the spec's graph and plans it.
    /// - Returns: nil when the graph has errors (appended to `diagnostics`).
    public static func plan(_ spec: PipelineSpec, diagnostics: inout Diagnostics) -> ExecutionPlan? {
        guard let graph = TableGraph.build(spec, diagnostics: &diagnostics) else { return nil }
        return plan(spec, graph: graph)
    }

    static func plan(_ spec: PipelineSpec, graph: TableGraph) -> ExecutionPlan {
        // The walk works on positions in the topological order (arrays, not maps keyed by names: 10,000
        // tables hash names millions of times otherwise). `rank` orders positions as their names sort.
        let order = graph.order
        let count = order.count
        let rank = graph.rank
        let byName: ([Int]) -> [Int] = { $0.sorted { rank[$0] < rank[$1] } }
        let parentsAt = graph.parents  // sorted by name
        let isJobAt = (0..<count).map { graph.tables[$0].tier.isAutoPopulated && !graph.unpopulatable[$0] }

        // Gates and levels, in topological order.
        var hasJobAbove = [Bool](repeating: false, count: count)
        var level = [Int](repeating: 0, count: count)
        func isGate(_ i: Int) -> Bool { !isJobAt[i] && hasJobAbove[i] }
        for i in 0..<count {
            hasJobAbove[i] = parentsAt[i].contains { isJobAt[$0] || hasJobAbove[$0] }
            level[i] = parentsAt[i].map { level[$0] + (isGate($0) ? 1 : 0) }.max() ?? 0
        }

        // Nearest jobs and staged tables upstream of each job, looking through staged tables only.
        var directJobParents = [[Int]](repeating: [], count: count)
        var staged = [[Int]](repeating: [], count: count)
        for i in 0..<count where isJobAt[i] {
            var jobs = Set<Int>(), stagedSeen = Set<Int>()
            var stack = parentsAt[i]
            while let parent = stack.popLast() {
                if isJobAt[parent] { jobs.insert(parent); continue }
                if stagedSeen.insert(parent).inserted { stack.append(contentsOf: parentsAt[parent]) }
            }
            directJobParents[i] = byName(Array(jobs))
            staged[i] = byName(Array(stagedSeen))
        }

        let jobPositions = (0..<count).filter { isJobAt[$0] }
        let jobNames = jobPositions.map { order[$0] }
        var jobIndexAt = [Int](repeating: -1, count: count)
        for (j, i) in jobPositions.enumerated() { jobIndexAt[i] = j }
        let (reduced, jobAncestors) = transitiveReduction(
            count: jobPositions.count, parents: jobPositions.map { directJobParents[$0].map { jobIndexAt[$0] } })
        let idList = jobIDs(jobNames)
        let idAt: (Int) -> String = { idList[jobIndexAt[$0]] }

        // Workflows: union jobs of one level linked by an edge or by a shared staged input.
        var groups = UnionFind(count: count)
        var byStaged: [Int: Int] = [:]  // staged position * (levels) + level → first job
        let levels = (level.max() ?? 0) + 1
        for i in jobPositions {
            for parent in directJobParents[i] where level[parent] == level[i] { groups.union(parent, i, rank: rank) }
            for input in staged[i] {
                let key = input * levels + level[i]
                if let other = byStaged[key] { groups.union(other, i, rank: rank) } else { byStaged[key] = i }
            }
        }
        var members: [Int: [Int]] = [:]
        for i in jobPositions { members[groups.find(i), default: []].append(i) }
        let components = members.values.sorted { a, b in (level[a[0]], a[0]) < (level[b[0]], b[0]) }

        var workflowAt = [Int](repeating: -1, count: count)
        var workflowIDs = Set<String>()
        var workflowSkeletons: [(id: String, level: Int, jobs: [Int])] = []
        for component in components {
            let k = level[component[0]]
            let gates = byName(Array(Set(component.flatMap { staged[$0] }.filter(isGate))))
            var slug = k > 0 && !gates.isEmpty ? order[gates[0]].jobSlug : idAt(component[0])
            if workflowIDs.contains("w\(k)-\(slug)") { slug = idAt(component[0]) }
            let id = "w\(k)-\(slug)"
            workflowIDs.insert(id)
            for i in component { workflowAt[i] = workflowSkeletons.count }
            workflowSkeletons.append((id, k, component))
        }

        let useEstimates = jobPositions.contains { resolvedSettings(spec, graph.tables[$0]).estimate != nil }
        let targets = jobPositions.map { runnerTarget(for: graph.tables[$0], spec: spec) }
        let workflowOfJob = jobPositions.map { workflowAt[$0] }
        var membersOfWorkflow = [BitSet](repeating: BitSet(count: jobNames.count), count: workflowSkeletons.count)
        for (jobIndex, workflow) in workflowOfJob.enumerated() { membersOfWorkflow[workflow].insert(jobIndex) }
        let poolSlots = spec.defaults.poolSlots ?? spec.defaults.maxWorkers ?? Self.defaultMaxWorkers
        // Each job is made from the arrays above alone, so the jobs are made on all cores (in order). The
        // concurrent closure reads constants: the arrays built above as variables are taken as `let`s here.
        let (workflowMembers, workflowOf, stagedAt, jobIndexOf) = (membersOfWorkflow, workflowAt, staged, jobIndexAt)
        let skeletonIDs = workflowSkeletons.map(\.id)
        let descriptions = order.map(\.description)
        let made = concurrentIndices(jobPositions.count, grain: 256) { jobIndex -> Job in
            let i = jobPositions[jobIndex]
            let table = graph.tables[i]
            let settings = resolvedSettings(spec, table)
            let (modules, runnerTable) = targets[jobIndex]
            let nearest = reduced[jobIndex].map { jobPositions[$0] }
            let sameWorkflow = { (parent: Int) in workflowOf[parent] == workflowOf[i] }
            let idAt = { (position: Int) in idList[jobIndexOf[position]] }
            // Pipelining: the nearest upstream jobs of the workflow are followed key by key, except where the
            // key source does not vouch for their rows (a reference outside the primary key, a custom
            // key_source): those keep table-level order, even when a longer path implies them.
            let pipelined = (settings.pipelining ?? true) && table.customKeySource == nil
            let tableLevel = pipelined
                ? graph.secondaryParents[i].filter { isJobAt[$0] && sameWorkflow($0) }
                : []
            let ordered = nearest.filter(sameWorkflow) + tableLevel.filter { !nearest.contains($0) }
            var job = Job(
                id: idList[jobIndex], table: descriptions[i], tier: table.tier,
                parts: graph.parts[i].map(\.description), modules: modules, runnerTable: runnerTable,
                workflow: skeletonIDs[workflowOf[i]],
                needs: ordered.map(idAt),
                after: nearest.filter { !sameWorkflow($0) }.map(idAt),
                waitsOn: stagedAt[i].map { descriptions[$0] },
                resources: JobResources(
                    cpus: settings.resources.cpus ?? 1, memoryMiB: settings.resources.memory?.mebibytes,
                    gpus: settings.resources.gpus ?? 0, timeSeconds: settings.resources.time?.seconds,
                    diskMiB: settings.resources.disk?.mebibytes),
                workers: settings.autoWorkers == true ? settings.maxWorkers ?? Self.defaultMaxWorkers : settings.workers ?? 1,
                throttle: settings.throttle, retries: settings.retries ?? 0,
                priority: settings.priority, onError: settings.onError ?? .fail, maxCalls: settings.maxCalls,
                processes: settings.processes, estimateSeconds: settings.estimate?.seconds)
            job.autoWorkers = settings.autoWorkers == true
            if pipelined { job.follows = nearest.filter { sameWorkflow($0) && !tableLevel.contains($0) }.map(idAt) }
            if job.followsKeys {  // every job above it in its workflow, in topological order
                job.upstreamTables = jobAncestors[jobIndex].indices(within: workflowMembers[workflowOfJob[jobIndex]])
                    .map { targets[$0].table }
            }
                return job
        }
        let wantsPool = jobPositions.map { (graph.tables[$0].settings.pool ?? spec.defaults.pool) == true }
        let (jobs, outsidePool) = Pooling.apply(jobs: made, wanted: wantsPool, slots: poolSlots)

        let unit: CriticalPath.Unit = useEstimates ? .seconds : .jobs
        let weights = jobs.map { useEstimates ? ($0.estimateSeconds ?? 0) : 1 }
        let positionsOfWorkflow = ExecutionPlan.positionsByWorkflow(jobs)
        let upstream = upstreamPositions(jobs)
        let memberLists = workflowSkeletons.map { positionsOfWorkflow[$0.id] ?? [] }
        // The critical paths of every workflow and of the whole plan are independent: all on all cores.
        let paths = concurrentIndices(memberLists.count + 1, grain: 1) { index in
            index == memberLists.count
                ? longestPath(Array(jobs.indices), of: jobs, upstream: upstream, acrossWorkflows: true, weights: weights, unit: unit)
                : longestPath(memberLists[index], of: jobs, upstream: upstream, acrossWorkflows: false, weights: weights, unit: unit)
        }
        var workflows: [Workflow] = []
        workflows.reserveCapacity(workflowSkeletons.count)
        for (index, skeleton) in workflowSkeletons.enumerated() {
            let members = memberLists[index]
            let ids = members.map { jobs[$0].id }
            let waits = byName(Array(Set(skeleton.jobs.flatMap { staged[$0] })))
            workflows.append(Workflow(
                id: skeleton.id, index: index, level: skeleton.level, jobs: ids,
                gates: waits.filter(isGate).map { descriptions[$0] },
                waitsOn: waits.map { descriptions[$0] },
                criticalPath: paths[index],
                outsidePool: outsidePool[skeleton.id], jobPositions: members))
        }

        let tables = order.indices.map { i in
            PlannedTable(name: descriptions[i], tier: graph.tables[i].tier,
                         role: isJobAt[i] ? .job : isGate(i) ? .gate : .staged,
                         parts: graph.parts[i].map(\.description),
                         parents: graph.parents[i].map { descriptions[$0] }, level: level[i])
        }
        return ExecutionPlan(pipeline: spec.name.value, source: spec.file, tables: tables, jobs: jobs,
                             workflows: workflows,
                             criticalPath: paths[memberLists.count],
                             runtime: RuntimeEnvironment(spec))
    }

    /// The cap of `workers: auto` without `max_workers`.
    public static let defaultMaxWorkers = 8

    /// The table's settings over the pipeline defaults.
    static func resolvedSettings(_ spec: PipelineSpec, _ table: TableSpec) -> TableSettings {
        table.settings.over(spec.defaults)
    }

    /// The modules the runner imports for a table, and the name it resolves after importing them.
    ///
    /// Every job imports all of `runner.module`, in order: those modules may activate schemas (DataJoint
    /// Elements), link modules or configure DataJoint, and a table class is usable only after that. The
    /// table is then named where it is defined: by its class path when the only runner module defines it,
    /// else by the full dotted path of its module (the table's `module:`, or a runner module whose last
    /// segments match the table's module qualifier). Without a known module, the class path is looked up
    /// through the runner modules' attributes.
    public static func runnerTarget(for table: TableSpec, spec: PipelineSpec) -> (modules: [String], table: String) {
        let modules = spec.runner.modules.map(\.value)
        var home = table.module?.value
        let qualifier = table.name.module
        if home == nil, !qualifier.isEmpty {
            home = modules.first(where: { $0 == qualifier || $0.hasSuffix("." + qualifier) })
        }
        guard let home else { return (modules, table.name.description) }
        if modules == [home] { return (modules, table.name.classPath) }
        return (modules.isEmpty ? [home] : modules, home + "." + table.name.classPath)
    }

    /// Stable, unique job ids from table names, in the order of `names`.
    static func jobIDs(_ names: [TableName]) -> [String] {
        var used: [String: Int] = [:]
        let slugs = concurrentIndices(names.count) { names[$0].jobSlug }
        for slug in slugs { used[slug, default: 0] += 1 }
        return zip(names, slugs).map { name, slug in
            used[slug]! > 1 ? "\(slug)-\(StableHash.hex(name.description, length: 4))" : slug
        }
    }

    /// Removes every edge implied by a longer path, and gives each node's ancestors. Nodes are `0..<count`
    /// in topological order; `parents[i]` lists the direct parents of node i (kept in their order).
    static func transitiveReduction(count: Int, parents: [[Int]]) -> (parents: [[Int]], ancestors: [BitSet]) {
        var ancestors: [BitSet] = []
        ancestors.reserveCapacity(count)
        var result = [[Int]](repeating: [], count: count)
        for i in 0..<count {
            let direct = parents[i]
            var all = BitSet(count: i)  // ancestors come earlier in the order: bits below i only
            for parent in direct { all.formUnion(ancestors[parent]) }
            result[i] = direct.filter { !all.contains($0) }
            for parent in direct { all.insert(parent) }
            ancestors.append(all)
        }
        return (result, ancestors)
    }

    /// The positions in `jobs` of each job's `needs` and of its `after`, found once (ids unknown to `jobs`
    /// are left out: they are on no chain).
    static func upstreamPositions(_ jobs: [Job]) -> (needs: [[Int]], after: [[Int]]) {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(jobs.count)
        for (position, job) in jobs.enumerated() { positions[job.id] = position }
        let positionOf = positions
        let found = concurrentIndices(jobs.count, grain: 512) { position in
            (jobs[position].needs.compactMap { positionOf[$0] }, jobs[position].after.compactMap { positionOf[$0] })
        }
        return (found.map(\.0), found.map(\.1))
    }

    /// The heaviest chain through the jobs at `positions` of `jobs` (in topological order) along `needs`
    /// (and `after`, across workflows), each job weighing `weights[position]`; of chains equally heavy, the
    /// one ending at the smallest id. `upstream` holds the positions of each job's `needs` and `after`.
    static func longestPath(_ positions: [Int], of jobs: [Job], upstream: (needs: [[Int]], after: [[Int]]),
                            acrossWorkflows: Bool, weights: [Int], unit: CriticalPath.Unit) -> CriticalPath {
        var indexOf: [Int: Int] = [:]
        indexOf.reserveCapacity(positions.count)
        for (index, position) in positions.enumerated() { indexOf[position] = index }
        var length = [Int](repeating: 0, count: positions.count)
        var previous = [Int](repeating: -1, count: positions.count)
        var tail = -1
        for (index, position) in positions.enumerated() {
            let own = weights[position]
            length[index] = own
            func follow(_ parents: [Int]) {
                for parent in parents {
                    // Only jobs met earlier count: a parent outside `positions` (or later) is not on the chain.
                    guard let upstream = indexOf[parent], upstream < index else { continue }
                    if length[upstream] + own > length[index] { length[index] = length[upstream] + own; previous[index] = upstream }
                }
            }
            follow(upstream.needs[position])
            if acrossWorkflows { follow(upstream.after[position]) }
            if tail < 0 || length[index] > length[tail] || (length[index] == length[tail] && jobs[position].id < jobs[positions[tail]].id) { tail = index }
        }
        guard tail >= 0 else { return CriticalPath(jobs: [], length: 0, unit: unit) }
        var path = [jobs[positions[tail]].id]
        var node = tail
        while previous[node] >= 0 { node = previous[node]; path.append(jobs[positions[node]].id) }
        return CriticalPath(jobs: path.reversed(), length: length[tail], unit: unit)
    }
}

extension TableName {
    /// A job id from a table name: module segments and the snake-cased classes joined by `-`
    /// (`ephys.CuratedClustering` → `ephys-curated_clustering`), as the name's text reads back. A name
    /// from Python that does not read back as a table name (a lower-case class, a capitalised module) is
    /// lower-cased whole.
    var jobSlug: String {
        guard let name = TableName(parsing: description) else { return description.lowercased() }
        var slug = name.module.isEmpty ? "" : name.module.lowercased().split(separator: ".").joined(separator: "-") + "-"
        slug += name.className.snakeCased
        if let part = name.part { slug += "-" + part.snakeCased }
        return slug
    }
}

/// A set of the integers below a fixed count. Sets of different counts combine: a union takes in a set of
/// no larger count, and an intersection (`indices(within:)`) is as long as the shorter of the two.
struct BitSet {
    private var words: [UInt64]
    init(count: Int) { words = [UInt64](repeating: 0, count: (count + 63) / 64) }
    mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
    func contains(_ i: Int) -> Bool { i >> 6 < words.count && words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
    /// Adds the members of `other`, whose count is at most this set's.
    mutating func formUnion(_ other: BitSet) {
        precondition(other.words.count <= words.count, "BitSet.formUnion: a larger set")
        for i in other.words.indices { words[i] |= other.words[i] }
    }
    /// The members in increasing order.
    var indices: [Int] { indices(within: nil) }
    /// The members that are also in `mask` (of the same count), in increasing order, without building the
    /// intersection (a job's ancestors within its workflow, 10,000 times).
    func indices(within mask: BitSet?) -> [Int] {
        var result: [Int] = []
        for (w, word) in words.enumerated() where word != 0 {
            var bits = mask.map { w < $0.words.count ? word & $0.words[w] : 0 } ?? word
            while bits != 0 {
                result.append(w << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }
}

/// Disjoint sets over `0..<count`.
struct UnionFind {
    private var parent: [Int]
    init(count: Int) { parent = Array(0..<count) }
    mutating func find(_ node: Int) -> Int {
        var root = node
        while parent[root] != root { root = parent[root] }
        var current = node
        while parent[current] != root { let next = parent[current]; parent[current] = root; current = next }
        return root
    }
    /// Joins the sets of `a` and `b`; the root is the node whose name sorts first (`rank`).
    mutating func union(_ a: Int, _ b: Int, rank: [Int]) {
        let ra = find(a), rb = find(b)
        if ra != rb { if rank[ra] < rank[rb] { parent[rb] = ra } else { parent[ra] = rb } }
    }
}
