import DJFlowCore
import DJFlowKit
import Testing

/// Every error case of the pipeline definition, as the user sees it: `file:line:col: error:`, the line, a caret.
@Suite struct DiagnosticsTests {
    @Test func yamlSyntaxErrorHasLocationLineAndCaret() {
        let text = "pipeline: test\ntables:\n  A: {tier: manual\n  B: {tier: manual}\n"
        let printed = printedDiagnostics(text)
        #expect(printed.hasPrefix("test.yaml:4:"), "\(printed)")
        #expect(printed.contains("error: invalid YAML"))
        #expect(printed.contains("^"))
    }

    @Test func unknownKeySuggestsTheRightOne() {
        let printed = printedDiagnostics(pipeline("A: {tier: manual}\nB: {tier: computed, depends_on: [A], worker: 2}"))
        #expect(printed.contains("test.yaml:6:40: error: unknown key 'worker' in table 'B'; did you mean 'workers'?"), "\(printed)")
        #expect(printed.contains("  B: {tier: computed, depends_on: [A], worker: 2}\n                                       ^"), "\(printed)")
    }

    @Test func unknownTopLevelKey() {
        let printed = printedDiagnostics(pipeline("A: {tier: manual}", extra: "defualts: {workers: 2}"))
        #expect(printed.contains("error: unknown key 'defualts' in the pipeline definition; did you mean 'defaults'?"), "\(printed)")
    }

    @Test func unknownTier() {
        let printed = printedDiagnostics(pipeline("A: {tier: compute}"))
        #expect(printed.contains("test.yaml:5:13: error: unknown tier 'compute'; did you mean 'computed'?"), "\(printed)")
    }

    @Test func unknownDependencySuggestsAName() {
        let yaml = pipeline("""
            Session: {tier: manual}
            Recording:
              tier: imported
              definition: |
                -> Sesion
                id: int
            """)
        let printed = printedDiagnostics(yaml)
        #expect(printed.contains("test.yaml:9:10: error: unknown table 'Sesion' in the dependencies of 'Recording'; did you mean 'Session'?"), "\(printed)")
        #expect(printed.contains("      -> Sesion\n         ^"), "\(printed)")
    }

    @Test func duplicateYAMLKeyIsADuplicateTable() {
        let printed = printedDiagnostics(pipeline("A: {tier: manual}\nB: {tier: manual}\nA: {tier: lookup}"))
        #expect(printed.contains("test.yaml:7:3: error: duplicate key 'A'"), "\(printed)")
    }

