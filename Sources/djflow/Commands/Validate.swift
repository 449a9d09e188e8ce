import ArgumentParser
import DJFlowKit

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a pipeline definition and print every problem (exit 2 on errors).",
        discussion: "Checks the spec, its dependency graph, and the options of the targets it configures under 'targets:' (or of --target; --target all checks all four).")

    @OptionGroup var pipeline: PipelineArgument
    @OptionGroup var targets: TargetSelection

    func run() throws {
        let source = try pipeline.source()
        let python = pipeline.pythonReader()
        let analysis = CompilerPipeline.validate(source, targets: try targets.chosen(), sources: python.provider)
        try report(analysis.diagnostics, files: analysis.files)
        guard let plan = analysis.plan else { throw ExitStatus.invalidPipeline }
        let count = { (n: Int, word: String) in "\(n) \(word)\(n == 1 ? "" : "s")" }
        if plan.jobs.isEmpty {
            print("\(source.path): valid, but no job to run (\(count(plan.tables.count, "table")))")
        } else {
            print("\(source.path): ok: \(count(plan.tables.count, "table")), \(count(plan.jobs.count, "job")), \(count(plan.workflows.count, "workflow"))")
        }
    }
}
