// Workflow pools: the jobs of a workflow gathered into one scheduler job whose workers the runner forks.

import DJFlowCore
import DJFlowSpec

/// The tables a pool job runs and how many workers it forks.
public struct JobPool: Codable, Sendable {
    /// Workers forked after the imports (`--pool N`); the job's resources are N times a member's.
    public var slots: Int
    /// The tables, in topological order.
    public var members: [PoolMember]
}

/// One table of a pool: what its own job would have been, as the pool's workers run it.
public struct PoolMember: Codable, Sendable {
    /// The id the table's own job would have had (`submit.sh --only` and `djflow status` accept it).
    public var job: String
    /// The table's qualified name as written.
    public var table: String
    /// The table as the runner resolves it.
    public var runnerTable: String
    public var parts: [String]
    /// Upstream members whose keys it takes as they are committed (runner names).
    public var follows: [String]
    /// Upstream members it waits for in table-level order (runner names): no key is taken before they are
    /// done, and none once one of them has a key in error (unless that member has `on_error: continue`).
    public var after: [String]
    public var priority: Int?
    public var maxCalls: Int?
    public var onError: ErrorPolicy
    /// Its nearest upstream jobs as planned without the pool (job ids; for pictures and status).
    public var upstream: [String]

    /// The runner's `--member` text: `TABLE[;follow=…][;after=…][;max-calls=N][;priority=P][;suppress-errors]`.
    public var runnerMember: String {
        var fields = [runnerTable]
        if !follows.isEmpty { fields.append("follow=" + follows.joined(separator: ",")) }
        if !after.isEmpty { fields.append("after=" + after.joined(separator: ",")) }
        if let maxCalls { fields.append("max-calls=\(maxCalls)") }
        if let priority { fields.append("priority=\(priority)") }
        if onError == .continue { fields.append("suppress-errors") }
        return fields.joined(separator: ";")
    }
}

/// Why a table that asks for the pool runs in a job of its own.
public struct PoolExclusion: Codable, Sendable, Equatable {
    public var table: String
    public var reason: String
}

/// Gathers each workflow's pooled jobs into one pool job (`defaults: {pool: …}`).
///
/// Rules (documented in the README): a job joins its workflow's pool when its settings ask for it, it needs
/// no GPU (a GPU would be held by every slot while it waits), it runs no `processes` pool of its own, and
/// every upstream job of its workflow is in the pool too. Its downstream jobs outside the pool then depend on
/// the pool job: started with it where they follow the member key by key, after it where they keep
/// table-level order. So a pool never waits for a job of its own workflow.
enum Pooling {
    /// - Parameters:
    ///   - wanted: per job (same order), whether its settings ask for the pool.
    ///   - slots: the worker slots of each pool.
    static func apply(jobs: [Job], wanted: [Bool], slots: Int) -> (jobs: [Job], exclusions: [String: [PoolExclusion]]) {
        // Without a wish there is nothing to do, and the jobs are not copied (each is a large struct).
        guard wanted.contains(true) else { return (jobs, [:]) }
        var poolOf: [String: String] = [:]  // member job id -> pool id
        var membersOf: [String: [Job]] = [:]  // workflow -> members in order
        var exclusions: [String: [PoolExclusion]] = [:]
        for (job, wish) in zip(jobs, wanted) {
            guard wish else { continue }
            let outside = job.needs.first { poolOf[$0] == nil }
            let reason: String? =
                job.resources.gpus > 0 ? "it needs GPUs, which every worker slot of the pool would hold"
                : (job.processes ?? 1) > 1 ? "it runs DataJoint's own pool of \(job.processes!) processes"
                : outside.map { "its upstream job \($0) runs outside the pool" }
            if let reason {
                exclusions[job.workflow, default: []].append(PoolExclusion(table: job.table, reason: reason))
                continue
            }
            poolOf[job.id] = "\(job.workflow)-pool"
            membersOf[job.workflow, default: []].append(job)
        }
        guard !membersOf.isEmpty else { return (jobs, exclusions) }
        let taken = Set(jobs.map(\.id))
        var pools: [String: Job] = [:]
        for (workflow, members) in membersOf {
            var id = "\(workflow)-pool"
            if taken.contains(id) { id += "-" + StableHash.hex(workflow, length: 4) }
            for member in members { poolOf[member.id] = id }
            pools[workflow] = poolJob(id: id, members: members, slots: slots)
        }
        func mapped(_ ids: [String]) -> [String] {
            var seen = Set<String>()
            return ids.map { poolOf[$0] ?? $0 }.filter { seen.insert($0).inserted }
        }
        var result: [Job] = []
        for job in jobs {
            if poolOf[job.id] != nil {
                if let pool = pools.removeValue(forKey: job.workflow) {
                    var pool = pool
                    pool.after = mapped(pool.after)
                    result.append(pool)
                }
                continue
            }
            var job = job
            if job.upstream.contains(where: { poolOf[$0] != nil }) { job.tableUpstream = job.upstream }
            let tableLevel = Set(job.needs.filter { !job.follows.contains($0) }.map { poolOf[$0] ?? $0 })
            job.needs = mapped(job.needs)
            job.follows = mapped(job.follows).filter { !tableLevel.contains($0) }
            job.after = mapped(job.after)
            result.append(job)
        }
        return (result, exclusions)
    }

