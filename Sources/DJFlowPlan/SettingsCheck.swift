// Warnings for settings a planned pipeline does not use.

import DJFlowCore
import DJFlowSpec

/// Warnings for settings that a planned pipeline silently does not use: run settings on tables that get no
/// job, a throttle that never limits anything, and a pipeline without any job at all.
public enum SettingsCheck {
    public static func check(_ spec: PipelineSpec, plan: ExecutionPlan, diagnostics: inout Diagnostics) {
        lazy var jobAt = plan.jobPositionsByTable
        lazy var planned = Set(plan.tables.map(\.name))
        // Only these settings of a table with a job can draw a warning (the first three only in a pool):
        // the others are skipped before any name is made or looked up.
        let anyPool = plan.jobs.contains { $0.pool != nil }
        let jobKeys = anyPool ? ["throttle", "workers", "max_workers", "targets"] : ["throttle"]
        // Tables and jobs are read in place: a copy of either is a few dozen retains, 10,000 times.
        plan.jobs.withUnsafeBufferPointer { jobs in
            spec.tables.withUnsafeBufferPointer { tables in
                for table in tables {
                    if table.settings.locations.isEmpty { continue }
                    let mayHaveAJob = !(table.name.isPart || table.tier == .part || table.tier.isStaged)
                    if mayHaveAJob && !jobKeys.contains(where: { table.settings.locations[$0] != nil }) { continue }
                    let name = table.name.description
                    let reason: String
                    if table.name.isPart || table.tier == .part {
                        let master = table.name.isPart ? "'\(table.name.master)'" : "its master"
                        reason = "part table '\(name)' is filled by the job of its master \(master): set it there"
                    } else if table.tier.isStaged {
                        reason = "\(table.tier.rawValue) table '\(name)' is filled by people, so no job runs for it"
                    } else if planned.contains(name) && jobAt[name] == nil {
                        continue   // an auto-populated table without a job already has its own warning
                    } else {
                        if let position = jobAt[name], let pool = jobs[position].pool {
                            checkPooled(table, workflow: jobs[position].workflow, pool: pool, diagnostics: &diagnostics)
                        } else if let position = jobAt[name] {
                            checkThrottle(table, workers: jobs[position].workers, auto: jobs[position].autoWorkers, diagnostics: &diagnostics)
                        }
                        continue
                    }
                    let written = table.settings.locations.filter { !$0.key.contains(".") }.sorted { $0.value < $1.value }
                    for (key, location) in written {
                        diagnostics.warning("'\(key)' has no effect: \(reason)", at: location)
                    }
                }
            }
        }
        checkPools(spec, plan: plan, diagnostics: &diagnostics)
        if plan.jobs.isEmpty && !diagnostics.hasErrors {   // with errors, the missing jobs are their consequence
            let anchor = spec.tables.first { $0.location.file == spec.file }?.location ?? spec.name.location
            diagnostics.warning(
                "the pipeline has no job: no imported or computed table takes its keys from a table upstream",
                at: anchor,
                notes: ["manual and lookup tables are filled by people and parts by their master's job; compile writes no job for them"])
        }
    }

    /// Pool settings that do not apply as written: per-table worker counts inside a pool, and tables that ask
    /// for the pool but run in a job of their own (GPUs, `processes`, an upstream job outside the pool).
    static func checkPools(_ spec: PipelineSpec, plan: ExecutionPlan, diagnostics: inout Diagnostics) {
        guard plan.workflows.contains(where: { !($0.outsidePool ?? []).isEmpty }) else { return }
        let byName = Dictionary(spec.tables.map { ($0.name.description, $0) }, uniquingKeysWith: { a, _ in a })
        for workflow in plan.workflows {
            for excluded in workflow.outsidePool ?? [] {
                let table = byName[excluded.table]
                let location = table?.settings.locations["pool"] ?? spec.defaults.locations["pool"] ?? table?.location
                diagnostics.warning("table '\(excluded.table)' runs in a job of its own, outside the pool of workflow \(workflow.id): \(excluded.reason)",
                                    at: location,
                                    notes: ["write 'pool: false' on the table to say so and silence this warning"])
            }
        }
    }

    private static func checkPooled(_ table: TableSpec, workflow: String, pool: JobPool, diagnostics: inout Diagnostics) {
        for key in ["workers", "max_workers", "throttle"] {
            guard let location = table.settings.locations[key] else { continue }
            diagnostics.warning(
                "'\(key)' has no effect: table '\(table.name)' runs in the pool of workflow \(workflow), whose \(pool.slots) worker slots its tables share",
                at: location, notes: ["write 'pool: false' on the table to give it a job and workers of its own"])
        }
        if let location = table.settings.locations["targets"] {
            diagnostics.warning(
                "'targets' has no effect: table '\(table.name)' runs in the pool of workflow \(workflow), which takes the pipeline's target options (placement, queues, extra options)",
                at: location, notes: ["write 'pool: false' on the table to keep its own placement"])
        }
    }

    /// `throttle` limits how many workers run at once: with as many workers or fewer it does nothing.
    private static func checkThrottle(_ table: TableSpec, workers count: Int, auto: Bool, diagnostics: inout Diagnostics) {
        guard let throttle = table.settings.throttle, let location = table.settings.locations["throttle"] else { return }
        if throttle >= count {
            let workers = "\(auto ? "at most " : "")\(count) worker\(count == 1 ? "" : "s")"
            diagnostics.warning(
                "'throttle: \(throttle)' has no effect: table '\(table.name)' has \(workers), and throttle limits how many of them run at once",
                at: location)
        }
    }
}
