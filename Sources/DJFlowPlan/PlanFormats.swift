// `djflow plan` output formats: text, JSON, Graphviz dot and Mermaid.

import DJFlowCore
import DJFlowSpec
import Foundation

/// The formats of `djflow plan`.
public enum PlanFormat: String, CaseIterable, Sendable {
    case text, json, dot, mermaid
}

/// Renders an `ExecutionPlan` for people (text), programs (json) and pictures (dot, mermaid).
public enum PlanRenderer {
    public static func render(_ plan: ExecutionPlan, as format: PlanFormat) -> String {
        switch format {
        case .text: return text(plan)
        case .json: return json(plan)
        case .dot: return dot(plan)
        case .mermaid: return mermaid(plan)
        }
    }

    static func json(_ plan: ExecutionPlan) -> String {
        // What JSONEncoder writes with [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes], faster.
        JSONWriting.pretty(plan) + "\n"
    }

    static func describe(_ path: CriticalPath) -> String {
        guard !path.jobs.isEmpty else { return "none" }
        let length = path.unit == .jobs ? "\(path.length) job\(path.length == 1 ? "" : "s")" : WallTime(seconds: max(path.length, 1)).slurmText + " estimated"
        return "\(path.jobs.joined(separator: " -> ")) (\(length))"
    }

    static func text(_ plan: ExecutionPlan) -> String {
        var out = "pipeline \(plan.pipeline) (\(plan.source)): \(plan.jobs.count) job\(plan.jobs.count == 1 ? "" : "s") in \(plan.workflows.count) workflow\(plan.workflows.count == 1 ? "" : "s")\n"
        out += "critical path: \(describe(plan.criticalPath))\n"
        // Job lines are made on all cores (each is padded to its workflow's widest id), then laid out.
        let positions = plan.jobPositionsByWorkflow
        var width = [Int](repeating: 0, count: plan.jobs.count)
        for members in positions.values {
            let widest = plan.jobs.withUnsafeBufferPointer { jobs in members.map { jobs[$0].id.count }.max() ?? 0 }
            for position in members { width[position] = widest }
        }
        let widths = width
        let lines = concurrentIndices(plan.jobs.count) { index in
            plan.jobs.withUnsafeBufferPointer { jobLines($0[index], width: widths[index]) }  // no copy of the job
        }
        for workflow in plan.workflows {
            out += "\nworkflow \(workflow.id) (level \(workflow.level))\n"
            if !workflow.gates.isEmpty { out += "  gates (enter data first): \(workflow.gates.joined(separator: ", "))\n" }
            out += "  waits on: \(workflow.waitsOn.isEmpty ? "-" : workflow.waitsOn.joined(separator: ", "))\n"
            for position in positions[workflow.id] ?? [] { out += lines[position] }
            for excluded in workflow.outsidePool ?? [] {
                out += "  outside the pool: \(excluded.table): \(excluded.reason)\n"
            }
            out += "  critical path: \(describe(workflow.criticalPath))\n"
        }
        return out
    }

    /// A job's line of the text plan, and one line per pool member.
    private static func jobLines(_ job: Job, width: Int) -> String {
        var line = "  " + job.id.padding(toLength: width, withPad: " ", startingAt: 0)
        line += job.pool.map { "  pool of \($0.members.count) table\($0.members.count == 1 ? "" : "s"), \($0.slots) worker slots" } ?? "  \(job.table) [\(job.tier.rawValue)]"
        line += "  workers=\(job.workers) cpus=\(job.resources.cpus)"
        if let memory = job.resources.memoryMiB { line += " memory=\(MemoryAmount(mebibytes: memory).slurmText)" }
        if job.resources.gpus > 0 { line += " gpus=\(job.resources.gpus)" }
        if let time = job.resources.timeSeconds { line += " time=\(WallTime(seconds: time).slurmText)" }
        line += "  needs: \(job.needs.isEmpty ? "-" : job.needs.joined(separator: ", "))"
        if !job.after.isEmpty { line += "  after (earlier workflows): \(job.after.joined(separator: ", "))" }
        line += "\n"
        for member in job.pool?.members ?? [] {
            line += "    \(member.table)"
            if !member.follows.isEmpty { line += "  follows: \(member.follows.joined(separator: ", "))" }
            if !member.after.isEmpty { line += "  after (table-level): \(member.after.joined(separator: ", "))" }
            line += "\n"
        }
        return line
    }

    /// Graphviz: one cluster per workflow, staged tables as cylinders, gates as diamonds.
    static func dot(_ plan: ExecutionPlan) -> String {
        func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var out = "digraph \(quote(plan.pipeline)) {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n"
        let jobTables = plan.jobsByTable
        for table in plan.tables where table.role != .job {
            let shape = table.role == .gate ? "shape=diamond, style=filled, fillcolor=\"#ffe9a8\"" : "shape=cylinder"
            out += "  \(quote(table.name)) [\(shape), label=\(quote(table.name + "\n" + table.tier.rawValue))];\n"
        }
        for workflow in plan.workflows {
            out += "  subgraph \(quote("cluster_" + workflow.id)) {\n    label=\(quote(workflow.id));\n"
            for job in plan.jobs(of: workflow) {
                for (table, suffix) in job.tableLabels {
                    out += "    \(quote(table)) [shape=box, style=rounded, label=\(quote(table + suffix))];\n"
                }
            }
            out += "  }\n"
        }
        for table in plan.tables {
            for parent in table.parents {
                let style = jobTables[parent] != nil && jobTables[table.name] != nil ? "" : " [style=dashed]"
                out += "  \(quote(parent)) -> \(quote(table.name))\(style);\n"
            }
        }
        return out + "}\n"
    }

    /// Mermaid flowchart (renders on GitHub): subgraph per workflow, gates as diamonds.
    static func mermaid(_ plan: ExecutionPlan) -> String {
        var ids: [String: String] = [:]
        for (index, table) in plan.tables.enumerated() { ids[table.name] = "t\(index)" }
        func label(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "#quot;") + "\"" }
        var out = "flowchart TD\n"
        for table in plan.tables where table.role != .job {
            let id = ids[table.name]!
            out += table.role == .gate ? "  \(id){\(label(table.name + " (gate)"))}\n" : "  \(id)[(\(label(table.name)))]\n"
        }
        for workflow in plan.workflows {
            out += "  subgraph \(workflow.id)\n"
            for job in plan.jobs(of: workflow) {
                for (table, suffix) in job.tableLabels { out += "    \(ids[table]!)(\(label(table + suffix)))\n" }
            }
            out += "  end\n"
        }
        for table in plan.tables {
            for parent in table.parents { out += "  \(ids[parent]!) --> \(ids[table.name]!)\n" }
        }
        return out
    }
}

extension Job {
    /// The tables this job fills, each with what pictures append to its name (` ×4` workers, ` (pool)`).
    var tableLabels: [(table: String, suffix: String)] {
        if let pool { return pool.members.map { ($0.table, " (pool ×\(pool.slots))") } }
        return [(table, workers > 1 ? " ×\(workers)" : "")]
    }
}
