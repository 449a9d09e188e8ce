// Pipelining rules of the plan (issue #12): which upstream jobs a job follows key by key, which keep
// table-level order, `workers: auto`, and the runner arguments every target runs for each job step.
import DJFlowCore
import DJFlowKit
import DJFlowPlan
import Testing

@Suite struct PipeliningTests {
    func plan(_ yaml: String) throws -> ExecutionPlan { try PlanTests().plan(yaml) }

    @Test func primaryKeyParentsAreFollowedKeyByKey() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual, definition: "s: int"}
            A: {tier: computed, definition: "-> S\\n---\\nx: int"}
            B: {tier: computed, definition: "-> A\\n---\\ny: int"}
            C: {tier: computed, definition: "-> B\\n---\\n-> A.proj(other='s')"}
            """))
        let b = try #require(plan.job("b")), c = try #require(plan.job("c"))
        #expect(b.needs == ["a"] && b.follows == ["a"])
        #expect(b.upstreamTables == ["A"])
        #expect(b.runnerArguments(for: .populate) == ["--module", "test_pipeline", "--table", "B", "--follow", "--upstream", "A"])
        // C references A below `---`: its key source does not wait for A's rows, so C starts after A has
        // finished even though the path through B implies A (the reduction must not drop it).
        #expect(c.needs == ["b", "a"] && c.follows == ["b"], "\(c.needs) \(c.follows)")
        #expect(c.upstreamTables == ["A", "B"])
        let a = try #require(plan.job("a"))
        #expect(a.follows.isEmpty && !a.followsKeys && a.runnerArguments(for: .populate) == ["--module", "test_pipeline", "--table", "A"])
    }

    @Test func aPartReferenceIsTableLevel() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual, definition: "s: int"}
            A: {tier: computed, definition: "-> S\\n---\\nx: int"}
            B: {tier: computed, definition: "-> S\\n---\\ny: int", parts: [P]}
            B.P: {definition: "-> master\\n-> A\\n---\\nz: int"}
            """))
        let b = try #require(plan.job("b"))
        #expect(b.needs == ["a"] && b.follows.isEmpty, "a part's reference is not in B's key source")
        #expect(!b.followsKeys && b.runnerArguments(for: .populate) == ["--module", "test_pipeline", "--table", "B"])
    }

    @Test func pipeliningFalseKeepsTableLevelOrderAndTheRefreshStep() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            B: {tier: computed, depends_on: [A], workers: 3, pipelining: false}
            C: {tier: computed, depends_on: [A], workers: 3}
            """))
        let b = try #require(plan.job("b")), c = try #require(plan.job("c"))
        #expect(b.follows.isEmpty && b.hasRefreshStep && b.steps == [.refresh, .populate])
        #expect(b.runnerArguments(for: .refresh) == ["--module", "test_pipeline", "--table", "B", "--refresh-only"])
        #expect(b.runnerArguments(for: .populate) == ["--module", "test_pipeline", "--table", "B", "--no-refresh"])
        #expect(c.follows == ["a"] && !c.hasRefreshStep && c.steps == [.populate], "following workers refresh themselves")
    }

    @Test func defaultsCanTurnPipeliningOff() throws {
        let plan = try plan(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}\nB: {tier: computed, depends_on: [A]}",
                                     extra: "defaults: {pipelining: false}"))
        #expect(plan.job("b")?.follows == [])
    }

    @Test func autoWorkersStartTheCapAndFollow() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], workers: auto}
            B: {tier: computed, depends_on: [A], workers: auto, max_workers: 3, priority: 4, on_error: continue}
            """))
        let a = try #require(plan.job("a")), b = try #require(plan.job("b"))
        #expect(a.workers == Planner.defaultMaxWorkers && a.autoWorkers && !a.hasRefreshStep)
        #expect(a.runnerArguments(for: .populate) == ["--module", "test_pipeline", "--table", "A", "--follow", "--auto-workers"])
        #expect(b.workers == 3)
        #expect(b.runnerArguments(for: .populate) == ["--module", "test_pipeline", "--table", "B", "--priority", "4", "--suppress-errors",
                                                        "--follow", "--upstream", "A", "--auto-workers"])
    }

    @Test func badPipeliningSettingsAreLocatedErrors() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], workers: many, pipelining: maybe}"))
        #expect(printed.contains("error: 'workers' must be a whole number or auto, found 'many'"), "\(printed)")
        #expect(printed.contains("error: 'pipelining' must be true or false"), "\(printed)")
    }

    @Test func aCustomKeySourceInPythonKeepsTableLevelOrder() throws {
        let header = "import datajoint as dj\nschema = dj.Schema('s')\n"
        let files = [("lab.py", header + """
            @schema
            class S(dj.Manual):
                definition = "s: int"

            @schema
            class A(dj.Computed):
                definition = "-> S\\n---\\nx: int"

            class Base(dj.Computed):
                @property
                def key_source(self):
                    return S & 's > 1'

            @schema
            class B(Base):
                definition = "-> A\\n---\\ny: int"

            @schema
            class C(dj.Computed):
                definition = "-> A\\n---\\nz: int"
            """)]
        let (analysis, printed) = analyseWithPython(pipeline("C: {retries: 1}", extra: "sources: [lab.py]"), files)
        let plan = try #require(analysis.plan, "\(printed)")
        #expect(plan.job("b")?.needs == ["a"] && plan.job("b")?.follows == [], "B's key_source comes from its base class")
        #expect(plan.job("c")?.follows == ["a"])
    }

    /// Every target runs the plan's runner arguments for every job step (the runner contract): an
    /// option-heavy pipeline and every sample.
    @Test(arguments: ["option-heavy", "pooled"] + sampleNames)
    func everyTargetRunsThePlansRunnerArguments(pipelineName: String) throws {
        let source: SourceFile
        if pipelineName == "pooled" {
            source = SourceFile(path: "test.yaml", text: pipeline(PoolingTests.chain + "\nG: {tier: computed, depends_on: [A], resources: {gpus: 1}, workers: 2}",
                                                                  extra: "defaults: {pool: 3}\ntargets: {kubernetes: {}, airflow: {}, htcondor: {}, slurm: {}}"))
        } else if pipelineName == "option-heavy" {
            source = SourceFile(path: "test.yaml", text: pipeline("""
                S: {tier: manual}
                A: {tier: computed, depends_on: [S], workers: 2, processes: 2, max_calls: 5, on_error: continue, priority: 3, pipelining: false}
                B: {tier: computed, depends_on: [A], workers: auto, max_workers: 4}
                """, extra: "targets: {kubernetes: {}, airflow: {}, htcondor: {}, slurm: {}}"))
        } else {
            source = try sampleSource(pipelineName)
        }
        let plan = try #require(CompilerPipeline.analyse(source).plan)
        let files = try compileFiles(source)
        #expect(!plan.jobs.isEmpty)
        for job in plan.jobs {
            for step in job.steps {
                let words = job.runnerArguments(for: step)
                for target in ["slurm", "htcondor", "kubernetes", "airflow"] {
                    let text = files.filter { $0.path.hasPrefix(target + "/") }.map(\.contents).joined(separator: "\n")
                    let shell = words.map(ShellQuoting.quote).joined(separator: " ")
                    let forms = [words.joined(separator: " "), shell, shell.replacingOccurrences(of: "'", with: "\\'"),
                                 words.map { "\"\($0)\"" }.joined(separator: ", "),
                                 words.map { "- \($0)" }.joined(separator: "\n")]
                    let kubernetes = words.map { "- \"\($0)\"" }.joined(separator: "\n")
                    #expect(forms.contains(where: text.contains) || text.contains(kubernetes) || containsYAMLList(text, words),
                            "\(pipelineName): \(target) \(job.id) \(step): \(words)")
                }
            }
        }
    }

    private func containsYAMLList(_ text: String, _ words: [String]) -> Bool {
        let lines = text.split(separator: "\n").map { $0.trimmingPrefix(while: { $0 == " " }) }
        let items = words.map { word in ["- \(word)", "- \"\(word)\"", "- '\(word)'"] }
        guard !items.isEmpty else { return true }
        for start in lines.indices where items[0].contains(String(lines[start])) {
            var ok = true
            for (offset, options) in items.enumerated() {
                let i = start + offset
                if i >= lines.count || !options.contains(String(lines[i])) { ok = false; break }
            }
            if ok { return true }
        }
        return false
    }
}

extension Substring {
    fileprivate func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var s = self
        while let c = s.first, predicate(c) { s.removeFirst() }
        return s
    }
}
