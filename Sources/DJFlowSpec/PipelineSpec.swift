// The checked pipeline definition: every value typed and located.

import DJFlowCore

/// The pipeline definition (`djflow.yaml`) after loading and checking: every value typed and located.
public struct PipelineSpec: Sendable {
    /// The path of the definition as the user gave it (printed in headers and diagnostics).
    public var file: String
    /// Used in job names (`ephys-clustering`).
    public var name: Located<String>
    public var runner: RunnerSpec
    public var database: DatabaseSpec
    public var defaults: TableSettings
    /// Every table, masters and parts, in file order (parts listed under `parts:` follow their master).
    public var tables: [TableSpec]
    /// Target options as written (`targets.slurm`, …); each target reads its own.
    public var targetOptions: [String: SpecNode]
    /// Where each key under `targets:` is written (for messages about the target name itself).
    public var targetKeyLocations: [String: SourceLocation] = [:]
    /// Python files (globs relative to the definition's folder) to read the tables from.
    public var sources: [Located<String>] = []
    /// Names the Python sources leave to run time, mapped to what they stand for (`Session: pkg.module.Session`).
    public var links: [(key: Located<String>, value: Located<String>)] = []
}

/// How jobs run the populate runner.
public struct RunnerSpec: Sendable {
    /// Python import paths of the modules every job imports first, in order (they may activate schemas,
    /// link modules or configure DataJoint); tables without a `module` are looked up through them.
    public var modules: [Located<String>]
    /// The interpreter on the workers.
    public var python: Located<String>
    /// A container image holding the pipeline code (used by container targets and Apptainer wrapping).
    public var image: Located<String>?
    /// Plain (non-secret) environment given to every job, in file order.
    public var environment: [(key: Located<String>, value: Located<String>)]
    /// Where the `runner:` key is written (nil when it is not): where a missing runner setting belongs.
    public var keyLocation: SourceLocation? = nil
}

/// The database connection, by reference only: secrets are named environment variables, never values.
public struct DatabaseSpec: Sendable {
    public enum Backend: String, CaseIterable, Sendable { case mysql, postgresql }

    public var host: Located<String>?
    public var backend: Backend
    /// Environment variable (on the submit host or worker) that holds the user name.
    public var userEnv: Located<String>
    /// Environment variable that holds the password.
    public var passwordEnv: Located<String>
    /// Secret object name for targets that reference stored secrets (Kubernetes Secret, Airflow Connection).
    public var secretName: Located<String>?
    /// Where the `database:` and `database.secret:` keys are written (nil when they are not): where a
    /// missing database setting belongs.
    public var keyLocation: SourceLocation? = nil
    public var secretKeyLocation: SourceLocation? = nil
}

/// The tier of a DataJoint table.
public enum Tier: String, CaseIterable, Sendable, Codable {
    case manual, lookup, imported, computed, part

    /// Imported and Computed tables are filled by `populate()`.
    public var isAutoPopulated: Bool { self == .imported || self == .computed }
    /// Manual and Lookup tables hold data people enter.
    public var isStaged: Bool { self == .manual || self == .lookup }
}

/// What to do when some keys of a table fail.
public enum ErrorPolicy: String, CaseIterable, Sendable, Codable {
    /// The job fails, and its dependents do not start (default).
    case fail
    /// The job succeeds with errors recorded in the jobs table; dependents start on what succeeded.
    case `continue`
}

/// Compute resources of one worker.
public struct Resources: Sendable, Hashable {
    public var cpus: Int?
    public var memory: MemoryAmount?
    public var gpus: Int?
    public var time: WallTime?
    public var disk: MemoryAmount?

    public init(cpus: Int? = nil, memory: MemoryAmount? = nil, gpus: Int? = nil, time: WallTime? = nil, disk: MemoryAmount? = nil) {
        self.cpus = cpus; self.memory = memory; self.gpus = gpus; self.time = time; self.disk = disk
    }

