import DJFlowCore
import DJFlowKit
import DJFlowTargets
import Foundation
import Testing

/// HTCondor lowering details, quoting and option diagnostics. HTCondor's own parser checks the output in
/// `integration/htcondor` (the Python bindings); these tests pin the text.
@Suite struct HTCondorTargetTests {
    func files(_ yaml: String) throws -> [String: String] {
        let output = try compileFiles(SourceFile(path: "p.yaml", text: yaml), targets: [.htcondor])
        return Dictionary(uniqueKeysWithValues: output.map { ($0.path, $0.contents) })
    }

    // MARK: quoting

    @Test func argumentsUseTheNewSyntax() {
        #expect(HTCondorQuoting.argument("plain-1.0/x") == "plain-1.0/x")
        #expect(HTCondorQuoting.argument("") == "''")
        #expect(HTCondorQuoting.argument("a b") == "'a b'")
        // The reference's example: one "two" 'spacey 'quoted' argument'
        let line = HTCondorQuoting.arguments([.value("one"), .value("\"two\""), .value("spacey 'quoted' argument")])
        #expect(line == #""one '""two""' 'spacey ''quoted'' argument'""#)
        #expect(HTCondorQuoting.argument("$(x) $ENV(HOME)") == "'$(DOLLAR)(x) $(DOLLAR)ENV(HOME)'")
        #expect(HTCondorQuoting.arguments([.raw("$(Process)"), .value("a")]) == "\"$(Process) a\"")
    }

    @Test func environmentUsesTheNewSyntax() {
        let env = HTCondorQuoting.environment([("A", .value("1")), ("B", .value("x y")), ("C", .value("\"q\"")), ("D", .raw("$(Cluster)"))])
        #expect(env == #""A=1 B='x y' C='""q""' D=$(Cluster)""#)
    }

    @Test func varsValuesDoubleQuotesThenEscapeForDAGMan() {
        // Rule 7 of the reference: it's "quoted" -> it''s \"\"quoted\"\"
        #expect(HTCondorQuoting.varsValue("it's \"quoted\"") == #"it''s \"\"quoted\"\""#)
        #expect(HTCondorQuoting.varsValue("a\\b") == #"a\\b"#)
        #expect(HTCondorQuoting.varsValue("$(x)") == "$(DOLLAR)(x)")
        #expect(HTCondorQuoting.varsValue(#"{"s": "M'1"}"#) == #"{\"\"s\"\": \"\"M''1\"\"}"#)
    }

