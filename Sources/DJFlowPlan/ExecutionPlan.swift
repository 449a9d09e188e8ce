// The scheduler-neutral plan every target lowers: jobs, gates, workflows, dependencies and order.

import DJFlowCore
import DJFlowSpec

/// The scheduler-neutral plan every target lowers: jobs, their nearest dependencies, and workflows split
/// at human gates. Pure data; `Codable` for `djflow plan --format json`.
public struct ExecutionPlan: Codable, Sendable {
    /// The pipeline name (`pipeline:`).
    public var pipeline: String
    /// The definition file as the user named it.
    public var source: String
    /// Every master table (parts folded in), in deterministic topological order.
    public var tables: [PlannedTable]
    /// Every job (imported and computed tables), in deterministic topological order.
    public var jobs: [Job]
    /// Workflows in the order they run: by gate level, then by first job.
    public var workflows: [Workflow]
    /// The longest chain of jobs across all workflows.
    public var criticalPath: CriticalPath
    /// How every job starts the runner and reaches the database.
    public var runtime: RuntimeEnvironment

    /// The job with the given id (a search: in loops, look up in `jobsByID` made once).
    public func job(_ id: String) -> Job? { jobs.first { $0.id == id } }

    /// Every job by id.
    public var jobsByID: [String: Job] { Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) }) }

    /// The scheduler job that runs each table: its own job, or its workflow's pool.
    public var jobsByTable: [String: Job] { jobPositionsByTable.mapValues { jobs[$0] } }

    /// The position in `jobs` of the scheduler job that runs each table (no copies of the jobs, for loops
    /// over every table).
    public var jobPositionsByTable: [String: Int] {
        var byTable: [String: Int] = [:]
        byTable.reserveCapacity(jobs.count)
        jobs.withUnsafeBufferPointer { jobs in  // read in place: a copy of each job is a few dozen retains
            for position in jobs.indices {
                if let pool = jobs[position].pool {
                    for member in pool.members { byTable[member.table] = position }
                } else {
                    byTable[jobs[position].table] = position
                }
            }
        }
        return byTable
    }

    /// The positions in `jobs` of each workflow's jobs (in `jobs`' order), by workflow id: one pass, for
    /// loops over every workflow.
    public var jobPositionsByWorkflow: [String: [Int]] { Self.positionsByWorkflow(jobs) }

    static func positionsByWorkflow(_ jobs: [Job]) -> [String: [Int]] {
        var byWorkflow: [String: [Int]] = [:]
        jobs.withUnsafeBufferPointer { jobs in
            for position in jobs.indices { byWorkflow[jobs[position].workflow, default: []].append(position) }
        }
        return byWorkflow
    }

    /// The jobs of a workflow, in its order (`jobs`' global topological order restricted to it).
    public func jobs(of workflow: Workflow) -> [Job] {
        // By the positions the planner recorded (a filter over every job, per workflow and per target, was
        // 3% of compiling 10,000 tables); a workflow made elsewhere, without them, is found by its id.
        let positions = workflow.jobPositions
        if positions.count == workflow.jobs.count,
           zip(positions, workflow.jobs).allSatisfy({ jobs.indices.contains($0) && jobs[$0].id == $1 }) {
            return positions.map { jobs[$0] }
        }
        return jobs.filter { $0.workflow == workflow.id }
    }
}

/// What a table is for in the plan.
public enum TableRole: String, Codable, Sendable {
    /// Filled by `populate()`: becomes a job.
    case job
    /// Manual or lookup data that people enter before anything runs.
    case staged
    /// Manual or lookup data downstream of a job: the workflow after it waits for people to enter it.
    case gate
}

public struct PlannedTable: Codable, Sendable {
    /// The qualified name as written (`ephys.Recording`).
    public var name: String
    public var tier: Tier
    public var role: TableRole
    /// Part tables filled with this table (`Recording.Channel`).
    public var parts: [String]
    /// Direct upstream tables (masters), sorted.
    public var parents: [String]
    /// Number of gates on the longest gated path above this table.
    public var level: Int
}

