// `djflow compile`: writes (or with --check, compares) the artifacts of the chosen targets.

import ArgumentParser
import DJFlowCore
import DJFlowKit
import DJFlowTargets
import DJFlowTemplates
import Foundation

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the scheduler artifacts of a pipeline (or check that they are up to date).",
        discussion: """
            Writes one folder per target under --out (for example generated/slurm/). Without --target, compiles \
            for the targets named under 'targets:' in the pipeline definition; --target all means all four. \
            Each folder is replaced as a whole, atomically: on any error nothing is written and the previous \
            output stays as it was.
            With --check nothing is written: exit 1 lists stale, missing and extra files.
            """)

    @OptionGroup var pipeline: PipelineArgument
    @OptionGroup var targets: TargetSelection

    @Option(name: .long, help: ArgumentHelp("The output folder.", valueName: "dir"))
    var out: String = "generated"

    @Option(name: .long, help: ArgumentHelp("A folder of template overrides, by relative name (see 'djflow templates list').", valueName: "dir"))
    var templates: String?

    @Flag(name: .long, help: "Write nothing; exit 1 when the output folder differs from what would be written.")
    var check = false

    func run() throws {
        let chosen = try targets.chosen()
        let source = try pipeline.source()
        let library: TemplateLibrary
        do { library = try TemplateLibrary(overrideFolder: templates, contexts: TemplateContexts.all) } catch let failure as TemplateLibrary.LoadFailure {
            printError(failure.description)
            throw ExitStatus.invalidPipeline
        }
        let python = pipeline.pythonReader()
        let writer = ArtifactWriter(outputFolder: out)
        // Each target's files are compared, or staged, as soon as they are rendered, then let go; the staged
        // folders replace the output's only when every target is written.
        let staged = ArtifactWriter.StagedWrite(writer: writer)
        let comparison = ArtifactWriter.Comparison(writer: writer)
        let check = self.check
        let result: (compiled: Bool, diagnostics: Diagnostics, targets: [TargetKind])
        do {
            result = try CompilerPipeline.compile(
                source, chosen: chosen, templates: library, sourceName: source.path, sources: python.provider,
                prepare: { kind in if check { comparison.expect(folder: kind.folder) } else { try staged.prepare(folder: kind.folder) } },
                consume: { file in if check { comparison.compare(file) } else { try staged.write(file) } })
            if result.compiled && !check { try staged.commit() }
        } catch {
            printDiagnostic("cannot write '\(out)': \(error.localizedDescription)")
            throw ExitStatus.io
        }
        try report(result.diagnostics, files: [source] + python.read)
        if result.targets.isEmpty {
            printDiagnostic("no target to compile: \(source.path) configures none under 'targets:'", notes: [CompilerPipeline.chooseTargetHint])
            throw ExitStatus.usage
        }
        guard result.compiled else { throw ExitStatus.invalidPipeline }

        if check {
            let drift = comparison.drift()
            if drift.isEmpty {
                print("up to date: \(comparison.count) files in \(out)")
                exitSucceeded()
            }
            for path in drift.stale { print("stale:   \(out)/\(path)") }
            for path in drift.missing { print("missing: \(out)/\(path)") }
            for path in drift.extra { print("extra:   \(out)/\(path)") }
            let how = chosen == nil ? "" : " " + result.targets.map { "--target \($0.rawValue)" }.joined(separator: " ")
            print("\(out) is out of date: run 'djflow compile \(pipeline.displayName)\(how) --out \(out)'")
            throw ExitStatus.drift
        }
        print("wrote \(staged.count) files to \(out)")
        exitSucceeded()
    }
}