    /// Each field of `self`, or of `base` where `self` leaves it unset.
    public func over(_ base: Resources) -> Resources {
        Resources(cpus: cpus ?? base.cpus, memory: memory ?? base.memory, gpus: gpus ?? base.gpus,
                  time: time ?? base.time, disk: disk ?? base.disk)
    }
}

/// Per-table run settings; `defaults:` has the same shape, and a table's unset fields fall back to it.
public struct TableSettings: Sendable {
    public var resources = Resources()
    /// Parallel workers (one array task / task instance / index each).
    public var workers: Int?
    /// `workers: auto`: start `maxWorkers` workers; those beyond the keys that can come leave at once.
    public var autoWorkers: Bool?
    /// The cap of `workers: auto`.
    public var maxWorkers: Int?
    /// Key-level pipelining: the job starts with its upstream jobs and populates each key once its inputs
    /// exist (where the key source covers the dependency), instead of waiting for whole tables.
    public var pipelining: Bool?
    /// Workflow pool: the workflow's jobs run in one scheduler job whose workers are forked after the
    /// imports and share every table of the pool key by key. Per table, `false` keeps the table in a job of
    /// its own.
    public var pool: Bool?
    /// Worker slots of each workflow's pool (`defaults: {pool: N}`); `pool: true` uses `max_workers`.
    public var poolSlots: Int?
    /// At most this many workers at once (SLURM `%K`, Airflow `max_active_tis_per_dagrun`).
    public var throttle: Int?
    /// Scheduler retries after a failed attempt.
    public var retries: Int?
    /// DataJoint job priority (lower runs first, 0–255) and scheduler priority.
    public var priority: Int?
    public var onError: ErrorPolicy?
    /// `populate(max_calls=…)` per worker.
    public var maxCalls: Int?
    /// `populate(processes=…)` per worker.
    public var processes: Int?
    /// Expected duration, for critical-path estimates only.
    public var estimate: WallTime?
    /// Where each key was written, by path (`workers`, `resources`, `resources.gpus`, and `targets` for a
    /// table): for warnings about settings without effect. Not inherited by `over`.
    public var locations: [String: SourceLocation] = [:]

    public init() {}

    /// Each field of `self`, or of `base` where `self` leaves it unset.
    public func over(_ base: TableSettings) -> TableSettings {
        var out = TableSettings()
        out.resources = resources.over(base.resources)
        if workers != nil || autoWorkers != nil {
            out.workers = workers
            out.autoWorkers = autoWorkers
        } else {
            out.workers = base.workers
            out.autoWorkers = base.autoWorkers
        }
        out.maxWorkers = maxWorkers ?? base.maxWorkers
        out.pipelining = pipelining ?? base.pipelining
        out.pool = pool ?? base.pool
        out.poolSlots = poolSlots ?? base.poolSlots
        out.throttle = throttle ?? base.throttle
        out.retries = retries ?? base.retries
        out.priority = priority ?? base.priority
        out.onError = onError ?? base.onError
        out.maxCalls = maxCalls ?? base.maxCalls
        out.processes = processes ?? base.processes
        out.estimate = estimate ?? base.estimate
        return out
    }
}

