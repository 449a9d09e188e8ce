import DJFlowCore
import DJFlowKit
import DJFlowPython
import DJFlowSpec
import DJFlowTargets
import DJFlowTemplates
import Testing

/// Settings that are surprising or silently without effect get a warning that says why (issue 13, item 5);
/// target selection follows what the pipeline configures (item 6).
@Suite struct HonestMessagesTests {
    func warnings(_ analysis: CompilerPipeline.Analysis) -> [Diagnostic] { analysis.diagnostics.all.filter { $0.severity == .warning } }

    // MARK: quantities

    @Test func kubernetesSpellingsOfMemoryAreBinaryUnits() {
        #expect(MemoryAmount(parsing: "8Gi") == MemoryAmount(parsing: "8G"))
        #expect(MemoryAmount(parsing: "512Mi")?.mebibytes == 512)
        #expect(MemoryAmount(parsing: "2Ti")?.mebibytes == 2 * 1024 * 1024)
        #expect(MemoryAmount(parsing: "1024Ki")?.mebibytes == 1)
        #expect(MemoryAmount(parsing: "8GiB")?.mebibytes == 8192)
        #expect(MemoryAmount(parsing: "8i") == nil)
        #expect(MemoryAmount(parsing: "8Gx") == nil)
        let analysis = analyse(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], resources: {memory: 8Gi, disk: 512Mi}}"))
        #expect(!analysis.diagnostics.hasErrors, "\(analysis.diagnostics.all)")
        #expect(analysis.plan?.jobs.first?.resources.memoryMiB == 8192)
    }

    @Test func fractionalMemoryIsRefusedWithTheWholeAmount() {
        #expect(MemoryAmount(parsing: "1.5G") == nil)
        #expect(MemoryAmount.wholeSuggestion(for: "1.5G") == "1536M")
        #expect(MemoryAmount.wholeSuggestion(for: "1.5Gi") == "1536M")
        #expect(MemoryAmount.wholeSuggestion(for: "0.5G") == "512M")
        #expect(MemoryAmount.wholeSuggestion(for: "1.5T") == "1536G")
        #expect(MemoryAmount.wholeSuggestion(for: "1.3G") == "1332M", "rounded up to a whole MiB")
        #expect(MemoryAmount.wholeSuggestion(for: "4G") == nil)
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], resources: {memory: 1.5G}}"))
        #expect(printed.contains("test.yaml:6:60: error: 'memory' must be a whole number of a unit, found '1.5G'; write '1536M'"), "\(printed)")
    }

    @Test func aShortTimeWrittenAsMinutesAndSecondsIsAWarning() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], resources: {time: '1:30'}}"))
        #expect(printed.contains("test.yaml:6:58: warning: 'time: 1:30' is 1 minute 30 seconds: SLURM reads two numbers as MM:SS"), "\(printed)")
        #expect(printed.contains("note: for 1 hour 30 minutes, write '1:30:00'"), "\(printed)")
        #expect(printed.contains("note: to keep 1 minute 30 seconds without this warning, write '0:01:30'"), "\(printed)")
        #expect(!printed.contains("error"), "\(printed)")
        let estimate = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], estimate: '4:59'}"))
        #expect(estimate.contains("warning: 'estimate: 4:59' is 4 minutes 59 seconds"), "\(estimate)")
        for quiet in ["'0:01:30'", "'5:00'", "'1:30:00'", "'30'", "'0-1'"] {
            let text = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], resources: {time: \(quiet)}}"))
            #expect(!text.contains("MM:SS"), "\(quiet): \(text)")
        }
    }

    // MARK: settings without effect

    @Test func settingsOnTablesWithoutAJobAreWarnings() {
        let yaml = pipeline("""
            S: {tier: manual, workers: 3, resources: {cpus: 2}}
            L: {tier: lookup, retries: 2, targets: {slurm: {partition: x}}}
            A: {tier: computed, depends_on: [S, L], parts: [P]}
            A.P: {tier: part, resources: {memory: 8G}}
            """)
        let analysis = analyse(yaml)
        #expect(!analysis.diagnostics.hasErrors, "\(analysis.diagnostics.all)")
        let printed = printedDiagnostics(yaml)
        #expect(printed.contains("test.yaml:5:21: warning: 'workers' has no effect: manual table 'S' is filled by people, so no job runs for it"), "\(printed)")
        #expect(printed.contains("test.yaml:5:33: warning: 'resources' has no effect: manual table 'S'"), "\(printed)")
        #expect(printed.contains("test.yaml:6:21: warning: 'retries' has no effect: lookup table 'L'"), "\(printed)")
        #expect(printed.contains("test.yaml:6:33: warning: 'targets' has no effect: lookup table 'L'"), "\(printed)")
        #expect(printed.contains("test.yaml:8:21: warning: 'resources' has no effect: part table 'A.P' is filled by the job of its master 'A': set it there"), "\(printed)")
        #expect(warnings(analysis).count == 5, "\(warnings(analysis).map(\.message))")
    }

    @Test func settingsOfPythonTablesWithoutAJobAreWarnings() {
        let yaml = "pipeline: p\nsources: [m.py]\ntables:\n  Subject: {workers: 2}\n  Session: {resources: {cpus: 2}}\nrunner: {image: i}\ndatabase: {secret: {name: s}}\n"
        let (analysis, printed) = analyseWithPython(yaml, [("m.py", """
            import datajoint as dj
            schema = dj.Schema('s')
            @schema
            class Subject(dj.Manual):
                definition = "subject: int"
            @schema
            class Session(dj.Imported):
                definition = "-> Subject\\nsession: int"
            """)])
        #expect(!analysis.diagnostics.hasErrors, "\(printed)")
        #expect(printed.contains("test.yaml:4:13: warning: 'workers' has no effect: manual table 'Subject'"), "\(printed)")
        #expect(!printed.contains("'Session'"), "\(printed)")
    }

    @Test func aThrottleThatLimitsNothingIsAWarning() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], workers: 2, throttle: 2}\nB: {tier: computed, depends_on: [S], workers: 3, throttle: 2}"))
        #expect(printed.contains("test.yaml:6:52: warning: 'throttle: 2' has no effect: table 'A' has 2 workers"), "\(printed)")
        #expect(!printed.contains("table 'B' has"), "\(printed)")
    }

    @Test func airflowIgnoresGPUsUnlessTheTableHasItsOwnPoolOrQueue() {
        let yaml = pipeline("""
            S: {tier: manual}
            G: {tier: computed, depends_on: [S], resources: {gpus: 1}}
            Q: {tier: computed, depends_on: [S], resources: {gpus: 2}, targets: {airflow: {queue: gpu}}}
            """)
        let airflow = CompilerPipeline.validate(SourceFile(path: "test.yaml", text: yaml), targets: [.airflow])
        let printed = DiagnosticPrinter(files: airflow.files).format(airflow.diagnostics)
        #expect(printed.contains("test.yaml:6:52: warning: the airflow target ignores 'gpus: 1' of table 'G': Airflow reserves no GPUs"), "\(printed)")
        #expect(printed.contains("note: send it to GPU workers with a pool or queue of its own: tables: {G: {targets: {airflow: {queue: gpu}}}}"), "\(printed)")
        #expect(!printed.contains("'Q'"), "\(printed)")
        let slurm = CompilerPipeline.validate(SourceFile(path: "test.yaml", text: yaml), targets: [.slurm])
        #expect(warnings(slurm).isEmpty, "\(slurm.diagnostics.all)")
    }

    @Test func aPipelineWithoutAJobIsAWarning() {
        let analysis = CompilerPipeline.validate(SourceFile(path: "p.yaml", text: "pipeline: p\nrunner: {module: m}\ntables:\n  S: {tier: manual}\ntargets: {slurm: {}}\n"), targets: nil)
        #expect(!analysis.diagnostics.hasErrors)
        let printed = DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
        #expect(printed.contains("p.yaml:4:3: warning: the pipeline has no job"), "\(printed)")
    }

    // MARK: YAML and sources

    @Test func aTabInTheIndentationIsNamed() {
        for (text, location) in [("pipeline: p\nrunner: {module: m}\ntables:\n\tS: {tier: manual}\n", "test.yaml:4:1"),
                                 ("pipeline: p\nrunner: {module: m}\ntables:\n  S:\n  \ttier: manual\n", "test.yaml:5:3"),
                                 ("pipeline: p\nrunner: {module: m}\ntables:\n  S: {tier: manual}\n  A:\n    tier: computed\n    depends_on:\n\t- S\n", "test.yaml:8:1")] {
            let printed = printedDiagnostics(text)
            #expect(printed.contains("\(location): error: a tab in the indentation: YAML indents with spaces only"), "\(printed)")
            #expect(printed.contains("1 error generated."), "\(printed)")
        }
        // A tab between a key and its value is YAML's business, and valid.
        #expect(!CompilerPipeline.validate(SourceFile(path: "test.yaml", text: "pipeline: p\nrunner: {module: m}\ntables:\n  S:\n    tier:\tmanual\n"), targets: nil).diagnostics.hasErrors)
    }

    @Test func aMissingSourceFileIsOneErrorNotOnePerTable() {
        let yaml = "pipeline: p\nsources: [m.py, gone.py]\ntables:\n  A: {workers: 2}\n  B: {workers: 2}\n  C: {workers: 2}\n"
        let source = SourceFile(path: "test.yaml", text: yaml)
        let python = pythonFiles([("m.py", "import datajoint as dj\nschema = dj.Schema('s')\n@schema\nclass S(dj.Manual):\n    definition = 's: int'\n")])
        let analysis = CompilerPipeline.validate(source, targets: nil) { pattern in
            pattern == "gone.py" ? .failure("cannot read 'gone.py': no such file or folder") : .files(python)
        }
        let errors = analysis.diagnostics.all.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(errors.map(\.message))")
        #expect(errors.first?.message == "cannot read 'gone.py': no such file or folder")
        #expect(errors.first?.notes.first?.contains("3 tables of 'tables:' not found in the sources read ('A', 'B', 'C')") == true, "\(errors)")
        #expect(!analysis.diagnostics.all.contains { $0.message.contains("no job") }, "no follow-on warning either")
        // Without a failed source, a table not in the sources is still an error of its own.
        let complete = CompilerPipeline.validate(SourceFile(path: "test.yaml", text: "pipeline: p\nsources: [m.py]\ntables:\n  A: {workers: 2}\n"), targets: nil) { _ in .files(python) }
        #expect(complete.diagnostics.all.contains { $0.severity == .error && $0.message.hasPrefix("no table 'A' in the Python sources") })
    }

    // MARK: SLURM output

    @Test func theRefreshStepOfAGPUTableKeepsOffTheGPUPlacement() throws {
        let yaml = pipeline("""
            S: {tier: manual}
            G: {tier: computed, depends_on: [S], workers: 2, resources: {gpus: 1}, targets: {slurm: {partition: gpu, qos: gpuq, account: gpulab, constraint: a100, extra: ['--hint=nomultithread']}}}
            C: {tier: computed, depends_on: [S], workers: 2, targets: {slurm: {partition: bigmem}}}
            """, extra: "targets: {slurm: {partition: compute, qos: normal, extra: ['--mail-type=END']}}")
        let out = Dictionary(uniqueKeysWithValues: try compileFiles(SourceFile(path: "test.yaml", text: yaml), targets: [.slurm]).map { ($0.path, $0.contents) })
        let refresh = try #require(out.first { $0.key.hasSuffix("/g.refresh.sbatch") }?.value)
        let sbatch = refresh.split(separator: "\n").filter { $0.hasPrefix("#SBATCH") }.joined(separator: "\n")
        #expect(sbatch.contains("#SBATCH --partition=compute\n#SBATCH --account=gpulab\n#SBATCH --qos=normal\n#SBATCH --mail-type=END"), "\(sbatch)")
        for gpu in ["gpu\n", "gpuq", "a100", "--hint", "--gres"] { #expect(!(sbatch + "\n").contains(gpu), "\(gpu): \(sbatch)") }
        let workers = try #require(out.first { $0.key.hasSuffix("/g.sbatch") }?.value)
        #expect(workers.contains("#SBATCH --partition=gpu\n") && workers.contains("#SBATCH --gres=gpu:1") && workers.contains("--hint=nomultithread"))
        // A table without GPUs keeps its own placement for the refresh step too.
        let other = try #require(out.first { $0.key.hasSuffix("/c.refresh.sbatch") }?.value)
        #expect(other.contains("#SBATCH --partition=bigmem\n"), "\(other)")
    }

    @Test func scriptsSayNoRetriesRatherThanUpToZero() throws {
        for (retries, expected) in [(0, "# No retries (retries: 0)"), (2, "# Exit 1 and 75 are retried up to 2 times")] {
            let yaml = pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], retries: \(retries)}")
            let files = try compileFiles(SourceFile(path: "test.yaml", text: yaml))
            #expect(!files.contains { $0.contents.contains("up to 0") }, "retries \(retries)")
            let script = try #require(files.first { $0.path.hasSuffix("/a.sbatch") })
            #expect(script.contents.contains(expected), "\(script.contents)")
        }
    }

    // MARK: target selection

    @Test func validateWithoutConfiguredTargetsSaysHowToChoose() {
        let analysis = CompilerPipeline.validate(SourceFile(path: "p.yaml", text: "pipeline: p\nrunner: {module: m}\ntables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\n"), targets: nil)
        #expect(!analysis.diagnostics.hasErrors)
        let warning = analysis.diagnostics.all.first { $0.message.hasPrefix("no target is configured under 'targets:'") }
        #expect(warning?.severity == .warning)
        #expect(warning?.notes.first?.contains("--target") == true)
    }

    @Test func compileWithoutTargetsUsesTheConfiguredOnes() throws {
        let yaml = "pipeline: p\nrunner: {module: m}\ntables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\ntargets: {htcondor: {}, airflow: {}}\n"
        let result = CompilerPipeline.compile(SourceFile(path: "p.yaml", text: yaml), chosen: nil, templates: try TemplateLibrary(), sourceName: "p.yaml")
        #expect(result.targets == [.airflow, .htcondor])
        #expect(Set(try #require(result.files).map { String($0.path.prefix { $0 != "/" }) }) == ["airflow", "htcondor"])
        let none = CompilerPipeline.compile(SourceFile(path: "p.yaml", text: "pipeline: p\nrunner: {module: m}\ntables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\n"),
                                            chosen: nil, templates: try TemplateLibrary(), sourceName: "p.yaml")
        #expect(none.targets.isEmpty && none.files == nil && !none.diagnostics.hasErrors)
    }

    @Test func missingKubernetesSettingsAreReportedWhereTheyBelong() {
        let yaml = """
            pipeline: p
            runner:
              module: m
            database:
              host: db
              secret: {user_env: U, password_env: P}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets: {slurm: {}}
            """
        let analysis = CompilerPipeline.validate(SourceFile(path: "p.yaml", text: yaml), targets: TargetKind.allCases)
        let errors = analysis.diagnostics.all.filter { $0.severity == .error }
        #expect(errors.count == 2, "\(errors)")
        let image = errors.first { $0.message.contains("needs 'runner.image'") }
        #expect(image?.location?.description == "p.yaml:2:1", "at the runner: key, not at the pipeline name")
        #expect(image?.notes.contains { $0.contains("kubernetes is not named under 'targets:'") } == true, "\(String(describing: image))")
        let secret = errors.first { $0.message.contains("needs 'database.secret.name'") }
        #expect(secret?.location?.description == "p.yaml:6:3", "at the secret: key")
        #expect(secret?.notes == ["add it under secret:, e.g. 'name: p-db'"])
        // Named under targets:, the note about --target all is left out.
        let configured = CompilerPipeline.validate(SourceFile(path: "p.yaml", text: yaml.replacingOccurrences(of: "{slurm: {}}", with: "{slurm: {}, kubernetes: {}}")), targets: nil)
        #expect(!configured.diagnostics.all.contains { $0.notes.contains { $0.contains("not named under") } })
        #expect(configured.diagnostics.errorCount == 2)
    }
}
