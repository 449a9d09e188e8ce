import DJFlowCore
import DJFlowPlan
import DJFlowSpec

/// The context of a submit script: the sbatch calls of one workflow (or of all), in topological order.
struct SlurmSubmitContext {
    let plan: ExecutionPlan
    let workflows: [Workflow]
    let options: SlurmOptions
    let names: SlurmNames
    let input: TargetInput
    /// `submit_all.sh` (every workflow, cross-workflow dependencies kept) rather than one workflow's script.
    let all: Bool

    func context() -> TemplateContext {
        let single = all ? nil : workflows.first
        let inScript = Set(workflows.flatMap(\.jobs))
        var submissions: [TemplateContext] = []
        for workflow in workflows {
            for job in plan.jobs(of: workflow) {
                let upstream = (single == nil ? job.upstream : job.needs).filter(inScript.contains)
                let script = "\(workflow.id)/\(job.id)"
                var arrayUpstream = upstream
                if job.workers > 1 {
                    submissions.append(submission(key: "\(job.id).refresh", label: "\(job.table) (refresh)", script: "\(script).refresh.sbatch",
                                                  upstream: upstream, chunks: []))
                    arrayUpstream = ["\(job.id).refresh"]
                }
                let chunks = SlurmArrays.chunks(workers: job.workers, throttle: job.throttle, maxArraySize: options.maxArraySize)
                submissions.append(submission(key: job.id, label: job.table, script: "\(script).sbatch", upstream: arrayUpstream, chunks: chunks))
            }
        }
        var description: [String]
        if let workflow = single {
            description = ["Submits workflow \(workflow.id) of pipeline \(plan.pipeline): \(workflow.jobs.joined(separator: ", "))."]
            if workflow.gates.isEmpty {
                description.append("Enter the staged data first: \(workflow.waitsOn.joined(separator: ", ")).")
            } else {
                description.append("Runs after people enter data into: \(workflow.gates.joined(separator: ", ")) (the gate), so submit it once that is done.")
            }
        } else {
            description = ["Submits every workflow of pipeline \(plan.pipeline) at once, in order: \(workflows.map(\.id).joined(separator: ", ")).",
                           "Later workflows wait on gates (tables people fill); submit them all only when that data is already entered."]
        }
        let logDir = ShellQuoting.quote(options.logDir)
        return [
            "description": description.asLines,
            "scriptName": single == nil ? "submit_all.sh" : "\(single!.id)/submit.sh",
            "rootFromScript": single == nil ? "" : "/..",
            "logDir": logDir,
            "logDirText": options.logDir,
            "killOnInvalidDependency": options.killOnInvalidDependency,
            "submissions": submissions,
        ]
    }

    private func submission(key: String, label: String, script: String, upstream: [String], chunks: [SlurmArrays.Chunk]) -> TemplateContext {
        var words = [key, label, script, upstream.joined(separator: " ")].map(ShellQuoting.quote)
        if upstream.isEmpty { words[3] = "''" }
        for chunk in chunks { words += [ShellQuoting.quote("--array=\(chunk.range)"), String(chunk.offset)] }
        return ["arguments": words.joined(separator: " ")]
    }
}