    @Test func partListedTwiceIsADuplicateTable() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nR: {tier: imported, depends_on: [S], parts: [P, P]}"))
        #expect(printed.contains("error: duplicate table 'R.P'"), "\(printed)")
    }

    @Test func cyclePrintsTheWholeCycle() {
        let printed = printedDiagnostics(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S, C]}
            B: {tier: computed, depends_on: [A]}
            C: {tier: computed, depends_on: [B]}
            """))
        #expect(printed.contains("error: dependency cycle: A -> C -> B -> A"), "\(printed)")
        #expect(printed.contains("test.yaml:6:39:"), "\(printed)")
    }

    @Test func selfReferenceIsACycle() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S, A]}"))
        #expect(printed.contains("error: dependency cycle: A -> A"), "\(printed)")
    }

    @Test func partWithoutMaster() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nGhost.Part: {tier: part, depends_on: [S]}\nLoose: {tier: part}"))
        #expect(printed.contains("test.yaml:6:3: error: part table 'Ghost.Part' has no master"), "\(printed)")
        #expect(printed.contains("test.yaml:7:3: error: part table 'Loose' has no master"), "\(printed)")
    }

    @Test func autoPopulatedTableWithoutUpstreamIsAWarningAndGetsNoJob() {
        let yaml = pipeline("""
            A: {tier: computed}
            B: {tier: imported, definition: 'id: int'}
            S: {tier: manual}
            C: {tier: computed, definition: "c: int\\n---\\n-> S"}
            D: {tier: computed, depends_on: [S, A]}
            """)
        let analysis = analyse(yaml)
        let printed = DiagnosticPrinter(files: [SourceFile(path: "test.yaml", text: yaml)]).format(analysis.diagnostics)
        #expect(!analysis.diagnostics.hasErrors, "\(printed)")
        #expect(printed.contains("test.yaml:5:3: warning: computed table 'A' cannot be auto-populated: nothing in its primary key comes from another table; it gets no job"), "\(printed)")
        #expect(printed.contains("test.yaml:6:3: warning: imported table 'B' cannot be auto-populated"), "\(printed)")
        // A foreign key below '---' is not part of the key: populate() still has no key source.
        #expect(printed.contains("test.yaml:8:3: warning: computed table 'C' cannot be auto-populated"), "\(printed)")
        #expect(analysis.diagnostics.all.count == 3, "\(printed)")
        // The rest of the plan goes on: D is a job, waiting on A like on any staged table.
        let plan = try! #require(analysis.plan)
        #expect(plan.jobs.map(\.table) == ["D"])
        #expect(plan.jobs[0].waitsOn == ["A", "S"])
        #expect(plan.tables.first { $0.name == "A" }?.role == .staged)
    }

    @Test(arguments: [
        ("memory: 4X", "'memory' must be a positive amount like '4G'"),
        ("memory: 0G", "'memory' must be a positive amount"),
        ("time: '25:61:00'", "'time' must be a positive time as SLURM writes it"),
        ("time: 1 day", "'time' must be a positive time"),
        ("cpus: 0", "'cpus' must be between 1 and 10000, found 0"),
        ("cpus: -2", "'cpus' must be between 1 and 10000, found -2"),
        ("cpus: two", "'cpus' must be a whole number, found 'two'"),
        ("gpus: 1.5", "'gpus' must be a whole number, found '1.5'"),
    ])
    func badResources(resource: String, message: String) {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], resources: {\(resource)}}"))
        #expect(printed.contains("test.yaml:6:") && printed.contains("error: \(message)"), "\(printed)")
    }

    @Test func badWorkers() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], workers: 0}"))
        #expect(printed.contains("error: 'workers' must be between 1 and 100000, found 0"), "\(printed)")
    }

    @Test func passwordValuesAreRefused() {
        let printed = printedDiagnostics("""
            pipeline: test
            runner: {module: m}
            database: {secret: {password: hunter2}}
            tables: {S: {tier: manual}}
            """)
        #expect(printed.contains("test.yaml:3:21: error: passwords are never written into djflow.yaml"), "\(printed)")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let analysis = analyse(pipeline("""
            S: {tier: manual, colour: red}
            A: {tier: computed, depends_on: [Sx]}
            B: {tier: computd, depends_on: [S]}
            C: {tier: computed, depends_on: [S], resources: {memory: lots}}
            """))
        let messages = analysis.diagnostics.sorted.map(\.message)
        #expect(messages.count == 4, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("unknown key 'colour'") })
        #expect(messages.contains { $0.hasPrefix("unknown table 'Sx'") })
        #expect(messages.contains { $0.hasPrefix("unknown tier 'computd'") })
        #expect(messages.contains { $0.hasPrefix("'memory' must be") })
        #expect(analysis.plan == nil)
    }

    @Test func slurmOptionsAreChecked() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}",
                                                  extra: "targets: {slurm: {partition: 'gpu queue', partion: x}}"))
        #expect(printed.contains("error: SLURM partition 'gpu queue' may use only"), "\(printed)")
        #expect(printed.contains("error: unknown key 'partion' in 'targets.slurm'; did you mean 'partition'?"), "\(printed)")
    }
}

@Suite struct TargetSelectionTests {
    @Test func unknownTargetNamesAreErrors() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], targets: {slurn: {partition: gpu}}}",
                                                  extra: "targets:\n  kubernets:\n    namespace: x"))
        #expect(printed.contains("error: unknown target 'slurn' in 'targets' of table 'A'; did you mean 'slurm'?"), "\(printed)")
        #expect(printed.contains("test.yaml:8:3: error: unknown target 'kubernets' in 'targets'; did you mean 'kubernetes'?"), "\(printed)")
    }

    /// `djflow validate` checks the targets a pipeline configures, so a SLURM-only pipeline is not held to
    /// the Kubernetes target's requirements (an image, a Secret name).
    @Test func validateChecksTheConfiguredTargets() {
        let yaml = """
            pipeline: p
            runner: {module: m}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets: {slurm: {partition: compute}}
            """
        let configured = CompilerPipeline.validate(SourceFile(path: "p.yaml", text: yaml), targets: nil)
        #expect(!configured.diagnostics.hasErrors, "\(configured.diagnostics.all)")
        let explicit = CompilerPipeline.validate(SourceFile(path: "p.yaml", text: yaml), targets: [.kubernetes])
        #expect(explicit.diagnostics.all.contains { $0.message.contains("needs 'runner.image'") })
    }
}
