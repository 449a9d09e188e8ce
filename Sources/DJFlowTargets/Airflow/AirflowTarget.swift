// Airflow: lowers the plan to one DAG file per workflow.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// Airflow: one DAG file per workflow (one task per job, N workers as a mapped task after a refresh
/// task), the populate runner beside them, and an `.airflowignore` so Airflow does not parse the runner.
///
/// Layout under `airflow/`: `<workflow>.py`, `djflow_populate.py`, `.airflowignore`. The same files import
/// and run on Airflow 3.x and 2.10+.
public struct AirflowTarget: SchedulerTarget {
    public var kind: TargetKind { .airflow }
    static let folder = "airflow"
    static let runnerFile = "djflow_populate.py"

    public init() {}

    func checkedOptions(for input: TargetInput, diagnostics: inout Diagnostics) -> AirflowOptions? {
        let options = AirflowOptions.read(input.spec, diagnostics: &diagnostics)
        ValueChecks.check(input.spec, diagnostics: &diagnostics)
        if diagnostics.hasErrors { return nil }
        Self.warnIgnoredGPUs(input, options: options, diagnostics: &diagnostics)
        return options
    }

    func parts(for input: TargetInput, options: AirflowOptions) -> [LoweringPart] {
        let names = AirflowNames(plan: input.plan, options: options)
        let jobsByID = input.plan.jobsByID
        return [.files([
            Artifact(path: "\(Self.folder)/\(Self.runnerFile)", content: .file("runner/djflow_populate.py")),
            Artifact(path: "\(Self.folder)/.airflowignore", content: .template(AirflowIgnoreContext())),
        ])] + input.plan.workflows.map { workflow in
            LoweringPart(weight: workflow.jobs.count) {
                let context = AirflowDagBuilder(workflow: workflow, input: input, options: options, names: names, jobsByID: jobsByID)
                return [Artifact(path: "\(Self.folder)/\(workflow.id).py", content: .template(context.context()))]
            }
        }
    }
}

extension AirflowTarget {
    /// Airflow runs a task on whichever worker takes it: `gpus` reserves nothing. A table asking for GPUs
    /// without its own pool or queue (the way to send it to GPU workers) gets a warning.
    static func warnIgnoredGPUs(_ input: TargetInput, options: AirflowOptions, diagnostics: inout Diagnostics) {
        for job in input.plan.jobs where job.resources.gpus > 0 {
            let placement = options.tablePlacement[job.table]
            if placement?.pool != nil || placement?.queue != nil { continue }
            let table = input.spec.tables.first { $0.name.description == job.table }
            let location = table?.settings.locations["resources.gpus"] ?? input.spec.defaults.locations["resources.gpus"] ?? table?.location
            diagnostics.warning(
                "the airflow target ignores 'gpus: \(job.resources.gpus)' of table '\(job.table)': Airflow reserves no GPUs and runs the task on any worker",
                at: location,
                notes: ["send it to GPU workers with a pool or queue of its own: tables: {\(job.table): {targets: {airflow: {queue: gpu}}}}"])
        }
    }
}

/// DAG ids, task ids and Asset URIs: valid for Airflow (`^[\w.-]+$`, at most 250 characters), unique, stable.
struct AirflowNames {
    private var dagIDs: [String: String] = [:]
    private var taskIDs: [String: String] = [:]
    let pipeline: String

    init(plan: ExecutionPlan, options: AirflowOptions) {
        pipeline = plan.pipeline
        let prefix = options.dagIDPrefix ?? "\(plan.pipeline)-"
        var used = Set<String>()
        for workflow in plan.workflows {
            var id = NameFitting.fit(prefix + workflow.id, limit: AirflowOptions.idLimit)
            if used.contains(id) { id = NameFitting.fit(prefix + workflow.id + "-" + StableHash.hex(workflow.id), limit: AirflowOptions.idLimit) }
            used.insert(id)
            dagIDs[workflow.id] = id
        }
        // Job ids are `[a-z0-9_-]+` and unique; suffixes with a dot (`.refresh`, `.done`) cannot collide with them.
        used = []
        for job in plan.jobs {
            var id = NameFitting.fit(job.id, limit: AirflowOptions.idLimit - ".refresh".count)
            if used.contains(id) { id = NameFitting.fit(job.id + "-" + StableHash.hex(job.id), limit: AirflowOptions.idLimit - 16) }
            used.insert(id)
            taskIDs[job.id] = id
        }
    }

    func dagID(_ workflow: Workflow) -> String { dagIDs[workflow.id]! }
    func dagID(workflowID: String) -> String { dagIDs[workflowID]! }
    /// The mapped (or single) worker task of a job.
    func taskID(_ job: Job) -> String { taskIDs[job.id]! }
    /// The task that fills a multi-worker job's queue first.
    func refreshTaskID(_ job: Job) -> String { taskIDs[job.id]! + ".refresh" }
    /// The last task of a workflow that publishes its Asset (`gated: assets`).
    static let doneTaskID = "workflow.done"
    /// The Asset (2.x: Dataset) a workflow publishes when every job succeeded.
    func assetURI(workflowID: String) -> String { "x-djflow://\(pipeline)/\(workflowID)" }
}