/// One table of the pipeline.
///
/// A value type whose fields live in one shared, copy-on-write box (`CopyOnWrite`): the planner and the
/// targets pass tables around by the thousand, and a copy is then one retain instead of one per field.
public struct TableSpec: Sendable {
    public var name: TableName {
        get { storage.value.name }
        _modify { yield &storage.value.name }
    }
    /// Where the table is declared (its key, or its entry in the master's `parts:`).
    public var location: SourceLocation {
        get { storage.value.location }
        _modify { yield &storage.value.location }
    }
    public var tier: Tier {
        get { storage.value.tier }
        _modify { yield &storage.value.tier }
    }
    public var definition: Definition? {
        get { storage.value.definition }
        _modify { yield &storage.value.definition }
    }
    /// Dependencies named in `depends_on:`.
    public var dependsOn: [Located<String>] {
        get { storage.value.dependsOn }
        _modify { yield &storage.value.dependsOn }
    }
    /// For a master: the names of its parts (qualified `Master.Part`).
    public var parts: [TableName] {
        get { storage.value.parts }
        _modify { yield &storage.value.parts }
    }
    public var settings: TableSettings {
        get { storage.value.settings }
        _modify { yield &storage.value.settings }
    }
    /// The module that defines this table's class; jobs still import `runner.module` first.
    public var module: Located<String>? {
        get { storage.value.module }
        _modify { yield &storage.value.module }
    }
    /// Per-table target options (`targets: {slurm: {partition: gpu}}`).
    public var targetOptions: [String: SpecNode] {
        get { storage.value.targetOptions }
        _modify { yield &storage.value.targetOptions }
    }
    /// Where each key under the table's `targets:` is written.
    public var targetKeyLocations: [String: SourceLocation] {
        get { storage.value.targetKeyLocations }
        _modify { yield &storage.value.targetKeyLocations }
    }
    /// References to tables outside the sources (names supplied at run time, imports from modules that are
    /// not sources): the graph takes one that nothing declares as a staged table outside the pipeline.
    public var externalReferences: Set<String> {
        get { storage.value.externalReferences }
        _modify { yield &storage.value.externalReferences }
    }
    /// Where the Python class (or a base class in the sources) sets its own `key_source`: populate() then
    /// offers keys that the definition's primary key does not vouch for, so the job keeps table-level order.
    public var customKeySource: SourceLocation? {
        get { storage.value.customKeySource }
        _modify { yield &storage.value.customKeySource }
    }

    /// True for a part created from its master's `parts:` list (a `Master.Part` key may add its definition).
    public var isListedPart: Bool {
        get { storage.value.isListedPart }
        _modify { yield &storage.value.isListedPart }
    }
    /// False for a `tables:` entry without `tier:` (settings for a table read from Python).
    public var tierWritten: Bool {
        get { storage.value.tierWritten }
        _modify { yield &storage.value.tierWritten }
    }
    /// Some references were already reported as unresolvable (by the Python reader): the graph does not
    /// report the table again for having nothing upstream.
    public var hasUnresolvedReferences: Bool {
        get { storage.value.hasUnresolvedReferences }
        _modify { yield &storage.value.hasUnresolvedReferences }
    }

    /// The stored fields, in the box.
    private struct Fields: Sendable {
        var name: TableName
        var location: SourceLocation
        var tier: Tier
        var definition: Definition?
        var dependsOn: [Located<String>]
        var parts: [TableName]
        var settings: TableSettings
        var module: Located<String>?
        var targetOptions: [String: SpecNode]
        var targetKeyLocations: [String: SourceLocation] = [:]
        var externalReferences: Set<String> = []
        var customKeySource: SourceLocation?
        var isListedPart = false
        var tierWritten = true
        var hasUnresolvedReferences = false
    }

    private var storage: CopyOnWrite<Fields>

    public init(name: TableName, location: SourceLocation, tier: Tier, definition: Definition? = nil,
                dependsOn: [Located<String>] = [], parts: [TableName] = [], settings: TableSettings = TableSettings(),
                module: Located<String>? = nil, targetOptions: [String: SpecNode] = [:], isListedPart: Bool = false) {
        var fields = Fields(name: name, location: location, tier: tier, definition: definition, dependsOn: dependsOn,
                            parts: parts, settings: settings, module: module, targetOptions: targetOptions)
        fields.isListedPart = isListedPart
        storage = CopyOnWrite(fields)
    }

    /// Every dependency written for the table: `depends_on` entries, then the definition's `->` lines.
    public var references: [Located<String>] {
        dependsOn + (definition?.references.map(\.name) ?? [])
    }
}

