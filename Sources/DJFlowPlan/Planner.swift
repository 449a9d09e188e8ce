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
        let order = graph.order
        let isJob: (TableName) -> Bool = { graph.tables[$0]!.tier.isAutoPopulated && !graph.unpopulatable.contains($0) }

        // Gates and levels, in topological order.
        var hasJobAbove: [TableName: Bool] = [:]
        var level: [TableName: Int] = [:]
        for name in order {
            let parents = graph.parents[name] ?? []
            hasJobAbove[name] = parents.contains { isJob($0) || hasJobAbove[$0]! }
            level[name] = parents.map { level[$0]! + (isGate($0) ? 1 : 0) }.max() ?? 0
        }
        func isGate(_ name: TableName) -> Bool { !isJob(name) && hasJobAbove[name] == true }

        // Nearest jobs and staged tables upstream of each job, looking through staged tables only.
        var directJobParents: [TableName: [TableName]] = [:]
        var staged: [TableName: [TableName]] = [:]
        for name in order where isJob(name) {
            var jobs = Set<TableName>(), stagedSeen = Set<TableName>()
            var stack = graph.parents[name] ?? []
            while let parent = stack.popLast() {
                if isJob(parent) { jobs.insert(parent); continue }
                if stagedSeen.insert(parent).inserted { stack.append(contentsOf: graph.parents[parent] ?? []) }
            }
            directJobParents[name] = jobs.sorted()
            staged[name] = stagedSeen.sorted()
        }

        let jobNames = order.filter(isJob)
        let (reduced, jobAncestors) = transitiveReduction(jobNames, parents: directJobParents)
        let ids = jobIDs(jobNames)

        // Workflows: union jobs of one level linked by an edge or by a shared staged input.
        var groups = UnionFind(jobNames)
        var byStaged: [String: TableName] = [:]
        for name in jobNames {
            for parent in directJobParents[name]! where level[parent] == level[name] { groups.union(parent, name) }
            for input in staged[name]! {
                let key = "\(input)#\(level[name]!)"
                if let other = byStaged[key] { groups.union(other, name) } else { byStaged[key] = name }
            }
        }
        var members: [TableName: [TableName]] = [:]
        for name in jobNames { members[groups.find(name), default: []].append(name) }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let components = members.values.sorted { a, b in
            (level[a[0]]!, position[a[0]]!) < (level[b[0]]!, position[b[0]]!)
        }

        var workflowOf: [TableName: String] = [:]
        var workflowIDs = Set<String>()
        var workflowSkeletons: [(id: String, level: Int, jobs: [TableName])] = []
        for component in components {
            let k = level[component[0]]!
            let gates = Set(component.flatMap { staged[$0]! }.filter(isGate)).sorted()
            var slug = k > 0 && !gates.isEmpty ? gates[0].description.jobSlug : ids[component[0]]!
            if workflowIDs.contains("w\(k)-\(slug)") { slug = ids[component[0]]! }
            let id = "w\(k)-\(slug)"
            workflowIDs.insert(id)
            for name in component { workflowOf[name] = id }
            workflowSkeletons.append((id, k, component))
        }

        let useEstimates = jobNames.contains { resolvedSettings(spec, graph.tables[$0]!).estimate != nil }
        let targets = jobNames.map { runnerTarget(for: graph.tables[$0]!, spec: spec) }
        let workflowIndex = Dictionary(uniqueKeysWithValues: workflowSkeletons.enumerated().map { ($1.id, $0) })
        let workflowOfJob = jobNames.map { workflowIndex[workflowOf[$0]!]! }
        var jobs: [Job] = []
        var poolWishes: [String: Pooling.Wish] = [:]
        let poolSlots = spec.defaults.poolSlots ?? spec.defaults.maxWorkers ?? Self.defaultMaxWorkers
        for (jobIndex, name) in jobNames.enumerated() {
            let table = graph.tables[name]!
            let settings = resolvedSettings(spec, table)
            let (modules, runnerTable) = targets[jobIndex]
            let nearest = reduced[name]!
            let sameWorkflow = { (parent: TableName) in workflowOf[parent] == workflowOf[name] }
            // Pipelining: the nearest upstream jobs of the workflow are followed key by key, except where the
            // key source does not vouch for their rows (a reference outside the primary key, a custom
            // key_source): those keep table-level order, even when a longer path implies them.
            let pipelined = (settings.pipelining ?? true) && table.customKeySource == nil
            let tableLevel = pipelined
                ? (graph.secondaryParents[name] ?? []).filter { isJob($0) && sameWorkflow($0) }.sorted()
                : []
            let ordered = nearest.filter(sameWorkflow) + tableLevel.filter { !nearest.contains($0) }
            var job = Job(
                id: ids[name]!, table: name.description, tier: table.tier,
                parts: (graph.parts[name] ?? []).map(\.description), modules: modules, runnerTable: runnerTable,
                workflow: workflowOf[name]!,
                needs: ordered.map { ids[$0]! },
                after: nearest.filter { workflowOf[$0] != workflowOf[name] }.map { ids[$0]! },
                waitsOn: staged[name]!.map(\.description),
                resources: JobResources(
                    cpus: settings.resources.cpus ?? 1, memoryMiB: settings.resources.memory?.mebibytes,
                    gpus: settings.resources.gpus ?? 0, timeSeconds: settings.resources.time?.seconds,
                    diskMiB: settings.resources.disk?.mebibytes),
                workers: settings.autoWorkers == true ? settings.maxWorkers ?? Self.defaultMaxWorkers : settings.workers ?? 1,
                throttle: settings.throttle, retries: settings.retries ?? 0,
                priority: settings.priority, onError: settings.onError ?? .fail, maxCalls: settings.maxCalls,
                processes: settings.processes, estimateSeconds: settings.estimate?.seconds)
            job.autoWorkers = settings.autoWorkers == true
            if pipelined { job.follows = nearest.filter { sameWorkflow($0) && !tableLevel.contains($0) }.map { ids[$0]! } }
            if job.followsKeys {  // every job above it in its workflow, in topological order
                job.upstreamTables = jobAncestors[jobIndex].indices
                    .filter { workflowOfJob[$0] == workflowOfJob[jobIndex] }.map { targets[$0].table }
            }
            job.runnerSteps = job.invocations
            poolWishes[job.id] = Pooling.Wish(wanted: settings.pool == true, slots: poolSlots)
            jobs.append(job)
        }
        let (pooled, outsidePool) = Pooling.apply(jobs: jobs, wishes: poolWishes)
        jobs = pooled

        let weight: (Job) -> Int = { useEstimates ? ($0.estimateSeconds ?? 0) : 1 }
        let unit: CriticalPath.Unit = useEstimates ? .seconds : .jobs
        var workflows: [Workflow] = []
        let jobsOfWorkflow = Dictionary(grouping: jobs, by: \.workflow)
        for (index, skeleton) in workflowSkeletons.enumerated() {
            let members = jobsOfWorkflow[skeleton.id] ?? []
            let ids = members.map(\.id)
            let waits = Set(skeleton.jobs.flatMap { staged[$0]! })
            workflows.append(Workflow(
                id: skeleton.id, index: index, level: skeleton.level, jobs: ids,
                gates: waits.filter(isGate).sorted().map(\.description),
                waitsOn: waits.sorted().map(\.description),
                criticalPath: longestPath(members, edges: \.needs, weight: weight, unit: unit),
                outsidePool: outsidePool[skeleton.id]))
        }

        let tables = order.map { name in
            PlannedTable(name: name.description, tier: graph.tables[name]!.tier,
                         role: isJob(name) ? .job : isGate(name) ? .gate : .staged,
                         parts: (graph.parts[name] ?? []).map(\.description),
                         parents: (graph.parents[name] ?? []).map(\.description), level: level[name]!)
        }
        return ExecutionPlan(pipeline: spec.name.value, source: spec.file, tables: tables, jobs: jobs,
                             workflows: workflows,
                             criticalPath: longestPath(jobs, edges: \.upstream, weight: weight, unit: unit),
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

    /// Stable, unique job ids from table names.
    static func jobIDs(_ names: [TableName]) -> [TableName: String] {
        var ids: [TableName: String] = [:]
        var used: [String: Int] = [:]
        for name in names { used[name.description.jobSlug, default: 0] += 1 }
        for name in names {
            let slug = name.description.jobSlug
            ids[name] = used[slug]! > 1 ? "\(slug)-\(StableHash.hex(name.description, length: 4))" : slug
        }
        return ids
    }

    /// Removes every edge implied by a longer path, and gives each name's ancestors (as indices into `names`).
    /// `names` must be topologically ordered.
    static func transitiveReduction(_ names: [TableName], parents: [TableName: [TableName]])
        -> (parents: [TableName: [TableName]], ancestors: [BitSet])
    {
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var ancestors = [BitSet](repeating: BitSet(count: names.count), count: names.count)
        var result: [TableName: [TableName]] = [:]
        for (i, name) in names.enumerated() {
            let direct = parents[name] ?? []
            var implied = BitSet(count: names.count)
            for parent in direct { implied.formUnion(ancestors[index[parent]!]) }
            result[name] = direct.filter { !implied.contains(index[$0]!) }
            var all = implied
            for parent in direct { all.insert(index[parent]!) }
            ancestors[i] = all
        }
        return (result, ancestors)
    }

    /// The heaviest chain through `jobs` (given in topological order) along `edges`.
    static func longestPath(_ jobs: [Job], edges: KeyPath<Job, [String]>, weight: (Job) -> Int, unit: CriticalPath.Unit) -> CriticalPath {
        var best: [String: (length: Int, previous: String?)] = [:]
        for job in jobs {
            var entry = (length: weight(job), previous: String?.none)
            for parent in job[keyPath: edges] {
                guard let upstream = best[parent] else { continue }
                if upstream.length + weight(job) > entry.length { entry = (upstream.length + weight(job), parent) }
            }
            best[job.id] = entry
        }
        guard var tail = jobs.max(by: { best[$0.id]!.length < best[$1.id]!.length || (best[$0.id]!.length == best[$1.id]!.length && $0.id > $1.id) })?.id else {
            return CriticalPath(jobs: [], length: 0, unit: unit)
        }
        let length = best[tail]!.length
        var path = [tail]
        while let previous = best[tail]?.previous { path.append(previous); tail = previous }
        return CriticalPath(jobs: path.reversed(), length: length, unit: unit)
    }
}

