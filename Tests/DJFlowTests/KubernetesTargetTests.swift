import DJFlowCore
import DJFlowKit
@testable import DJFlowTargets
import Foundation
import Testing
import Yams

/// Kubernetes lowering details the samples do not exercise, option diagnostics, and YAML quoting through a
/// real YAML parser (Yams/libyaml; the pytest suite does the same with PyYAML).
@Suite struct KubernetesTargetTests {
    func files(_ yaml: String) throws -> [String: String] {
        let output = try compileFiles(SourceFile(path: "p.yaml", text: yaml), targets: [.kubernetes])
        return Dictionary(uniqueKeysWithValues: output.map { ($0.path, $0.contents) })
    }

    /// Every document of a generated file, parsed.
    func documents(_ text: String) throws -> [[String: Any]] {
        try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    func jobs(_ text: String) throws -> [[String: Any]] {
        try documents(text).filter { $0["kind"] as? String == "Job" }
    }

    func printed(_ yaml: String) -> String {
        let source = SourceFile(path: "k.yaml", text: yaml)
        let analysis = CompilerPipeline.validate(source, targets: [.kubernetes])
        return DiagnosticPrinter(files: [source]).format(analysis.diagnostics)
    }

    // MARK: YAML quoting

    static let hostile = QuotingTests.hostile + [
        "yes", "no", "on", "null", "~", "0755", "1e3", ".inf", "a: b", "# c", "- d", "&a", "*a", "!t", "%d", "@", "|", ">",
        "[x]", "{x: y}", "---", "...", " lead", "trail ", "cr\rlf\r\n", "nel\u{85}", "ls\u{2028}ps\u{2029}", "nbsp\u{A0}",
        "bom\u{FEFF}", "del\u{7F}", "bell\u{7}esc\u{1B}", "c1\u{80}\u{9F}", "nul\u{0}", "emoji 😀", "\u{FFFD}", "\u{FFFE}",
    ]

    @Test(arguments: hostile)
    func aQuotedScalarParsesBackExactly(value: String) throws {
        let text = "key: \(YAMLQuoting.quote(value))\nlist: [\(YAMLQuoting.quote(value)), 1]\n"
        let parsed = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(parsed["key"] as? String == value, "\(YAMLQuoting.quote(value))")
        #expect((parsed["list"] as? [Any])?.first as? String == value)
        #expect(!YAMLQuoting.quote(value).contains("\n"))
    }

    @Test(arguments: hostile)
    func keysAndBlocksParseBackExactly(value: String) throws {
        let key = YAMLQuoting.key(value.isEmpty ? "k" : value)
        let block = YAMLQuoting.block("first line\n" + value + "\nlast\n", indent: 4)
        let text = "outer:\n  \(key): 1\n  text: \(block)\n  after: 2\n"
        let parsed = try #require(try Yams.load(yaml: text) as? [String: Any])
        let outer = try #require(parsed["outer"] as? [String: Any])
        #expect(outer[value.isEmpty ? "k" : value] as? Int == 1, "\(text)")
        #expect(outer["text"] as? String == "first line\n" + value + "\nlast\n", "\(text)")
        #expect(outer["after"] as? Int == 2)
    }

    @Test func blockScalarsKeepTrailingNewlinesAndFallBackWhenTheyCannot() throws {
        for value in ["a", "a\n", "a\n\n\n", "a\n  indented\n\nb", "#!/usr/bin/env python3\nx = 1\n"] {
            let text = "v: " + YAMLQuoting.block(value, indent: 2) + "\nw: 1\n"
            let parsed = try #require(try Yams.load(yaml: text) as? [String: Any])
            #expect(parsed["v"] as? String == value, "\(text)")
            #expect(YAMLQuoting.canBeBlock(value))
        }
        for value in ["", " leading", "\n", "tab\u{7}", "\r\n"] {
            #expect(!YAMLQuoting.canBeBlock(value))
            #expect(YAMLQuoting.block(value, indent: 2) == YAMLQuoting.quote(value))
        }
    }

    @Test func reservedWordsAreQuotedAsKeys() {
        #expect(YAMLQuoting.key("app.kubernetes.io/name") == "app.kubernetes.io/name")
        #expect(YAMLQuoting.key("on") == "\"on\"")
        #expect(YAMLQuoting.key("Yes") == "\"Yes\"")
        #expect(YAMLQuoting.key("a b") == "\"a b\"")
        #expect(YAMLQuoting.quote("tab\there\u{7F}") == "\"tab\\there\\x7F\"")
    }

    // MARK: Names and labels

    @Test func longNamesFitWithStableHashesAndStayUnique() throws {
        let long = "VeryLongTableNameThatKeepsGoingAndGoingForeverAndEver"
        let out = try files("""
            pipeline: A_Pipeline-With-A-Rather-Long-Name
            runner: {module: m, image: 'img:1'}
            database: {secret: {name: db}}
            tables: {S: {tier: manual}, \(long)One: {tier: computed, depends_on: [S], workers: 3}, \(long)Two: {tier: computed, depends_on: [S]}}
            """)
        let all = try out.values.flatMap(jobs)
        let names = all.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(names.count == 3 && Set(names).count == 3, "\(names)")
        for name in names {
            #expect(name.count <= 55, "\(name)")
            #expect(name.range(of: #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#, options: .regularExpression) != nil, "\(name)")
        }
        #expect(names.contains { $0.hasSuffix("-refresh") })
        let again = try files("""
            pipeline: A_Pipeline-With-A-Rather-Long-Name
            runner: {module: m, image: 'img:1'}
            database: {secret: {name: db}}
            tables: {S: {tier: manual}, \(long)One: {tier: computed, depends_on: [S], workers: 3}, \(long)Two: {tier: computed, depends_on: [S]}}
            """)
        #expect(again == out, "stable")
        for job in all {
            let labels = try #require((job["metadata"] as? [String: Any])?["labels"] as? [String: String])
            for value in labels.values {
                #expect(value.count <= 63 && value.range(of: #"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"#, options: .regularExpression) != nil, "\(value)")
            }
            #expect(labels["app.kubernetes.io/managed-by"] == "djflow")
            #expect(labels["app.kubernetes.io/part-of"] == "A_Pipeline-With-A-Rather-Long-Name")
        }
    }

    @Test func labelValuesAndNamesAreFitted() {
        #expect(KubernetesNames.labelValue("_x_") == "x")
        #expect(KubernetesNames.labelValue(String(repeating: "a", count: 80)).count == 63)
        #expect(KubernetesNames.label("Ephys_Pipeline-w1-clustering_task") == "ephys-pipeline-w1-clustering-task")
    }

    // MARK: Quantities

    @Test func resourcesBecomeQuantities() throws {
        let out = try files(pipeline("S: {tier: manual}\nG: {tier: computed, depends_on: [S], resources: {cpus: 4, memory: 1536M, gpus: 2, disk: 2T, time: '1-00:00:00'}}"))
        let file = try #require(out["kubernetes/w0-g.yaml"])
        let job = try #require(try jobs(file).first)
        let spec = try #require(job["spec"] as? [String: Any])
        #expect(spec["activeDeadlineSeconds"] as? Int == 86400)
        let pod = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let resources = try #require(container["resources"] as? [String: [String: String]])
        #expect(resources["requests"] == ["cpu": "4", "memory": "1536Mi", "ephemeral-storage": "2097152Mi"])
        #expect(resources["limits"] == ["cpu": "4", "memory": "1536Mi", "ephemeral-storage": "2097152Mi", "nvidia.com/gpu": "2"])
        let tolerations = try #require(pod["tolerations"] as? [[String: String]])
        #expect(tolerations == [["key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"]])
    }

    @Test func retriesTimeAndFailurePolicy() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], retries: 3, workers: 5, throttle: 2}\nB: {tier: computed, depends_on: [A]}"))
        let text = try #require(out["kubernetes/w0-a.yaml"])
        let all = try jobs(text)
        #expect(all.count == 3)
        let a = try #require(all.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "test-a" })
        let spec = try #require(a["spec"] as? [String: Any])
        #expect(spec["completionMode"] as? String == "Indexed")
        #expect(spec["completions"] as? Int == 5 && spec["parallelism"] as? Int == 2 && spec["backoffLimitPerIndex"] as? Int == 3)
        #expect(text.contains("        values: [2, 3, 4]\n"))
        #expect(text.contains("        status: \"True\"\n"))
        #expect(text.contains("\"--no-refresh\""))
        #expect(text.contains("\"--refresh-only\""))
        #expect(!text.contains("Secret\"\nmetadata"), "never a Secret object")
        #expect(!text.contains("kind: \"Secret\""))
    }

    // MARK: Diagnostics

    @Test func missingImageAndSecretAreReportedWithLocations() {
        let text = printed("pipeline: p\nrunner: {module: m}\ntables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}\n")
        // Where each setting belongs: under runner:, and at the top level for the missing database: section.
        #expect(text.contains("k.yaml:2:1: error: the kubernetes target needs 'runner.image'"), "\(text)")
        #expect(text.contains("k.yaml:1:1: error: the kubernetes target needs 'database.secret.name'"), "\(text)")
        #expect(text.contains("note: add 'database: {secret: {name: p-db}}'"), "\(text)")
        #expect(!text.contains(":1:11:"), "never at the pipeline name")
    }

    @Test func unknownOptionsSuggestTheRightOnes() {
        let text = printed(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], targets: {kubernetes: {node_selectr: {a: b}}}}",
                                    extra: "targets:\n  kubernetes: {namespce: x, wait_timeout: -1, restrictions: {w0-aa: '{}'}, tolerations: [{key: k, operator: Exist}]}"))
        #expect(text.contains("k.yaml:6:63: error: unknown key 'node_selectr' in 'targets.kubernetes' of table 'A'; did you mean 'node_selector'?"), "\(text)")
        #expect(text.contains("error: unknown key 'namespce' in 'targets.kubernetes'; did you mean 'namespace'?"), "\(text)")
        #expect(text.contains("error: 'wait_timeout' (seconds) must be between 1 and 31536000, found -1"), "\(text)")
        #expect(text.contains("error: unknown workflow 'w0-aa' in 'targets.kubernetes.restrictions'; did you mean 'w0-a'?"), "\(text)")
        #expect(text.contains("error: unknown toleration operator 'Exist'; did you mean 'Exists'?"), "\(text)")
        #expect(text.contains("\n  kubernetes: {namespce:"), "the line is printed")
    }

    @Test func badNamesAreRejected() {
        let text = printed("""
            pipeline: p
            runner: {module: m, image: 'has space:1'}
            database: {secret: {name: Bad_Secret}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            targets: {kubernetes: {namespace: Prod, node_selector: {'bad key!': v}, image_pull_secrets: [ok, 'no/slash']}}
            """)
        #expect(text.contains("k.yaml:2:28: error: image 'has space:1' is not a container image reference"), "\(text)")
        #expect(text.contains("k.yaml:3:27: error: Secret name 'Bad_Secret' must be a DNS-1123 subdomain"), "\(text)")
        #expect(text.contains("error: namespace 'Prod' must be a DNS-1123 label"), "\(text)")
        #expect(text.contains("error: node selector key 'bad key!' is not a Kubernetes label key"), "\(text)")
        #expect(text.contains("error: image pull Secret 'no/slash' must be a DNS-1123 subdomain"), "\(text)")
    }

    @Test func dollarSignsAreEscapedForKubernetesExpansion() throws {
        let out = try files("""
            pipeline: p
            runner: {module: m, image: 'i:1', env: {A: '$(HOME) $$ $'}}
            database: {host: 'h$(X)', secret: {name: db}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            """)
        let text = try #require(out["kubernetes/w0-a.yaml"])
        #expect(text.contains("value: \"$$(HOME) $$$$ $$\""), "\(text)")
        #expect(text.contains("value: \"h$$(X)\""))
        #expect(text.contains("- \"$(DJFLOW_RESTRICTION)\""), "the one intended reference stays")
    }
}
