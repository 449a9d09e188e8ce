import DJFlowCore
import DJFlowKit
import DJFlowPlan
import DJFlowSpec
import Foundation
import Testing

@Suite struct PlanTests {
    /// Plans only (no target options checked).
    func plan(_ yaml: String) throws -> ExecutionPlan {
        let analysis = CompilerPipeline.analyse(SourceFile(path: "test.yaml", text: yaml))
        #expect(!analysis.diagnostics.hasErrors, "\(printedDiagnostics(yaml))")
        return try #require(analysis.plan)
    }

    @Test func ephysSplitsAtBothGates() throws {
        let analysis = CompilerPipeline.analyse(try sampleSource("ephys"))
        let plan = try #require(analysis.plan)
        #expect(plan.workflows.map(\.id) == ["w0-recording", "w1-clustering_task", "w2-curation"])
        #expect(plan.workflows.map(\.jobs) == [["recording", "lfp"], ["clustering"], ["curated_clustering", "quality_metrics", "waveforms"]])
        #expect(plan.workflows[1].gates == ["ClusteringTask"])
        #expect(plan.workflows[2].gates == ["Curation"])
        #expect(plan.tables.first { $0.name == "Recording" }?.parts == ["Recording.Channel"])
        // Waveforms depends on a part of CuratedClustering: that is a dependency on its master's job.
        #expect(plan.job("waveforms")?.needs == ["curated_clustering"])
        #expect(plan.job("clustering")?.after == ["recording"])
        #expect(plan.criticalPath.jobs == ["recording", "clustering", "curated_clustering", "waveforms"])
        #expect(plan.criticalPath.unit == .seconds)
    }

