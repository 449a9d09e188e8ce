// Target options are their own stage (issue 11, item 3): read and checked before anything is lowered,
// every target's problems at once, `validate` and `compile` reporting the same ones.
import DJFlowCore
import DJFlowKit
import DJFlowTargets
import DJFlowTemplates
import Testing

@Suite struct OptionsStageTests {
    static let yaml = pipeline("""
        A: {tier: manual, definition: "a: int\\n---\\n"}
        B:
          tier: computed
          definition: "-> A\\n---\\n"
          targets: {slurm: {partiton: gpu}, htcondor: {category: big}}
        """, extra: """
        targets:
          slurm: {log_dir: 'bad dir'}
          airflow: {owner: [x]}
          kubernetes: {ttl_seconds_after_finished: -1}
        """)

    @Test func everyTargetsOptionProblemsComeAtOnceAndCompileWritesNothing() throws {
        let source = SourceFile(path: "test.yaml", text: Self.yaml)
        let (files, diagnostics) = CompilerPipeline.compile(source, targets: TargetKind.allCases, templates: try TemplateLibrary(), sourceName: "test.yaml")
        #expect(files == nil)
        let messages = diagnostics.sorted.filter { $0.severity == .error }.map(\.message)
        #expect(messages.contains { $0.contains("partiton") && $0.contains("did you mean 'partition'") }, "\(messages)")
        #expect(messages.contains { $0.contains("'log_dir'") }, "\(messages)")
        #expect(messages.contains { $0.contains("category 'big'") }, "\(messages)")
        #expect(messages.contains { $0.contains("owner") }, "\(messages)")
        #expect(messages.contains { $0.contains("ttl_seconds_after_finished") }, "\(messages)")
    }

    @Test func validateReportsWhatCompileReports() throws {
        let source = SourceFile(path: "test.yaml", text: Self.yaml)
        let validated = CompilerPipeline.validate(source, targets: TargetKind.allCases).diagnostics
        let compiled = CompilerPipeline.compile(source, targets: TargetKind.allCases, templates: try TemplateLibrary(), sourceName: "test.yaml").diagnostics
        #expect(validated.sorted == compiled.sorted)
    }

    @Test func aTargetThatPassesItsOptionsStageLowersWithoutNewDiagnostics() throws {
        let source = SourceFile(path: "test.yaml", text: pipeline("A: {tier: manual, definition: \"a: int\\n---\\n\"}\nB: {tier: computed, definition: \"-> A\\n---\\n\"}"))
        let analysis = CompilerPipeline.analyse(source)
        let input = TargetInput(spec: try #require(analysis.spec), plan: try #require(analysis.plan), sourceName: "test.yaml")
        for kind in TargetKind.allCases {
            var diagnostics = Diagnostics()
            let checked = try #require(kind.check(input, diagnostics: &diagnostics), "\(kind): \(diagnostics.all)")
            #expect(checked.kind == kind)
            #expect(!checked.artifacts(for: input).isEmpty)
        }
    }

    @Test func anUnknownTargetIsLocatedAtItsKey() {
        let printed = printedDiagnostics(pipeline("A: {tier: manual, definition: \"a: int\\n---\\n\"}", extra: "targets:\n  slurn: {}\n  airflow: {}"))
        #expect(printed.contains("test.yaml:7:3: error: unknown target 'slurn' in 'targets'; did you mean 'slurm'?"), "\(printed)")
    }
}
