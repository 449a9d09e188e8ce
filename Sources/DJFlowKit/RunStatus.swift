// `djflow status`: what to ask the database (`StatusRequest`), what it answered (`StatusReading`), and the
// report people read (`RunStatus`: per workflow and table, with a state, in text, JSON, Mermaid or DOT).
// No I/O here: the CLI runs `djflow_status.py` with the pipeline's Python and passes its answer in.
import DJFlowPlan
import DJFlowSpec
import Foundation

/// One table the status reader resolves: a job's table, or a gate.
public struct StatusRequest: Encodable, Sendable {
    public struct Table: Encodable, Sendable {
        public var name: String
        public var role: String
        public var modules: [String]
        public var table: String
    }
    public var restriction: String?
    public var tables: [Table]

    /// Every job's table and every gate, resolved the way the jobs resolve them.
    public init(spec pipeline: PipelineSpec, plan: ExecutionPlan, restriction: String?) {
        self.restriction = restriction
        let byName = Dictionary(pipeline.tables.map { ($0.name.description, $0) }, uniquingKeysWith: { first, _ in first })
        var tables = plan.jobs.flatMap { job in
            job.tableEntries.map { Table(name: $0.table, role: "job", modules: job.modules, table: $0.runnerTable) }
        }
        let gates = Set(plan.workflows.flatMap(\.gates))
        for name in gates.sorted() {
            guard let spec = byName[name] else { continue }
            let (modules, table) = Planner.runnerTarget(for: spec, spec: pipeline)
            tables.append(Table(name: name, role: "gate", modules: modules, table: table))
        }
        self.tables = tables
    }

    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// The status reader's answer (`djflow_status.py`).
public struct StatusReading: Decodable, Sendable {
    public struct Worker: Codable, Sendable, Equatable {
        public var host: String?
        public var pid: Int?
        public var connection_id: Int?
        public var job_id: String?
    }
    public struct Table: Decodable, Sendable {
        public var total: Int?
        public var done: Int?
        public var to_do: Int?
        public var pending: Int?
        public var reserved: Int?
        public var error: Int?
        public var ignored: Int?
        public var workers: [Worker]?
        public var first_error: String?
        public var first_error_job_id: String?
        public var entries: Int?
        public var waiting: Int?
    }
    public var datajoint: String?
    public var tables: [String: Table]?
    public var errors: [String]?
    public var status: String?
}

/// Scheduler jobs of one table (SLURM: from one `squeue` and one `sacct` call).
public struct SchedulerJob: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var state: String
    public init(id: String, name: String, state: String) { self.id = id; self.name = name; self.state = state }
}

/// Where a run stands, per workflow and table.
public struct RunStatus: Encodable, Sendable {
    public enum State: String, Codable, Sendable {
        case done, running, queued, todo = "to do", failed, waiting = "waiting for gate", empty = "no keys"
    }
    public struct TableStatus: Encodable, Sendable {
        public var table: String
        public var job: String
        public var state: State
        public var total: Int
        public var done: Int
        public var toDo: Int
        public var pending: Int
        public var reserved: Int
        public var error: Int
        public var ignored: Int
        public var workers: [StatusReading.Worker]
        public var firstError: String?
        /// The scheduler job that recorded the first error (from the runner's `~djflow_worker` rows).
        public var firstErrorJob: String?
        public var scheduler: [SchedulerJob]
    }
    public struct GateStatus: Encodable, Sendable {
        public var table: String
        public var entries: Int
        public var waiting: Int?
    }
    public struct WorkflowStatus: Encodable, Sendable {
        public var id: String
        public var gates: [GateStatus]
        public var tables: [TableStatus]
    }
    public var pipeline: String
    public var datajoint: String?
    public var restriction: String?
    public var workflows: [WorkflowStatus]

    /// 0 every job done, 1 work left, 3 some key in error.
    public var exitCode: Int32 {
        let tables = workflows.flatMap(\.tables)
        if tables.contains(where: { $0.error > 0 || $0.state == .failed }) { return 3 }
        if tables.contains(where: { $0.toDo > 0 || $0.reserved > 0 || $0.pending > 0 }) { return 1 }
        return 0
    }

    public init(plan: ExecutionPlan, reading: StatusReading, scheduler: [String: [SchedulerJob]], restriction: String?) {
        pipeline = plan.pipeline
        datajoint = reading.datajoint
        self.restriction = restriction
        let values = reading.tables ?? [:]
        workflows = plan.workflows.map { workflow in
            let gates = workflow.gates.map { name in
                GateStatus(table: name, entries: values[name]?.entries ?? 0, waiting: values[name]?.waiting)
            }
            let entries = plan.jobs.filter { $0.workflow == workflow.id }.flatMap { job in job.tableEntries.map { (job, $0) } }
            let tables = entries.map { job, entry -> TableStatus in
                let value = values[entry.table]
                let jobs = scheduler[job.id] ?? []  // a pool's scheduler job runs every member
                var status = TableStatus(
                    table: entry.table, job: entry.job, state: .todo, total: value?.total ?? 0, done: value?.done ?? 0,
                    toDo: value?.to_do ?? 0, pending: value?.pending ?? 0, reserved: value?.reserved ?? 0,
                    error: value?.error ?? 0, ignored: value?.ignored ?? 0, workers: value?.workers ?? [],
                    firstError: value?.first_error, firstErrorJob: value?.first_error_job_id, scheduler: jobs)
                status.state = Self.state(of: status, gated: !workflow.gates.isEmpty, gates: gates)
                return status
            }
            return WorkflowStatus(id: workflow.id, gates: gates, tables: tables)
        }
    }

