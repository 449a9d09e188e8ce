// HTCondor: lowers the plan to submit files and DAGMan input files.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// HTCondor: one submit file per job (`queue N`, one proc per worker), a refresh step before multi-worker
/// tables, one DAGMan file per workflow, and `all.dag` splicing every workflow together.
///
/// Layout under `htcondor/` (every path relative to it: run `condor_submit_dag` from this folder):
/// `djflow_populate.py`, `djflow_node.sh` (the executable of every node), `djflow_restrict.py`,
/// `<log_dir>/README`, `all.dag`, and per workflow `<workflow>.dag`, `<workflow>/<job>.sub`,
/// `<workflow>/<job>.refresh.sub`.
public struct HTCondorTarget: SchedulerTarget {
    public var kind: TargetKind { .htcondor }
    static let folder = "htcondor"
    static let runnerFile = "djflow_populate.py"
    static let nodeScript = "djflow_node.sh"
    static let restrictScript = "djflow_restrict.py"
    /// DataJoint 2.x's default job priority: DAG `PRIORITY` is this minus the table's `priority`.
    static let dataJointDefaultPriority = 5

    public init() {}

    func checkedOptions(for input: TargetInput, diagnostics: inout Diagnostics) -> HTCondorOptions? {
        let options = HTCondorOptions.read(input.spec, diagnostics: &diagnostics)
        ValueChecks.check(input.spec, diagnostics: &diagnostics)
        checkWritable(input.spec, diagnostics: &diagnostics)
        return options
    }

    func parts(for input: TargetInput, options: HTCondorOptions) -> [LoweringPart] {
        let plan = input.plan
        let names = HTCondorNames(plan: plan)
        let database = input.plan.runtime.database
        let secretNames = [database.userEnv] + (options.passwordFile == nil ? [database.passwordEnv] : [])
        let files = LoweringPart.files([
            Artifact(path: "\(Self.folder)/\(Self.runnerFile)", content: .file("runner/djflow_populate.py")),
            Artifact(path: "\(Self.folder)/\(Self.nodeScript)", content: .file("htcondor/djflow_node.sh"), executable: true),
            Artifact(path: "\(Self.folder)/\(Self.restrictScript)", content: .file("htcondor/djflow_restrict.py"), executable: true),
            Artifact(path: "\(Self.folder)/\(options.logDir)/README", content: .template(HTCondorLogsReadmeContext(logDir: options.logDir))),
        ])
        let shared = HTCondorSubmitBuilder.Shared(input: input, options: options)
        let dag = HTCondorDagBuilder(plan: plan, options: options, names: names, secretNames: secretNames)
        // Each workflow lowers on its own; so does all.dag (every workflow as a splice).
        let workflows = plan.workflows.map { workflow in
            LoweringPart(weight: workflow.jobs.count) {
                var artifacts: [Artifact] = []
                for job in plan.jobs(of: workflow) {
                    let submit = HTCondorSubmitBuilder(job: job, input: input, options: options, names: names, shared: shared)
                    artifacts.append(Artifact(path: "\(Self.folder)/\(names.submitFile(job))", content: .template(submit.worker())))
                    if job.hasRefreshStep {
                        artifacts.append(Artifact(path: "\(Self.folder)/\(names.refreshSubmitFile(job))", content: .template(submit.refresh())))
                    }
                }
                artifacts.append(Artifact(path: "\(Self.folder)/\(workflow.id).dag", content: .template(dag.workflow(workflow))))
                return artifacts
            }
        }
        let all = LoweringPart(weight: plan.workflows.count) {
            [Artifact(path: "\(Self.folder)/all.dag", content: .template(dag.all()))]
        }
        return [files] + workflows + [all]
    }

    /// Values from the rest of the spec that a submit file cannot hold (see `HTCondorQuoting.problem`).
    private func checkWritable(_ spec: PipelineSpec, diagnostics: inout Diagnostics) {
        var values: [(String, Located<String>)] = [("runner.python", spec.runner.python)]
        if let host = spec.database.host { values.append(("database.host", host)) }
        values += spec.runner.environment.map { ("runner.env.\($0.key.value)", $0.value) }
        for (what, value) in values {
            if let problem = HTCondorQuoting.problem(value.value) {
                diagnostics.error("\(what) cannot be written for the HTCondor target: \(problem)", at: value.location)
            }
        }
        // container_image is written bare: no quoting exists for it in the submit language.
        if let image = spec.runner.image, !HTCondorQuoting.isImageReference(image.value) {
            diagnostics.error("runner.image must be an image reference without spaces, quotes, '$' or '\\' for the HTCondor target's container_image", at: image.location)
        }
    }
}

/// The context of `htcondor/logs.README`, the file that keeps the log folder in the output.
struct HTCondorLogsReadmeContext: TemplateContext {
    static let template = "htcondor/logs.README"
    /// `targets.htcondor.log_dir`, relative to the `htcondor/` folder.
    var logDir: String
}

/// DAGMan node names for jobs: `[A-Za-z0-9_-]`, never `.` or `+` (`+` separates splice names), not
/// `PARENT`/`CHILD`/`ALL_NODES`, stable (derived from the job id only) and unique in the pipeline.
struct HTCondorNames {
    private var nodes: [String: String] = [:]
    private var refreshNodes: [String: String] = [:]
    private var workers: [String: [String]] = [:]
    private var workflowOf: [String: String] = [:]

    init(plan: ExecutionPlan) {
        let allowed: (Unicode.Scalar) -> Bool = { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") }
        var used = Set<String>()
        func claim(_ wanted: String, salt: String) -> String {
            var name = NameFitting.sanitize(wanted, allowed: allowed)
            if !HTCondorQuoting.isNodeName(name) || used.contains(name.uppercased()) {
                name = name + "-" + StableHash.hex(salt)
            }
            used.insert(name.uppercased())
            return name
        }
        // Job ids first (they are what users see), then the derived names.
        for job in plan.jobs { nodes[job.id] = claim(job.id, salt: job.table) }
        for job in plan.jobs where job.hasRefreshStep { refreshNodes[job.id] = claim(nodes[job.id]! + "_refresh", salt: job.table + ".refresh") }
        for job in plan.jobs {
            guard let throttle = job.throttle, throttle < job.workers else { continue }
            workers[job.id] = (0..<job.workers).map { claim(nodes[job.id]! + "_w\($0)", salt: job.table + ".w\($0)") }
        }
        for workflow in plan.workflows { for id in workflow.jobs { workflowOf[id] = workflow.id } }
    }

    func node(_ job: Job) -> String { nodes[job.id]! }
    func node(id: String) -> String { nodes[id]! }
    func refreshNode(_ job: Job) -> String? { refreshNodes[job.id] }
    /// The worker nodes of a throttled job (one per worker, `queue 1` each), else nil.
    func workerNodes(_ job: Job) -> [String]? { workers[job.id] }
    /// The nodes a child of this job waits for.
    func lastNodes(_ job: Job) -> [String] { workerNodes(job) ?? [node(job)] }
    /// The nodes that wait for this job's parents.
    func firstNodes(_ job: Job) -> [String] { refreshNode(job).map { [$0] } ?? lastNodes(job) }

    func submitFile(_ job: Job) -> String { "\(workflowOf[job.id]!)/\(job.id).sub" }
    func refreshSubmitFile(_ job: Job) -> String { "\(workflowOf[job.id]!)/\(job.id).refresh.sub" }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension HTCondorLogsReadmeContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 1)
        tree.add("logDir", logDir)
        return .object(tree)
    }
}
