// `djflow plan`: prints the execution plan as text, JSON, dot or Mermaid.

import ArgumentParser
import DJFlowKit
import DJFlowPlan

extension PlanFormat: ExpressibleByArgument {}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the workflows, jobs, dependencies, gates and critical path of a pipeline.",
        discussion: "The critical path counts jobs, or sums 'estimate:' hints when tables give them.")

    @OptionGroup var pipeline: PipelineArgument

    @Option(name: .long, help: "Output format: text, json, dot (Graphviz) or mermaid.")
    var format: PlanFormat = .text

    func run() throws {
        let source = try pipeline.source()
        let python = pipeline.pythonReader()
        let analysis = CompilerPipeline.analyse(source, sources: python.provider)
        try report(analysis.diagnostics, files: analysis.files)
        guard let plan = analysis.plan else { throw ExitStatus.invalidPipeline }
        print(PlanRenderer.render(plan, as: format), terminator: "")
        exitSucceeded()
    }
}
