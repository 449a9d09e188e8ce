// `djflow validate`: checks a pipeline and prints its diagnostics, writing nothing.

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
        if plan.jobs.isEmpty {
            print("\(source.path): valid, but no job to run (\(plan.tables.count) tables)")
        } else {
            print("\(source.path): ok: \(plan.tables.count) tables, \(plan.jobs.count) jobs, \(plan.workflows.count) workflows")
        }
        exitSucceeded()
    }
}
