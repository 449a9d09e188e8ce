import DJFlowCore
import DJFlowKit
import DJFlowTargets
import Foundation
import Testing

/// Airflow lowering details the samples do not exercise; the DAGs themselves run in integration/airflow.
@Suite struct AirflowTargetTests {
    func files(_ yaml: String) throws -> [String: String] {
        let output = try compileFiles(SourceFile(path: "p.yaml", text: yaml), targets: [.airflow])
        return Dictionary(uniqueKeysWithValues: output.map { ($0.path, $0.contents) })
    }

    static let hostile = [
        "", "plain", "it's", "\"double\"", "both ' and \"", "back\\slash", "\\", "\\'", "a\nb\n", "cr\r\nlf", "\r", "tab\there",
        "{{ params }}", "{% raw %}", "{%endraw%}", "{%- endraw -%}", "{% endraw %}", "{#", "{# c #}", "%}", "}}", "{", "{{%",
        "ünïcødé ✓ 日本", "zero\u{200B}width", "bom\u{FEFF}", "line\u{2028}sep", "esc\u{1B}[0m", "del\u{7F}", "c1\u{85}",
        "emoji 🧪", "tag\u{E0001}", "$(touch /tmp/x) `id` ${HOME}",
    ]

    /// Python reads every literal back to exactly the original bytes.
    @Test func pythonLiteralsRoundTripThroughPython() throws {
        let program = Self.hostile.map { "print(\(PythonQuoting.literal($0)).encode('utf-8').hex())" }.joined(separator: "\n")
        let result = try run("/usr/bin/env", ["python3", "-c", program])
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines == Self.hostile.map { Data($0.utf8).map { String(format: "%02x", $0) }.joined() })
        for value in Self.hostile {
            #expect(!PythonQuoting.literal(value).contains("\n") && !PythonQuoting.literal(value).contains("\r"))
        }
    }

    @Test func pythonLiteralsLookLikeRepr() {
        #expect(PythonQuoting.literal("ephys") == "'ephys'")
        #expect(PythonQuoting.literal("it's") == "\"it's\"")
        #expect(PythonQuoting.literal("a'b\"c") == "'a\\'b\"c'")
        #expect(PythonQuoting.literal("x\u{200B}") == "'x\\u200b'")
        #expect(PythonQuoting.list(["a", "b"]) == "['a', 'b']")
        #expect(PythonQuoting.isIdentifier("ENV") && !PythonQuoting.isIdentifier("lambda") && !PythonQuoting.isIdentifier("a-b"))
    }

    @Test func jinjaVerbatimLeavesPlainTextAndSplitsEveryBlockStart() {
        #expect(JinjaQuoting.verbatim("db.example.org:3306") == "db.example.org:3306")
        #expect(JinjaQuoting.verbatim("a {{ b }}") == "{% raw %}a {{ b }}{% endraw %}")
        #expect(JinjaQuoting.verbatim("x{%endraw%}") == "{% raw %}x{{% endraw %}%{% raw %}endraw%}{% endraw %}")
        #expect(JinjaQuoting.verbatim("line\n") == "{% raw %}line\n{% endraw %}")
        #expect(JinjaQuoting.verbatim("a\rb") == "{% raw %}a{% endraw %}{{ '\\r' }}{% raw %}b{% endraw %}")
        // No `{%` survives inside a raw block: the only ones left are the tags it writes itself.
        let wrapped = JinjaQuoting.wrap("{%- endraw %}{%{%")
        let tags = wrapped.components(separatedBy: "{%").count - 1
        #expect(tags == wrapped.components(separatedBy: "{% raw %}").count - 1 + wrapped.components(separatedBy: "{% endraw %}").count - 1)
    }

    @Test func defaultsAreExplicitAndTriggered() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}"))
        let dag = try #require(out["airflow/w0-a.py"])
        #expect(dag.contains("    schedule=None,\n    catchup=False,\n"))
        #expect(dag.contains("dag_id='test-w0-a',"))
        #expect(dag.contains("tags=['djflow', 'test'],"))
        #expect(dag.contains("retry_delay=datetime.timedelta(seconds=30)"))
        #expect(dag.contains("weight_rule=\"absolute\""))
        #expect(dag.contains("skip_on_exit_code=None"))
        #expect(dag.contains("        priority_weight=1,\n"))
        #expect(!dag.contains("pool=") && !dag.contains("queue=") && !dag.contains("is_paused_upon_creation"))
        #expect(out["airflow/.airflowignore"]?.contains("\ndjflow_populate.py\n") == true)
        #expect(out["airflow/djflow_populate.py"] != nil)
    }

    @Test func optionsReachTheDag() throws {
        let out = try files(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], retries: 3, priority: 6, resources: {time: "1-00:00:00"}, workers: 5, throttle: 2}
            B: {tier: computed, depends_on: [A], targets: {airflow: {pool: gpu_pool, queue: gpu, priority_weight: 90}}}
            """, extra: """
            targets:
              airflow: {schedule: '0 3 * * *', catchup: true, owner: lab, tags: [ephys, nightly], pool: cpu, queue: default,
                        retry_delay: 120, dag_id_prefix: lab., start_date: '2025-02-28', paused_upon_creation: false}
            """))
        let dag = try #require(out["airflow/w0-a.py"])
        #expect(dag.contains("dag_id='lab.w0-a',"))
        #expect(dag.contains("schedule='0 3 * * *',\n    catchup=True,\n"))
        #expect(dag.contains("datetime.datetime(2025, 2, 28, tzinfo=datetime.timezone.utc)"))
        #expect(dag.contains("is_paused_upon_creation=False,"))
        #expect(dag.contains("default_args={\"owner\": 'lab'}"))
        #expect(dag.contains("tags=['ephys', 'nightly'],"))
        #expect(dag.contains("retry_delay=datetime.timedelta(seconds=120)"))
        // A: 5 workers, throttle 2, DataJoint priority 6 → weight 250, one day timeout; refresh capped at an hour.
        #expect(dag.contains(".expand(env=[dict(ENV, DJFLOW_WORKER=\"%d/5\" % i) for i in range(5)])"))
        #expect(dag.contains("max_active_tis_per_dagrun=2,"))
        #expect(dag.contains("execution_timeout=datetime.timedelta(seconds=86400),"))
        #expect(dag.contains("execution_timeout=datetime.timedelta(seconds=3600),"))
        #expect(dag.contains("retries=3,"))
        #expect(dag.contains("priority_weight=250,\n        pool='cpu',\n        queue='default',"))
        #expect(dag.contains("--table A --priority 6 --refresh-only ${args"))
        #expect(dag.contains("--table A --priority 6 --no-refresh ${args"))
        #expect(dag.contains("priority_weight=90,\n        pool='gpu_pool',\n        queue='gpu',"))
        #expect(dag.contains("tasks['a.refresh'] >> tasks['a']\n    tasks['a'] >> tasks['b']\n"))
    }

    @Test func gatedWorkflowsAreManualByDefaultAndAssetsOnRequest() throws {
        let tables = """
            S: {tier: manual}
            A: {tier: computed, depends_on: [S]}
            G: {tier: manual, depends_on: [A]}
            B: {tier: computed, depends_on: [G]}
            C: {tier: computed, depends_on: [B]}
            """
        let manual = try files(pipeline(tables))
        let w1 = try #require(manual["airflow/w1-g.py"])
        #expect(w1.contains("    schedule=None,\n") && !w1.contains("Asset"))
        #expect(w1.contains("# Gated: trigger it once people entered data into G."))
        let assets = try files(pipeline(tables, extra: "targets: {airflow: {gated: assets, schedule: '@daily'}}"))
        let w0 = try #require(assets["airflow/w0-a.py"])
        #expect(w0.contains("schedule='@daily',"))
        #expect(w0.contains("tasks['workflow.done'] = EmptyOperator(task_id='workflow.done', outlets=[Asset('x-djflow://test/w1-g')])") == false)
        #expect(w0.contains("tasks['workflow.done'] = EmptyOperator(task_id='workflow.done', outlets=[Asset('x-djflow://test/w0-a')])"))
        #expect(w0.contains("    [tasks['a']] >> tasks['workflow.done']\n"))
        #expect(w0.contains("from airflow.datasets import Dataset as Asset"))
        let gated = try #require(assets["airflow/w1-g.py"])
        #expect(gated.contains("    schedule=[Asset('x-djflow://test/w0-a')],\n"))
        #expect(!gated.contains("workflow.done"))  // nothing waits for it
    }

    @Test func credentialsComeFromTheWorkerEnvironmentOrAirflowNeverTheFile() throws {
        let base = """
            pipeline: p
            runner: {module: m}
            database: {secret: {user_env: LAB_USER, password_env: LAB_PASS, name: lab_db}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            """
        let environment = try #require(try files(base)["airflow/w0-a.py"])
        #expect(environment.contains("if [[ -z ${LAB_PASS+set} ]]; then echo"))
        #expect(environment.contains("export DJ_PASS=\"${LAB_PASS}\""))
        #expect(!environment.contains("'DJ_HOST'"))  // from the worker when database.host is not set
        let connection = try #require(try files(base + "\ntargets: {airflow: {credentials: connection}}")["airflow/w0-a.py"])
        #expect(connection.contains("'DJ_PASS': \"{{ conn['lab_db'].password }}\","))
        #expect(connection.contains("'DJ_HOST': \"{{ conn['lab_db'].host }}{{ (':' ~ conn['lab_db'].port) if conn['lab_db'].port else '' }}\","))
        #expect(!connection.contains("LAB_PASS"))
        let variables = try #require(try files(base + "\ntargets: {airflow: {credentials: {variables: {user: dj_user, password: dj_pass}}}}")["airflow/w0-a.py"])
        #expect(variables.contains("'DJ_USER': \"{{ var.value['dj_user'] }}\","))
        #expect(variables.contains("'DJ_PASS': \"{{ var.value['dj_pass'] }}\","))
    }

    @Test func commandsAreQuotedWrappedAndNeverEndInAScriptSuffix() throws {
        let out = try files("""
            pipeline: p
            runner: {module: lab.mod, python: "/opt/my env/{% endraw %}/run.sh", env: {ODD: "{{ x }}\\n"}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S], on_error: continue, max_calls: 3, processes: 2}}
            targets: {airflow: {env: {SITE: "a {% b"}}}
            """)
        let dag = try #require(out["airflow/w0-a.py"])
        let command = try #require(dag.split(separator: "\n").first { $0.contains("bash_command=SETUP + ") })
        #expect(command.hasSuffix("${args[@]+\"${args[@]}\"}{% endraw %}',"), "\(command)")
        #expect(command.contains("exec -- \\'/opt/my env/{{% endraw %}%{% raw %} endraw %}/run.sh\\' \"$DJFLOW_RUNNER\" --module lab.mod --table A --max-calls 3 --processes 2 --suppress-errors"), "\(command)")
        #expect(dag.contains("'ODD': '{% raw %}{{ x }}\\n{% endraw %}',"))
        #expect(dag.contains("'SITE': '{% raw %}a {{% endraw %}%{% raw %} b{% endraw %}',"))
    }

    @Test func idsAreValidUniqueAndStable() throws {
        let long = String(repeating: "VeryLongTableName", count: 16)
        let yaml = """
            pipeline: p
            runner: {module: m}
            tables: {S: {tier: manual}, \(long)One: {tier: computed, depends_on: [S], workers: 2}, \(long)Two: {tier: computed, depends_on: [S]}}
            targets: {airflow: {dag_id_prefix: \(String(repeating: "x", count: 200))}}
            """
        let first = try files(yaml), second = try files(yaml)
        #expect(first == second)
        let text = first.filter { $0.key.hasSuffix(".py") && !$0.key.hasSuffix("djflow_populate.py") }.values.joined()
        let pattern = try Regex(#"(?:task_id|dag_id)='([^']*)'"#)
        let ids = text.matches(of: pattern).map { String($0.output[1].substring!) }
        #expect(ids.count == 4)
        #expect(Set(ids).count == 4)
        for id in ids {
            #expect(id.count <= 250, "\(id)")
            #expect(id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "_.-".unicodeScalars.contains($0)) })
        }
    }

    @Test func badOptionsAreReportedWithLocationsAndSuggestions() {
        let printed = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], targets: {airflow: {pol: x}}}", extra: """
            targets:
              airflow:
                pool: 'gpu pool'
                schedul: '@daily'
                schedule: '@dayly'
                gated: asset
                dag_id_prefix: 'a/b'
                credentials: {connection: 'bad id'}
                env: {DJ_PASS: x, 'BAD-NAME': y}
                start_date: '2025-02-30'
                tags: ['']
            """))
        #expect(printed.contains("test.yaml:6:60: error: unknown key 'pol' in 'targets.airflow' of table 'A'; did you mean 'pool'?"), "\(printed)")
        #expect(printed.contains("test.yaml:9:11: error: Airflow pool 'gpu pool' may use only letters, digits and '_.-'"), "\(printed)")
        #expect(printed.contains("test.yaml:10:5: error: unknown key 'schedul' in 'targets.airflow'; did you mean 'schedule'?"), "\(printed)")
        #expect(printed.contains("test.yaml:11:15: error: unknown schedule preset '@dayly'; did you mean '@daily'?"), "\(printed)")
        #expect(printed.contains("test.yaml:12:12: error: unknown 'gated' behaviour 'asset'; did you mean 'assets'?"), "\(printed)")
        #expect(printed.contains("test.yaml:13:20: error: 'dag_id_prefix' may use only letters"), "\(printed)")
        #expect(printed.contains("test.yaml:14:31: error: Airflow Connection id 'bad id'"), "\(printed)")
        #expect(printed.contains("test.yaml:15:11: error: 'DJ_PASS' is set by djflow in every task"), "\(printed)")
        #expect(printed.contains("error: 'BAD-NAME' is not a valid environment variable name"), "\(printed)")
        #expect(printed.contains("test.yaml:16:17: error: 'start_date' must be a date YYYY-MM-DD, found '2025-02-30'"), "\(printed)")
        #expect(printed.contains("error: each tag must have 1 to 100 characters"), "\(printed)")
        #expect(printed.contains("  schedule: '@dayly'\n              ^"), "\(printed)")
    }

    @Test func cronAndCredentialsFormsAreChecked() {
        let cron = printedDiagnostics(pipeline("S: {tier: manual}", extra: "targets: {airflow: {schedule: '61 * *', credentials: enviroment}}"))
        #expect(cron.contains("error: 'schedule' must be none, a preset like '@daily' or a cron expression of five fields, found '61 * *'"), "\(cron)")
        #expect(cron.contains("error: unknown credentials 'enviroment'; did you mean 'environment'?"), "\(cron)")
        let noName = printedDiagnostics("""
            pipeline: test
            runner: {module: m}
            database: {host: localhost}
            tables: {S: {tier: manual}}
            targets: {airflow: {credentials: connection}}
            """)
        #expect(noName.contains("'credentials: connection' takes the Connection id from 'database.secret.name'"), "\(noName)")
    }
}