    @Test func lineBreaksCannotBeWrittenAndNodeNamesAreChecked() {
        #expect(!HTCondorQuoting.canWrite("a\nb") && !HTCondorQuoting.canWrite("a\rb") && HTCondorQuoting.canWrite("a b"))
        #expect(HTCondorQuoting.isNodeName("w0-recording") && HTCondorQuoting.isNodeName("curated_clustering"))
        for bad in ["a.b", "a+b", "a b", "", "PARENT", "child", "All_Nodes", "ü"] { #expect(!HTCondorQuoting.isNodeName(bad), "\(bad)") }
    }

    // MARK: lowering

    @Test func submitFileHasOneQueueUnitsLogsAndCredentialsByName() throws {
        let out = try files("""
            pipeline: p
            runner: {module: m}
            database: {host: 'db:3306', backend: postgresql, secret: {user_env: LAB_USER, password_env: LAB_PASS}}
            tables:
              S: {tier: manual}
              A: {tier: computed, depends_on: [S], workers: 3, resources: {cpus: 4, memory: 1536M, disk: 2G, gpus: 1, time: '2:00:00'}}
            targets: {htcondor: {log_dir: run/logs}}
            """)
        let sub = try #require(out["htcondor/w0-a/a.sub"])
        let lines = sub.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("queue") } == ["queue 3"])
        for expected in ["universe = vanilla", "executable = djflow_node.sh", "request_cpus = 4", "request_memory = 1536MB", "request_disk = 2GB",
                         "request_gpus = 1", "allowed_execute_duration = 7200", "log = run/logs/a.log",
                         "output = run/logs/a.$(Cluster).$(Process).out", "error = run/logs/a.$(Cluster).$(Process).err",
                         "getenv = LAB_USER, LAB_PASS", "transfer_input_files = djflow_populate.py"] {
            #expect(lines.contains(expected), "\(expected)\n\(sub)")
        }
        #expect(sub.contains(#"environment = "DJ_HOST=db:3306 DJ_BACKEND=postgresql DJFLOW_USER_ENV=LAB_USER DJFLOW_PASSWORD_ENV=LAB_PASS DJFLOW_JOB_ID=$(Cluster).$(Process) DJFLOW_RETRY_FAILED=$(DJFLOW_RETRY_FAILED:)""#), "\(sub)")
        #expect(sub.contains(#"arguments = "$(RETRY:0) '$(DJFLOW_RESTRICTION:)' python3 --module m --table A --no-refresh --worker $(Process)/3""#))
        #expect(!sub.lowercased().contains("getenv = true"))
        let refresh = try #require(out["htcondor/w0-a/a.refresh.sub"])
        #expect(refresh.contains("--refresh-only\"") && refresh.contains("\nqueue\n") && refresh.contains("request_memory = 1GB"))
        #expect(out["htcondor/run/logs/README"] != nil)
    }

    @Test func dagHasRetriesAbortPriorityCategoriesAndNearestEdges() throws {
        let out = try files(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], workers: 2, retries: 3, priority: 2, targets: {htcondor: {category: gpu}}}
            B: {tier: computed, depends_on: [A]}
            C: {tier: computed, depends_on: [A, B], on_error: continue}
            """, extra: "targets: {htcondor: {max_jobs: {gpu: 2}}}"))
        let dag = try #require(out["htcondor/w0-a.dag"])
        for expected in ["JOB a_refresh w0-a/a.refresh.sub", "JOB a w0-a/a.sub", "PARENT a_refresh CHILD a", "PARENT a CHILD b", "PARENT b CHILD c",
                         "RETRY a 3 UNLESS-EXIT 2", "RETRY a_refresh 3 UNLESS-EXIT 2", "ABORT-DAG-ON c 2 RETURN 2", "PRIORITY a 3",
                         "CATEGORY a +gpu", "CATEGORY a_refresh +gpu", "MAXJOBS +gpu 2"] {
            #expect(dag.contains(expected + "\n"), "\(expected)\n\(dag)")
        }
        #expect(!dag.contains("PARENT a CHILD c"), "transitive edge")
        #expect(!dag.contains("RETRY b"), "retries: 0 writes no RETRY")
        #expect(out["htcondor/w0-a/c.sub"]?.contains("--suppress-errors") == true)
        #expect(out["htcondor/all.dag"]?.contains("SPLICE w0-a w0-a.dag\n") == true)
    }

    @Test func containerUniverseWhenThePipelineNamesAnImage() throws {
        let out = try files("""
            pipeline: p
            runner: {module: m, image: 'ghcr.io/lab/img:1.0'}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            """)
        let sub = try #require(out["htcondor/w0-a/a.sub"])
        #expect(sub.contains("universe = container\ncontainer_image = docker://ghcr.io/lab/img:1.0\n"), "\(sub)")
    }

    @Test func throttledTablesBecomeOneNodePerWorkerInACategory() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], workers: 3, throttle: 2}"))
        let dag = try #require(out["htcondor/w0-a.dag"])
        #expect(dag.contains("PARENT a_refresh CHILD a_w0 a_w1 a_w2\n"), "\(dag)")
        #expect(dag.contains("VARS a_w2 APPEND DJFLOW_WORKER=\"2\"\n") && dag.contains("MAXJOBS a-workers 2\n"))
        #expect(out["htcondor/w0-a/a.sub"]?.contains("--worker $(DJFLOW_WORKER:0)/3") == true)
    }

    @Test func passwordFileReplacesThePasswordVariable() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}", extra: "targets: {htcondor: {password_file: \"/home/a b/.dj pass\"}}"))
        let sub = try #require(out["htcondor/w0-a/a.sub"])
        #expect(sub.contains("DJFLOW_PASSWORD_FILE='/home/a b/.dj pass'") && sub.contains("getenv = DJ_USER\n"), "\(sub)")
    }

    // MARK: diagnostics

    @Test func badOptionsAreLocatedWithSuggestions() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], targets: {htcondor: {categroy: x}}}", extra: """
            targets:
              htcondor:
                log_dri: logs
                extra: ['request_memory = 2G', 'queue 3', 'requirments = true', 'bad line', '+Good = "x', 'getenv = true']
                max_jobs: {gpu: 0}
                category: cpu
            """))
        #expect(printed.contains("test.yaml:6:61: error: unknown key 'categroy' in 'targets.htcondor' of table 'A'; did you mean 'category'?"), "\(printed)")
        #expect(printed.contains("test.yaml:9:5: error: unknown key 'log_dri' in 'targets.htcondor'; did you mean 'log_dir'?"), "\(printed)")
        #expect(printed.contains("test.yaml:10:13: error: 'request_memory' is written by djflow"), "\(printed)")
        #expect(printed.contains("test.yaml:10:36: error: each 'extra' entry must be one submit command like 'requirements = (OpSys == \"LINUX\")', found 'queue 3'"), "\(printed)")
        #expect(printed.contains("test.yaml:10:47: warning: 'requirments' is not a submit command djflow knows (HTCondor ignores unknown commands silently); did you mean 'requirements'?"), "\(printed)")
        #expect(printed.contains("error: each 'extra' entry must be one submit command like"), "\(printed)")
        #expect(printed.contains("error: unbalanced double quote in the value of '+Good'"), "\(printed)")
        #expect(printed.contains("error: 'getenv' is written by djflow"), "\(printed)")
        #expect(printed.contains("error: 'max_jobs.gpu' must be between 1 and 100000, found 0"), "\(printed)")
        #expect(printed.contains("error: category 'cpu' has no limit in 'targets.htcondor.max_jobs'"), "\(printed)")
    }

    @Test func valuesWithLineBreaksAreRejectedForHTCondor() {
        let printed = printedDiagnostics("""
            pipeline: p
            runner: {module: m, env: {NOTE: "a\\nb"}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets: {htcondor: {log_dir: ../up, env: {X: "1\\n2"}}}
            """)
        #expect(printed.contains("test.yaml:2:33: error: runner.env.NOTE cannot be written for the HTCondor target: it holds a line break"), "\(printed)")
        #expect(printed.contains("error: 'log_dir' must be a relative folder"), "\(printed)")
        #expect(printed.contains("error: the value of 'X' cannot be written in a submit file: it holds a line break"), "\(printed)")
    }
}