    static func state(of table: TableStatus, gated: Bool, gates: [GateStatus]) -> State {
        let states = Set(table.scheduler.map { $0.state.uppercased() })
        if table.error > 0 || states.contains(where: { ["FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"].contains($0) }) && table.toDo > 0 {
            return .failed
        }
        if table.reserved > 0 || states.contains("RUNNING") { return .running }
        if states.contains("PENDING") || states.contains("REQUEUED") { return .queued }
        if table.total == 0 { return gated && gates.allSatisfy({ $0.entries == 0 }) ? .waiting : .empty }
        return table.toDo == 0 ? .done : .todo
    }
}

/// The formats of `djflow status`.
public enum StatusFormat: String, CaseIterable, Sendable {
    case text, json, mermaid, dot
}

public enum StatusRenderer {
    public static func render(_ status: RunStatus, plan: ExecutionPlan, as format: StatusFormat) -> String {
        switch format {
        case .text: return text(status)
        case .json: return json(status)
        case .mermaid: return mermaid(status, plan: plan)
        case .dot: return dot(status, plan: plan)
        }
    }

    static func json(_ status: RunStatus) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(status)) ?? Data(), as: UTF8.self) + "\n"
    }

    /// A 20-cell bar of done keys.
    static func bar(_ done: Int, _ total: Int) -> String {
        let width = 20
        let filled = total > 0 ? min(width, done * width / total) : 0
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
    }

    static func text(_ status: RunStatus) -> String {
        var out = "pipeline \(status.pipeline)"
        if let restriction = status.restriction { out += " (restricted: \(restriction))" }
        out += "\n"
        for workflow in status.workflows {
            out += "\nworkflow \(workflow.id)\n"
            for gate in workflow.gates {
                out += "  gate \(gate.table): \(gate.entries) entr\(gate.entries == 1 ? "y" : "ies")"
                if let waiting = gate.waiting { out += ", \(waiting) upstream key\(waiting == 1 ? "" : "s") without one" }
                out += "\n"
            }
            for table in workflow.tables {
                var line = "  " + pad(table.table, 22) + " " + bar(table.done, table.total) + " "
                line += pad("\(table.done)/\(table.total)", 11) + " " + pad(table.state.rawValue, 16)
                var notes: [String] = []
                if table.reserved > 0 { notes.append("\(table.reserved) running") }
                if table.pending > 0 { notes.append("\(table.pending) pending") }
                if table.error > 0 { notes.append("\(table.error) error") }
                if table.ignored > 0 { notes.append("\(table.ignored) ignored") }
                if !table.scheduler.isEmpty { notes.append("jobs " + table.scheduler.map(\.id).joined(separator: ",")) }
                line += notes.joined(separator: ", ")
                out += String(line.prefix(100)).trimmingTrailingSpaces + "\n"
                if let message = table.firstError {
                    let job = table.firstErrorJob.map { " (job \($0))" } ?? ""
                    out += String(("      first error\(job): " + message).prefix(100)) + "\n"
                }
                for worker in table.workers {
                    let job = worker.job_id.map { ", job \($0)" } ?? ""
                    out += "      reserved by \(worker.host ?? "?") pid \(worker.pid.map(String.init) ?? "?")\(job)\n"
                }
            }
        }
        return out
    }

    static let colors: [RunStatus.State: String] = [
        .done: "#b7e4c7", .running: "#ffe066", .queued: "#a5d8ff", .todo: "#e9ecef", .failed: "#ff8787",
        .waiting: "#d0bfff", .empty: "#f8f9fa",
    ]

    static func mermaid(_ status: RunStatus, plan: ExecutionPlan) -> String {
        var out = "flowchart TD\n"
        let tables = status.workflows.flatMap(\.tables)
        for table in tables {
            out += "  \(table.job)[\"\(table.table)<br/>\(table.done)/\(table.total) \(table.state.rawValue)\"]\n"
        }
        for job in plan.jobs { for entry in job.tableEntries { for upstream in entry.upstream { out += "  \(upstream) --> \(entry.job)\n" } } }
        for table in tables {
            out += "  style \(table.job) fill:\(colors[table.state]!)\n"
        }
        return out
    }

    static func dot(_ status: RunStatus, plan: ExecutionPlan) -> String {
        var out = "digraph status {\n  node [shape=box, style=filled];\n"
        for table in status.workflows.flatMap(\.tables) {
            out += "  \"\(table.job)\" [label=\"\(table.table)\\n\(table.done)/\(table.total) \(table.state.rawValue)\", fillcolor=\"\(colors[table.state]!)\"];\n"
        }
        for job in plan.jobs { for entry in job.tableEntries { for upstream in entry.upstream { out += "  \"\(upstream)\" -> \"\(entry.job)\";\n" } } }
        return out + "}\n"
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
