import DJFlowCore
import DJFlowKit
import DJFlowTargets
import Foundation
import Testing

/// Issue 13 (3, 4): values that cannot arrive byte for byte are refused at their line, and options that
/// would undo what djflow writes are refused with the key to use. The real parsers check what is written
/// in integration/cli (bash, shellcheck, sbatch), integration/htcondor (HTCondor's submit code) and integration/airflow.
@Suite struct ValueCheckTests {
    func files(_ yaml: String, _ target: TargetKind) throws -> [String: String] {
        let output = try compileFiles(SourceFile(path: "p.yaml", text: yaml), targets: [target])
        return Dictionary(uniqueKeysWithValues: output.map { ($0.path, $0.contents) })
    }

    // MARK: bash

    /// A CR inside a value is written as `$'\r'` outside the quotes: generated files have LF line ends, and
    /// the renderer (like sbatch, which refuses CRLF scripts) would otherwise take `\r\n` for a line end.
    @Test(arguments: ["crlf\r\nline", "lone\rcr", "\r", "\r\n", "a'\r'b"])
    func carriageReturnsSurviveTheGeneratedScript(value: String) throws {
        let yaml = pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}",
                            extra: "targets: {slurm: {env: {ODD: \(YAMLQuoting.quote(value))}}}")
        let script = try #require(try files(yaml, .slurm)["slurm/w0-a/a.sbatch"])
        #expect(!script.unicodeScalars.contains("\r"), "no raw CR reaches the file")
        // The export may span lines (a LF inside the quotes); targets.slurm.env comes last in the block.
        let start = try #require(script.range(of: "\nexport ODD="))
        let end = try #require(script.range(of: "\nexport DJFLOW_JOB_ID=", range: start.upperBound..<script.endIndex))
        let export = script[start.lowerBound..<end.lowerBound].dropFirst()
        let result = try run("/bin/bash", ["-c", "\(export); printf '%s' \"$ODD\""])
        #expect(result.status == 0)
        #expect(Array(result.output.unicodeScalars) == Array(value.unicodeScalars))
    }

    @Test func setupLinesWithACarriageReturnAndAnEmptyApptainerImageAreRefused() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}", extra: """
            targets:
              slurm:
                setup: ["module load python\\r", "ok"]
                apptainer: {image: ""}
            """))
        #expect(printed.contains("test.yaml:9:13: error: a 'setup' line may not contain a carriage return"), "\(printed)")
        #expect(printed.contains("test.yaml:10:24: error: 'apptainer.image' is empty: name the image, or leave the key out to use 'runner.image'"), "\(printed)")
    }

    @Test func wordsStartingWithAnEqualsSignAreQuoted() {
        #expect(ShellQuoting.quote("=") == "'='")
        #expect(ShellQuoting.quote("==a") == "'==a'")
        #expect(ShellQuoting.quote("a=b") == "a=b")
    }

    // MARK: HTCondor

    @Test func dollarRunsArePairedForTheMatchmaker() {
        #expect(HTCondorQuoting.literalDollars("$") == "$(DOLLAR)")
        #expect(HTCondorQuoting.literalDollars("$$(OpSys)") == "$$(DOLLARDOLLAR)(OpSys)")
        #expect(HTCondorQuoting.literalDollars("$$$(x)") == "$$(DOLLARDOLLAR)$(DOLLAR)(x)")
        #expect(HTCondorQuoting.literalDollars("a$$$$b$") == "a$$(DOLLARDOLLAR)$$(DOLLARDOLLAR)b$(DOLLAR)")
        #expect(HTCondorQuoting.literalDollars("no dollars") == "no dollars")
        #expect(HTCondorQuoting.argument("$$") == "'$$(DOLLARDOLLAR)'")
        #expect(HTCondorQuoting.varsValue("$$(OpSys)") == "$$(DOLLARDOLLAR)(OpSys)")
    }

    @Test func whatHTCondorCannotCarryIsNamed() {
        #expect(HTCondorQuoting.problem("$(DOLLAR)")?.contains("'$(DOLLAR)'") == true)
        #expect(HTCondorQuoting.problem("x$$$(dollar)") != nil)
        #expect(HTCondorQuoting.problem("$$(DOLLAR)") == nil, "an even run is written as pairs")
        #expect(HTCondorQuoting.problem("$(DOLLARS)") == nil)
        #expect(HTCondorQuoting.problem("a\r\nb")?.contains("line break") == true)
        #expect(HTCondorQuoting.problem("ends in \\") == nil, "inside quotes a backslash is plain")
        #expect(HTCondorQuoting.bareProblem("docker://x\\")?.contains("continues the line") == true)
        #expect(HTCondorQuoting.isImageReference("ghcr.io/lab/x:1") && !HTCondorQuoting.isImageReference("docker://\\"))
    }

    @Test func htcondorRefusesTrailingBackslashesAndDollarMacrosAtTheirLine() {
        let printed = printedDiagnostics("""
            pipeline: p
            runner: {module: m, python: "/opt/$(DOLLAR)/python", image: "img\\\\", env: {A: "x$(dollar)"}}
            database: {host: "db", secret: {name: p-db}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets:
              htcondor:
                image: "docker://lab/img\\\\"
                password_file: "/p/$$$(DOLLAR)"
                env: {B: "$(DOLLAR)"}
                extra: ['requirements = (OpSys == "LINUX") \\\\', '+Note = "a"']
            """)
        #expect(printed.contains("test.yaml:2:29: error: runner.python cannot be written for the HTCondor target: it holds the text '$(DOLLAR)'"), "\(printed)")
        #expect(printed.contains("error: runner.image must be an image reference without spaces, quotes, '$' or '\\'"), "\(printed)")
        #expect(printed.contains("error: runner.env.A cannot be written for the HTCondor target"), "\(printed)")
        #expect(printed.contains("test.yaml:7:12: error: 'image' must be an image reference"), "\(printed)")
        #expect(printed.contains("test.yaml:8:20: error: 'password_file' cannot be written in a submit file: it holds the text '$(DOLLAR)'"), "\(printed)")
        #expect(printed.contains("test.yaml:9:14: error: the value of 'B' cannot be written in a submit file"), "\(printed)")
        #expect(printed.contains("test.yaml:10:13: error: the value of 'requirements' ends in a backslash, which would continue the line into the next submit command"), "\(printed)")
        #expect(!printed.contains("'+Note'"), "\(printed)")
    }

    /// Item 4 for HTCondor: an alias of a command djflow writes, or the job attribute itself (`+Attr`,
    /// `My.Attr`, or the attribute name as a command), would replace djflow's value.
    @Test(arguments: ["+RequestCpus = 8", "My.requestmemory = 1", "RequestCpus = 8", "get_env = true", "initial_dir = /tmp",
                      "stdout = x", "prio = 3", "+Cmd = \"/bin/x\"", "+WantContainer = false"])
    func htcondorExtraLinesMayNotReplaceWhatDjflowWrites(line: String) {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}",
                                                  extra: "targets: {htcondor: {extra: [\(YAMLQuoting.quote(line))]}}"))
        #expect(printed.contains("error: '\(line.prefix { $0 != " " })' ") && printed.contains("djflow"), "\(printed)")
        #expect(printed.contains("it cannot be set in 'extra'"), "\(printed)")
    }

    // MARK: Airflow

    @Test func valuesEndingInATemplateExtensionAreWrapped() {
        #expect(JinjaQuoting.verbatim("run.sh") == "{% raw %}run.sh{% endraw %}")
        #expect(JinjaQuoting.verbatim("x.bash") == "{% raw %}x.bash{% endraw %}")
        #expect(JinjaQuoting.verbatim("x.SH") == "x.SH", "Airflow's check is case-sensitive")
        #expect(JinjaQuoting.verbatim("x.sh ") == "x.sh ")
        #expect(JinjaQuoting.verbatim("plain") == "plain")
    }

    @Test func theInterpreterIsACommandNotAnOptionOfExec() throws {
        let yaml = pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}", extra: "targets: {airflow: {env: {LOADER: setup.sh}}}")
            .replacingOccurrences(of: "runner: {module: test_pipeline,", with: "runner: {module: test_pipeline, python: '-py', env: {TOOL: 'x.bash'},")
        let dag = try #require(try files(yaml, .airflow)["airflow/w0-a.py"])
        #expect(dag.contains("exec -- -py \"$DJFLOW_RUNNER\""), "\(dag)")
        #expect(dag.contains("'TOOL': '{% raw %}x.bash{% endraw %}',"), "\(dag)")
        #expect(dag.contains("'LOADER': '{% raw %}setup.sh{% endraw %}',"), "\(dag)")
    }

    // MARK: paths and reserved names, every target

    @Test func longPathsAreRefusedAtTheirLine() {
        let long = String(repeating: "a", count: 10_000)
        let name = String(repeating: "b", count: 256)
        let printed = printedDiagnostics("""
            pipeline: p
            runner: {module: m, python: /opt/\(name)/python, image: 'registry.example/test:1'}
            database: {secret: {name: p-db}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets:
              slurm: {log_dir: \(long), apptainer: {image: /x/\(name).sif, binds: ['/\(long)']}}
              htcondor: {log_dir: \(long), password_file: /\(long)}
            """)
        #expect(printed.contains("test.yaml:2:29: error: 'runner.python' is too long: its name 'bbbbbbbbbbbbbbbbbbbb…' is 256 bytes long; a folder or file name may have at most 255"), "\(printed)")
        #expect(printed.contains("test.yaml:6:20: error: 'log_dir' is too long: it is 10077 bytes long; paths may have at most 1024 (with the log file name)"), "\(printed)")
        #expect(printed.contains("test.yaml:6:10041: error: 'apptainer.image' is too long"), "\(printed)")
        #expect(printed.contains("error: the bind '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…' is too long"), "\(printed)")
        #expect(printed.contains("test.yaml:7:23: error: 'log_dir' is too long: it is 10000 bytes long"), "\(printed)")
        #expect(printed.contains("test.yaml:7:10040: error: 'password_file' is too long"), "\(printed)")
        let ok = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}",
                                             extra: "targets: {slurm: {log_dir: \(String(repeating: "c", count: 255))/x}}"))
        #expect(!ok.contains("error"), "\(ok)")
    }

    @Test func environmentEntriesMayNotOverrideWhatDjflowSets() {
        let printed = printedDiagnostics("""
            pipeline: p
            runner: {module: m, image: 'registry.example/test:1', env: {DJ_HOST: h, DJ_USE_TLS: 'true'}}
            database: {secret: {name: p-db}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets:
              slurm: {env: {DJ_PASS: x}}
              htcondor: {env: {DJFLOW_JOB_ID: x}}
              kubernetes: {env: {DJ_USER: x}}
            """)
        #expect(printed.contains("test.yaml:2:61: error: 'DJ_HOST' in 'runner.env' would override what djflow sets in every job: set the database in 'database:'"), "\(printed)")
        #expect(!printed.contains("'DJ_USE_TLS' in"), "other DJ_ settings are the user's")
        #expect(printed.contains("test.yaml:6:17: error: 'DJ_PASS' in 'targets.slurm.env' would override"), "\(printed)")
        #expect(printed.contains("test.yaml:7:20: error: 'DJFLOW_JOB_ID' in 'targets.htcondor.env' would override what djflow sets in every job: djflow sets DJFLOW_JOB_ID itself"), "\(printed)")
        #expect(printed.contains("test.yaml:8:22: error: 'DJ_USER' in 'targets.kubernetes.env' would override"), "\(printed)")
        #expect(printed.components(separatedBy: "'DJ_HOST' in 'runner.env'").count == 2, "reported once for all targets")
    }

    // MARK: SLURM extra

    @Test func sbatchReadsDirectivesLikeThis() {
        #expect(SlurmDirectives.arguments(of: "--mail-type=END") == .arguments(["--mail-type=END"]))
        #expect(SlurmDirectives.arguments(of: "--comment=\"a b\"") == .arguments(["--comment=a b"]))
        #expect(SlurmDirectives.arguments(of: "--comment='it\"s'") == .arguments(["--comment=it\"s"]))
        // sbatch tests for whitespace before it looks at a backslash: "\ " does not join words, "\#" escapes.
        #expect(SlurmDirectives.arguments(of: "--comment=a\\ b\\#c") == .arguments(["--comment=a", "b#c"]))
        #expect(SlurmDirectives.arguments(of: "--comment=my job") == .arguments(["--comment=my", "job"]))
        #expect(SlurmDirectives.arguments(of: "--comment=run #3") == .comment(kept: ["--comment=run"], dropped: "#3"))
        #expect(SlurmDirectives.arguments(of: "--comment=run#3") == .comment(kept: ["--comment=run"], dropped: "#3"))
        #expect(SlurmDirectives.arguments(of: "--comment=\"run #3\"") == .arguments(["--comment=run #3"]))
        #expect(SlurmDirectives.arguments(of: "--comment='x") == .unmatchedQuote("'"))
        #expect(SlurmDirectives.arguments(of: "\"\" --x") == .arguments([]))
        #expect(SlurmDirectives.arguments(of: ":x") == .unexpectedColon)
    }

    @Test func extraLinesAreCheckedLikeSbatchReadsThem() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}", extra: """
            targets:
              slurm:
                extra:
                  - "--comment=my job"
                  - "--comment=run #3"
                  - "--comment='unbalanced"
                  - '--comment="nightly run"'
                  - "--mail-type=END"
                  - "--mail-typ=END"
                  - "--mail-tpye=END"
                  - "-N 2"
                  - "--me=1"
                  - ""
                  - "--exclusive"
            """))
        #expect(printed.contains("test.yaml:10:9: error: 'extra' entry '--comment=my job' is 2 arguments to sbatch ('--comment=my', 'job'): '#SBATCH' lines are split at whitespace"), "\(printed)")
        #expect(printed.contains("note: write one option per entry"), "\(printed)")
        #expect(printed.contains("test.yaml:11:9: error: '#' in 'extra' entry '--comment=run #3' starts a comment in '#SBATCH' lines: sbatch would drop '#3'"), "\(printed)")
        #expect(printed.contains("test.yaml:12:9: error: unmatched ' in 'extra' entry"), "\(printed)")
        #expect(!printed.contains(":13:") && !printed.contains(":14:") && !printed.contains(":15:"), "quoted values, exact names and abbreviations are fine: \(printed)")
        #expect(printed.contains("test.yaml:16:9: warning: '--mail-tpye' is not an sbatch option djflow knows (sbatch refuses options it does not know); did you mean '--mail-type'?"), "\(printed)")
        #expect(printed.contains("test.yaml:17:9: error: 'extra' entries are long options: write '--nodes=…' rather than '-N'"), "\(printed)")
        #expect(printed.contains("test.yaml:18:9: error: '--me' is ambiguous to sbatch: it abbreviates --mem, --mem-bind"), "\(printed)")
        #expect(printed.contains("test.yaml:19:9: error: empty 'extra' entry"), "\(printed)")
        #expect(!printed.contains(":20:"), "\(printed)")
    }

    /// Item 4: every option djflow writes, in long, short, split and abbreviated forms, per table too.
    @Test(arguments: [
        ("--time=2:00:00", "'time:'"), ("--time 2:00:00", "'time:'"), ("-t 1:00", "'time:'"), ("-t1:00", "'time:'"),
        ("--mem=8G", "'memory:'"), ("--mem-per-cpu=1G", "'memory:'"), ("--mem-per=1G", "'memory:'"),
        ("--cpus-per-task=4", "'cpus:'"), ("-c 4", "'cpus:'"), ("--cpus-per-t=4", "'cpus:'"),
        ("--gres=gpu:1", "'gpus:'"), ("--gpus=2", "'gpus:'"), ("-G 1", "'gpus:'"), ("--tmp=10G", "'disk:'"),
        ("--array=0-3", "'workers:'"), ("-a 0-3", "'workers:'"), ("--job-name=x", "'<pipeline>-<job>'"), ("-J x", "'<pipeline>-<job>'"),
        ("--output=o.txt", "'log_dir:'"), ("-o o.txt", "'log_dir:'"), ("--error=e.txt", "'log_dir:'"), ("-e e", "'log_dir:'"),
        ("--dependency=afterok:1", "'depends_on:'"), ("-d afterok:1", "'depends_on:'"), ("--kill-on-invalid-dep=no", "'kill_on_invalid_dep:'"),
        ("--signal=USR1@30", "'signal_seconds:'"), ("--requeue", "'requeue:'"), ("--no-requeue", "'requeue:'"),
        ("--partition=gpu", "'partition:'"), ("-p gpu", "'partition:'"), ("--account=x", "'account:'"), ("-A x", "'account:'"),
        ("--qos=high", "'qos:'"), ("-q high", "'qos:'"), ("--constraint=a100", "'constraint:'"), ("-C a100", "'constraint:'"),
        ("\"--time\"=1", "'time:'"),
    ])
    func optionsDjflowWritesAreRefusedWithTheKeyToUse(option: String, key: String) {
        for where_ in ["pipeline", "table"] {
            let entry = "extra: [\(YAMLQuoting.quote(option))]"
            let yaml = where_ == "pipeline"
                ? pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}", extra: "targets: {slurm: {\(entry)}}")
                : pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], targets: {slurm: {\(entry)}}}")
            let printed = printedDiagnostics(yaml)
            #expect(printed.contains("error: 'extra' entry '\(option.replacingOccurrences(of: "\"", with: ""))' sets ") || printed.contains("error: 'extra' entry '\(option)' sets "), "\(printed)")
            #expect(printed.contains("which djflow writes: ") && printed.contains(key), "\(where_): \(printed)")
        }
    }
}