/// A table name as written: optional module qualifier, class, optional part (`ephys.Recording.Channel`).
public struct TableName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Lower-case leading segments (`ephys`, `lab.subject`), empty when unqualified.
    public var module: String
    /// The CamelCase class (`Recording`).
    public var className: String
    /// The CamelCase part class (`Channel`) for a part table.
    public var part: String?

    public init(module: String = "", className: String, part: String? = nil) {
        self.module = module; self.className = className; self.part = part
    }

    /// Splits `a.b.Class.Part`: lower-case leading segments are the module, then one or two CamelCase classes.
    /// Every segment is an ASCII identifier (`[A-Za-z_][A-Za-z0-9_]*`); a class starts with an upper-case
    /// letter, and nothing but classes follows the first one.
    ///
    /// One pass over the bytes, and no string made but the three fields: every table name and every reference
    /// of 10,000 tables is parsed (splitting into an array of strings, then joining the module again, was a
    /// twelfth of planning them).
    public init?(parsing text: String) {
        var classStart = -1, partStart = -1, classes = 0
        var atSegmentStart = true
        var offset = 0
        for byte in text.utf8 {
            defer { offset += 1 }
            if atSegmentStart {
                guard byte == UInt8(ascii: "_") || Self.isLetter(byte) else { return nil }
                atSegmentStart = false
                if Self.isUpper(byte) {
                    classes += 1
                    if classes == 1 { classStart = offset } else if classes == 2 { partStart = offset } else { return nil }
                } else if classes > 0 {
                    return nil  // a module segment after a class
                }
            } else if byte == UInt8(ascii: ".") {
                atSegmentStart = true
            } else {
                guard byte == UInt8(ascii: "_") || Self.isLetter(byte) || Self.isDigit(byte) else { return nil }
            }
        }
        guard !atSegmentStart, classes > 0 else { return nil }  // empty, a trailing dot, or no class
        // Every byte is ASCII here, so byte offsets are character boundaries.
        let utf8 = text.utf8
        let at = { (offset: Int) in utf8.index(utf8.startIndex, offsetBy: offset) }
        let classEnd = partStart >= 0 ? partStart - 1 : offset
        module = classStart > 0 ? String(text[..<at(classStart - 1)]) : ""
        className = String(text[at(classStart)..<at(classEnd)])
        part = partStart >= 0 ? String(text[at(partStart)...]) : nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool { isUpper(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
    private static func isUpper(_ byte: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// The master of a part (`Recording` for `Recording.Channel`), or the table itself.
    public var master: TableName { TableName(module: module, className: className) }
    public var isPart: Bool { part != nil }

    /// The name as DataJoint code writes it: `ephys.Recording.Channel`.
    public var description: String {
        // Built by concatenation: an array joined for every name was a tenth of planning 10,000 tables.
        var text = module.isEmpty ? className : module + "." + className
        if let part { text += "." + part }
        return text
    }

    /// The name without its module (`Recording.Channel`).
    public var classPath: String { part.map { "\(className).\($0)" } ?? className }

    /// Ordered as `description` is, without building the two strings (sorting thousands of tables compares
    /// names millions of times). Comparing module, class and part in turn, a shorter one first, gives the
    /// byte order of the dotted text: the dot (46) sorts below every byte an identifier holds, and where a
    /// module ends early its class (upper case, at most 90) meets a module segment (lower case or `_`).
    public static func < (lhs: TableName, rhs: TableName) -> Bool {
        if lhs.module != rhs.module { return precedes(lhs.module, rhs.module) }
        if lhs.className != rhs.className { return precedes(lhs.className, rhs.className) }
        switch (lhs.part, rhs.part) {
        case let (a?, b?): return a != b && precedes(a, b)
        case (nil, .some): return true
        default: return false
        }
    }

    /// Byte order of two texts (a prefix first).
    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