    /// One scheduler job for the members: `slots` workers, each with the largest member's resources.
    private static func poolJob(id: String, members: [Job], slots: Int) -> Job {
        let runnerName = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0.runnerTable) })
        let poolMembers = members.map { job in
            PoolMember(job: job.id, table: job.table, runnerTable: job.runnerTable, parts: job.parts,
                       follows: job.follows.compactMap { runnerName[$0] },
                       after: job.needs.filter { !job.follows.contains($0) }.compactMap { runnerName[$0] },
                       priority: job.priority, maxCalls: job.maxCalls, onError: job.onError, upstream: job.upstream)
        }
        var modules: [String] = []
        for module in members.flatMap(\.modules) where !modules.contains(module) { modules.append(module) }
        let resources = members.map(\.resources)
        let memory = resources.compactMap(\.memoryMiB).max()
        let disk = resources.compactMap(\.diskMiB).max()
        let times = resources.compactMap(\.timeSeconds)
        var after: [String] = []
        for upstream in members.flatMap(\.after) where !after.contains(upstream) { after.append(upstream) }
        let estimates = members.compactMap(\.estimateSeconds)
        var job = Job(
            id: id, table: id, tier: .computed, parts: members.flatMap(\.parts), modules: modules, runnerTable: "",
            workflow: members[0].workflow, needs: [], after: after,
            waitsOn: Array(Set(members.flatMap(\.waitsOn))).sorted(),
            resources: JobResources(
                cpus: slots * (resources.map(\.cpus).max() ?? 1), memoryMiB: memory.map { $0 * slots }, gpus: 0,
                timeSeconds: times.count == members.count ? times.reduce(0, +) : nil, diskMiB: disk.map { $0 * slots }),
            workers: 1, throttle: nil, retries: members.map(\.retries).max() ?? 0,
            priority: members.compactMap(\.priority).min(),
            onError: members.allSatisfy { $0.onError == .continue } ? .continue : .fail,
            maxCalls: nil, processes: nil, estimateSeconds: estimates.isEmpty ? nil : estimates.reduce(0, +))
        job.pool = JobPool(slots: slots, members: poolMembers)
        return job
    }
}

extension Job {
    /// What generated files say a pool job is, in one sentence; nil for a table's own job.
    public var poolDescription: String? {
        guard let pool else { return nil }
        return "Workflow \(workflow) as one job: \(pool.members.map(\.table).joined(separator: ", ")); the runner imports "
            + "the pipeline once and forks \(pool.slots) workers that take keys of every table as their inputs are committed."
    }
}