/// One auto-populated table: one scheduler job (array / mapped task / indexed Job / DAG node) with N workers.
///
/// A value type whose fields live in one shared, copy-on-write box (`CopyOnWrite`): targets pass jobs
/// around by the thousand, and a copy is then one retain instead of one per field. Encoded as its fields.
public struct Job: Codable, Sendable {
    /// Stable id, unique in the pipeline: `[a-z0-9_-]+` (`curated_clustering`, `ephys-clustering`).
    public var id: String {
        get { storage.value.id }
        _modify { yield &storage.value.id }
    }
    /// The table's qualified name as written (`ephys.Clustering`).
    public var table: String {
        get { storage.value.table }
        _modify { yield &storage.value.table }
    }
    public var tier: Tier {
        get { storage.value.tier }
        _modify { yield &storage.value.tier }
    }
    /// Parts filled by this job's make().
    public var parts: [String] {
        get { storage.value.parts }
        _modify { yield &storage.value.parts }
    }
    /// The Python modules the runner imports first, in order, for their side effects (schema activation,
    /// linking modules, `dj.config`): `runner.module`, or every module that defines tables.
    public var modules: [String] {
        get { storage.value.modules }
        _modify { yield &storage.value.modules }
    }
    /// The table as the runner resolves it after those imports: a class path in one of them (`Recording`,
    /// `sub.Table`) or the full dotted path of the module that defines it
    /// (`element_array_ephys.ephys_acute.Clustering`).
    public var runnerTable: String {
        get { storage.value.runnerTable }
        _modify { yield &storage.value.runnerTable }
    }
    /// The workflow (id) this job belongs to.
    public var workflow: String {
        get { storage.value.workflow }
        _modify { yield &storage.value.workflow }
    }
    /// Upstream jobs in the same workflow the scheduler orders this job after: the nearest ones
    /// (transitive reduction), plus, when pipelined, those referenced outside the primary key.
    public var needs: [String] {
        get { storage.value.needs }
        _modify { yield &storage.value.needs }
    }
    /// The part of `needs` this job follows key by key (pipelining): the scheduler only orders the starts,
    /// and the runner takes each key once its inputs are committed. The rest of `needs` keep table-level
    /// order (the job starts when they have finished).
    public var follows: [String] {
        get { storage.value.follows }
        _modify { yield &storage.value.follows }
    }
    /// For a job that runs the runner with `--follow`: every job upstream of it in the same workflow, as the
    /// runner names their tables (`--upstream`), in topological order.
    public var upstreamTables: [String] {
        get { storage.value.upstreamTables }
        _modify { yield &storage.value.upstreamTables }
    }
    /// Nearest upstream jobs in earlier workflows (used when all workflows are submitted together).
    public var after: [String] {
        get { storage.value.after }
        _modify { yield &storage.value.after }
    }
    /// Staged tables this job reads directly (through staged tables only), sorted.
    public var waitsOn: [String] {
        get { storage.value.waitsOn }
        _modify { yield &storage.value.waitsOn }
    }
    public var resources: JobResources {
        get { storage.value.resources }
        _modify { yield &storage.value.resources }
    }
    public var workers: Int {
        get { storage.value.workers }
        _modify { yield &storage.value.workers }
    }
    /// `workers: auto`: `workers` is the cap; workers beyond the keys that can come leave at once.
    public var autoWorkers: Bool {
        get { storage.value.autoWorkers }
        _modify { yield &storage.value.autoWorkers }
    }
    /// The runner contract: the job's steps in order (a refresh step, then the workers; or the workers
    /// alone) with the runner arguments of each, the same on every target. Derived from the job's fields
    /// when asked (the JSON plan holds it), not stored: a following job's arguments name every job above it,
    /// and `plan` in text never prints them.
    public var runnerSteps: [JobStep] { invocations }
    public var throttle: Int? {
        get { storage.value.throttle }
        _modify { yield &storage.value.throttle }
    }
    public var retries: Int {
        get { storage.value.retries }
        _modify { yield &storage.value.retries }
    }
    public var priority: Int? {
        get { storage.value.priority }
        _modify { yield &storage.value.priority }
    }
    public var onError: ErrorPolicy {
        get { storage.value.onError }
        _modify { yield &storage.value.onError }
    }
    public var maxCalls: Int? {
        get { storage.value.maxCalls }
        _modify { yield &storage.value.maxCalls }
    }
    public var processes: Int? {
        get { storage.value.processes }
        _modify { yield &storage.value.processes }
    }
    /// Expected duration in seconds (`estimate:`), for critical paths.
    public var estimateSeconds: Int? {
        get { storage.value.estimateSeconds }
        _modify { yield &storage.value.estimateSeconds }
    }
    /// A workflow pool: this job runs the tables listed here (not `table`, which is then its id) with
    /// `slots` forked workers. Nil for a table's own job.
    public var pool: JobPool? {
        get { storage.value.pool }
        _modify { yield &storage.value.pool }
    }
    /// Set when an upstream job runs in a pool: the nearest upstream jobs as planned without pools (the
    /// members' own ids), for pictures and `djflow status`.
    public var tableUpstream: [String]? {
        get { storage.value.tableUpstream }
        _modify { yield &storage.value.tableUpstream }
    }