extension String {
    /// A job id from a table name: module segments and the snake-cased class joined by `-`
    /// (`ephys.CuratedClustering` → `ephys-curated_clustering`).
    var jobSlug: String {
        guard let name = TableName(parsing: self) else { return lowercased() }
        let module = name.module.split(separator: ".").map { $0.lowercased() }
        let classes = [name.className.snakeCased] + (name.part.map { [$0.snakeCased] } ?? [])
        return (module + classes).joined(separator: "-")
    }
}

/// A fixed-size set of small integers.
struct BitSet {
    private var words: [UInt64]
    init(count: Int) { words = [UInt64](repeating: 0, count: (count + 63) / 64) }
    mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
    func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
    mutating func formUnion(_ other: BitSet) { for i in words.indices { words[i] |= other.words[i] } }
    /// The members in increasing order.
    var indices: [Int] {
        var result: [Int] = []
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                result.append(w << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }
}

/// Disjoint sets over table names.
struct UnionFind {
    private var parent: [TableName: TableName] = [:]
    init(_ names: [TableName]) { for name in names { parent[name] = name } }
    mutating func find(_ name: TableName) -> TableName {
        var root = name
        while parent[root]! != root { root = parent[root]! }
        var node = name
        while parent[node]! != root { let next = parent[node]!; parent[node] = root; node = next }
        return root
    }
    mutating func union(_ a: TableName, _ b: TableName) {
        let ra = find(a), rb = find(b)
        if ra != rb { if ra < rb { parent[rb] = ra } else { parent[ra] = rb } }
    }
}