    @Test func nearestDependenciesOnly() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            B: {tier: computed, depends_on: [A]}
            C: {tier: computed, depends_on: [A, B, S]}
            """))
        #expect(plan.job("c")?.needs == ["b"])
        #expect(plan.workflows.count == 1)
    }

    /// A branch must not wait for an unrelated branch: no level barriers.
    @Test func branchesDoNotWaitForEachOther() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            Slow: {tier: computed, depends_on: [S]}
            B: {tier: computed, depends_on: [A]}
            """))
        #expect(plan.job("b")?.needs == ["a"])
        #expect(plan.job("slow")?.needs == [])
        #expect(plan.workflows[0].jobs == ["a", "b", "slow"])
    }

    @Test func stagedTablesBetweenJobsAreSeenThrough() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: imported, depends_on: [S]}
            Params: {tier: lookup}
            Task: {tier: manual, depends_on: [A, Params]}
            B: {tier: computed, depends_on: [Task]}
            """))
        #expect(plan.tables.first { $0.name == "Task" }?.role == .gate)
        #expect(plan.tables.first { $0.name == "Params" }?.role == .staged)
        #expect(plan.job("b")?.after == ["a"])
        #expect(plan.job("b")?.waitsOn == ["Params", "Task"])
        #expect(plan.workflows.map(\.level) == [0, 1])
    }

    @Test func independentComponentsAreSeparateWorkflows() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            T: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            B: {tier: computed, depends_on: [T]}
            """))
        #expect(plan.workflows.map(\.id) == ["w0-a", "w0-b"])
    }

    @Test func levelIsTheLongestGatedPath() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            G1: {tier: manual, depends_on: [A]}
            B: {tier: computed, depends_on: [G1]}
            G2: {tier: manual, depends_on: [B]}
            C: {tier: computed, depends_on: [G2, G1, A]}
            """))
        #expect(plan.workflows.map(\.jobs) == [["a"], ["b"], ["c"]])
        #expect(plan.job("c")?.after == ["b"])
    }

    @Test func schemaQualifiedNamesAndModules() throws {
        let yaml = """
            pipeline: multi
            runner: {module: [lab.subject, lab.ephys]}
            tables:
              subject.Subject: {tier: manual}
              ephys.Recording: {tier: imported, depends_on: [subject.Subject], parts: [Channel]}
              ephys.Sorting:
                tier: computed
                definition: |
                  -> Recording.Channel
            """
        let plan = try plan(yaml)
        let sorting = try #require(plan.job("ephys-sorting"))
        // every runner module is imported, in order; the table is named where it is defined
        #expect(sorting.modules == ["lab.subject", "lab.ephys"])
        #expect(sorting.runnerTable == "lab.ephys.Sorting")
        #expect(sorting.runnerSelection == ["--module", "lab.subject", "--module", "lab.ephys", "--table", "lab.ephys.Sorting"])
        #expect(sorting.needs == ["ephys-recording"])
    }

    @Test func elementsTablesImportTheActivatingModuleFirst() throws {
        // The Elements pattern: the workflow module activates the element's schemas; the classes are
        // defined in the element's module. Jobs import the workflow module, then resolve the class
        // in its defining module by full path.
        let yaml = """
            pipeline: lab
            runner: {module: mylab.pipeline}
            tables:
              Session: {tier: manual}
              Clustering: {tier: computed, depends_on: [Session], module: element_array_ephys.ephys_acute}
              LabScore: {tier: computed, depends_on: [Clustering]}
            """
        let plan = try plan(yaml)
        let clustering = try #require(plan.job("clustering"))
        #expect(clustering.runnerSelection == ["--module", "mylab.pipeline", "--table", "element_array_ephys.ephys_acute.Clustering"])
        let own = try #require(plan.job("lab_score"))
        #expect(own.runnerSelection == ["--module", "mylab.pipeline", "--table", "LabScore"])
    }

    @Test func aSingleRunnerModuleThatDefinesTheTableKeepsTheClassPath() throws {
        let yaml = """
            pipeline: one
            runner: {module: lab.pipeline}
            tables:
              S: {tier: manual}
              A: {tier: computed, depends_on: [S], module: lab.pipeline}
            """
        let a = try #require(try plan(yaml).job("a"))
        #expect(a.runnerSelection == ["--module", "lab.pipeline", "--table", "A"])
    }

    @Test func criticalPathCountsJobsWithoutEstimates() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            B: {tier: computed, depends_on: [A]}
            C: {tier: computed, depends_on: [S]}
            """))
        #expect(plan.criticalPath.jobs == ["a", "b"])
        #expect(plan.criticalPath.length == 2)
        #expect(plan.criticalPath.unit == .jobs)
    }

    @Test func largePipelinePlansQuickly() throws {
        // 1,000 tables in a layered DAG: planning must stay linear-ish (checked by the benchmark for speed).
        var lines = ["T0: {tier: manual}"]
        for i in 1..<1000 { lines.append("T\(i): {tier: computed, depends_on: [T\(i - 1)\(i > 10 ? ", T\(i - 10)" : "")]}") }
        let plan = try plan(pipeline(lines.joined(separator: "\n")))
        #expect(plan.jobs.count == 999)
        #expect(plan.job("t500")?.needs == ["t499"])
    }

    /// `plan --format json` writes what Foundation's JSONEncoder would, byte for byte, hostile strings too.
    @Test func planJSONIsWhatJSONEncoderWrites() throws {
        let hostile = ["it's \"quoted\" \\ /slash", "tab\there\nnew\rcr", "\u{1}\u{8}\u{c}\u{1f}\u{7f}", "ünïcødé ✓ 😀", "\u{2028}\u{feff}", ""]
        let env = hostile.enumerated().map { "H\($0.offset): \(YAMLQuoting.quote($0.element))" }.joined(separator: ", ")
        var sources = try sampleNames.map { try sampleSource($0) }
        sources.append(SourceFile(path: "hostile.yaml", text: pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], workers: auto, resources: {memory: 2G}}
            B: {tier: computed, depends_on: [A], estimate: '1:00:00'}
            """).replacingOccurrences(of: "runner: {module: test_pipeline,", with: "runner: {env: {\(env)}, module: test_pipeline,")))
        for source in sources {
            let analysis = CompilerPipeline.analyse(source)
            let plan = try #require(analysis.plan, "\(DiagnosticPrinter(files: [source]).format(analysis.diagnostics))")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let foundation = String(decoding: try encoder.encode(plan), as: UTF8.self) + "\n"
            #expect(PlanRenderer.render(plan, as: .json) == foundation, "\(source.path)")
        }
        #expect(JSONWriting.pretty(["b": [Int](), "a": [1, 2]]) == "{\n  \"a\" : [\n    1,\n    2\n  ],\n  \"b\" : [\n\n  ]\n}")
    }

    /// Table names sort as their dotted text does (the planner sorts by them everywhere).
    @Test func tableNamesSortAsTheirText() {
        var generator = SystemRandomNumberGenerator()
        let segments = ["a", "ab", "a_b", "z", "_x", "m1", "lab"], classes = ["A", "AB", "Ab", "B", "Z", "Session", "S1"]
        let names = (0..<400).map { _ in
            TableName(module: (0..<Int.random(in: 0...2, using: &generator)).map { _ in segments.randomElement(using: &generator)! }.joined(separator: "."),
                      className: classes.randomElement(using: &generator)!,
                      part: Bool.random(using: &generator) ? classes.randomElement(using: &generator)! : nil)
        }
        #expect(names.sorted().map(\.description) == names.map(\.description).sorted())
        for a in names.prefix(60) { for b in names.prefix(60) { #expect((a < b) == (a.description < b.description), "\(a) \(b)") } }
    }
}