    public init(id: String, table: String, tier: Tier, parts: [String], modules: [String], runnerTable: String, workflow: String, needs: [String], after: [String], waitsOn: [String], resources: JobResources, workers: Int, throttle: Int?, retries: Int, priority: Int?, onError: ErrorPolicy, maxCalls: Int?, processes: Int?, estimateSeconds: Int?) {
        storage = CopyOnWrite(Fields(id: id, table: table, tier: tier, parts: parts, modules: modules, runnerTable: runnerTable, workflow: workflow, needs: needs, after: after, waitsOn: waitsOn, resources: resources, workers: workers, throttle: throttle, retries: retries, priority: priority, onError: onError, maxCalls: maxCalls, processes: processes, estimateSeconds: estimateSeconds))
    }

    public init(from decoder: any Decoder) throws { storage = CopyOnWrite(try Fields(from: decoder)) }
    public func encode(to encoder: any Encoder) throws {
        try storage.value.encode(to: encoder)
        var derived = encoder.container(keyedBy: DerivedKeys.self)
        try derived.encode(runnerSteps, forKey: .runnerSteps)
    }

    /// Encoded beside the stored fields.
    private enum DerivedKeys: String, CodingKey { case runnerSteps }

    /// The stored fields, in the box (encoded and decoded as the job).
    private struct Fields: Codable, Sendable {
        var id: String
        var table: String
        var tier: Tier
        var parts: [String]
        var modules: [String]
        var runnerTable: String
        var workflow: String
        var needs: [String]
        var follows: [String] = []
        var upstreamTables: [String] = []
        var after: [String]
        var waitsOn: [String]
        var resources: JobResources
        var workers: Int
        var autoWorkers: Bool = false
        var throttle: Int?
        var retries: Int
        var priority: Int?
        var onError: ErrorPolicy
        var maxCalls: Int?
        var processes: Int?
        var estimateSeconds: Int?
        var pool: JobPool?
        var tableUpstream: [String]?
    }

    private var storage: CopyOnWrite<Fields>

    /// Every table this job fills (not parts): its table, or the members of its pool, with each table's
    /// own job id and its nearest upstream job ids as planned without pools.
    public var tableEntries: [(job: String, table: String, runnerTable: String, upstream: [String])] {
        if let pool { return pool.members.map { ($0.job, $0.table, $0.runnerTable, $0.upstream) } }
        return [(id, table, runnerTable, tableUpstream ?? upstream)]
    }

    /// All nearest upstream jobs: `needs` then `after`.
    public var upstream: [String] { needs + after }

    /// The runner arguments that select the table, the same on every target:
    /// `--module M1 [--module M2 …] --table T`.
    public var runnerSelection: [String] {
        modules.flatMap { ["--module", $0] } + ["--table", runnerTable]
    }
}

/// Resources of one worker, fully resolved (defaults applied). Nil means "the scheduler's default".
public struct JobResources: Codable, Sendable, Hashable {
    public var cpus: Int
    public var memoryMiB: Int?
    public var gpus: Int
    public var timeSeconds: Int?
    public var diskMiB: Int?
}

public struct Workflow: Codable, Sendable {
    /// Stable id: `w<level>-<slug>` (`w0-recording`, `w1-clustering_task`).
    public var id: String
    /// Position in run order.
    public var index: Int
    /// Gates upstream of every job in it.
    public var level: Int
    /// Job ids in deterministic topological order.
    public var jobs: [String]
    /// Gate tables people fill before this workflow can run (empty for level 0).
    public var gates: [String]
    /// Every staged table the workflow's jobs read directly, sorted.
    public var waitsOn: [String]
    public var criticalPath: CriticalPath
    /// Tables whose settings ask for the workflow's pool but that run in a job of their own, and why.
    public var outsidePool: [PoolExclusion]?
    /// The positions of `jobs` in the plan's `jobs` (not in the JSON: the ids say the same).
    public var jobPositions: [Int] = []

    enum CodingKeys: String, CodingKey {
        case id, index, level, jobs, gates, waitsOn, criticalPath, outsidePool
    }
}

public struct CriticalPath: Codable, Sendable {
    public enum Unit: String, Codable, Sendable { case jobs, seconds }
    public var jobs: [String]
    /// Number of jobs, or summed `estimate:` seconds.
    public var length: Int
    public var unit: Unit
}
