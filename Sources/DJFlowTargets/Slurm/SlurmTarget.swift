// SLURM: lowers the plan to sbatch scripts and submit drivers.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// SLURM: one sbatch script per job (an array with one task per worker), a refresh step before
/// multi-worker arrays, a `submit.sh` per workflow chaining jobs with `afterok`, and `submit_all.sh`.
///
/// Layout under `slurm/`: `djflow_populate.py`, `submit_all.sh`, and per workflow
/// `<workflow>/submit.sh`, `<workflow>/<job>.sbatch`, `<workflow>/<job>.refresh.sbatch`.
public struct SlurmTarget: SchedulerTarget {
    public var kind: TargetKind { .slurm }
    static let folder = "slurm"
    static let runnerFile = "djflow_populate.py"
    /// Job names: `[A-Za-z0-9_-]`, at most 50 characters (what SLURM-aware tools accept everywhere).
    static let jobNameLimit = 50

    public init() {}

    func checkedOptions(for input: TargetInput, diagnostics: inout Diagnostics) -> SlurmOptions? {
        let options = SlurmOptions.read(input.spec, diagnostics: &diagnostics)
        ValueChecks.check(input.spec, diagnostics: &diagnostics)
        return options
    }

    func parts(for input: TargetInput, options: SlurmOptions) -> [LoweringPart] {
        let plan = input.plan
        let names = SlurmNames(plan: plan)
        let shared = SlurmJobBuilder.Shared(input: input, options: options)
        let runner = LoweringPart.files([Artifact(path: "\(Self.folder)/\(Self.runnerFile)", content: .file("runner/djflow_populate.py"))])
        // Each workflow lowers on its own; so does submit_all.sh, which lists every job (as heavy as them all).
        let workflows = plan.workflows.map { workflow in
            LoweringPart(weight: workflow.jobs.count) {
                var artifacts: [Artifact] = []
                for job in plan.jobs(of: workflow) {
                    let context = SlurmJobBuilder(job: job, input: input, options: options, names: names, shared: shared)
                    artifacts.append(Artifact(path: "\(Self.folder)/\(workflow.id)/\(job.id).sbatch",
                                              content: .template(context.worker())))
                    if job.hasRefreshStep {
                        artifacts.append(Artifact(path: "\(Self.folder)/\(workflow.id)/\(job.id).refresh.sbatch",
                                                  content: .template(context.refresh())))
                    }
                }
                let submit = SlurmSubmitBuilder(plan: plan, workflows: [workflow], options: options, names: names, input: input, all: false)
                artifacts.append(Artifact(path: "\(Self.folder)/\(workflow.id)/submit.sh",
                                          content: .template(submit.context()), executable: true))
                return artifacts
            }
        }
        let all = LoweringPart(weight: plan.jobs.count) {
            let all = SlurmSubmitBuilder(plan: plan, workflows: plan.workflows, options: options, names: names, input: input, all: true)
            return [Artifact(path: "\(Self.folder)/submit_all.sh", content: .template(all.context()), executable: true)]
        }
        return [runner] + workflows + [all]
    }

    /// The SLURM job name of every job (`--job-name`; a refresh step adds `.refresh`), by job id.
    public static func jobNames(_ plan: ExecutionPlan) -> [String: String] {
        let names = SlurmNames(plan: plan)
        return Dictionary(uniqueKeysWithValues: plan.jobs.map { ($0.id, names.jobName($0)) })
    }
}

/// SLURM job names for jobs: `pipeline-job`, fitted to the alphabet and length limit, unique.
struct SlurmNames {
    private var names: [String: String] = [:]

    init(plan: ExecutionPlan) {
        let allowed: (Unicode.Scalar) -> Bool = { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") }
        var used = Set<String>()
        for job in plan.jobs {
            let raw = NameFitting.sanitize("\(plan.pipeline)-\(job.id)", allowed: allowed)
            var name = NameFitting.fit(raw, limit: SlurmTarget.jobNameLimit - ".refresh".count)
            if used.contains(name) { name = NameFitting.fit(raw + "-" + StableHash.hex(job.table), limit: SlurmTarget.jobNameLimit - 8) }
            used.insert(name)
            names[job.id] = name
        }
    }

    func jobName(_ job: Job) -> String { names[job.id]! }
}
