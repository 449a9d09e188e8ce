// The event-stream YAML composer against Yams: the same nodes, locations and styles on every YAML file of
// the project and on edge cases, and a fallback to Yams wherever the file leaves the plain case.

import DJFlowCore
import DJFlowSpec
import Foundation
import Testing

@Suite struct YAMLComposerTests {
    /// Every YAML file of the project: samples, test fixtures, fuzz seeds and regressions.
    static let projectFiles: [String] = {
        let root = packageRoot.path
        let folders = ["Samples", "Tests", "Fuzz"]
        var files: [String] = []
        for folder in folders {
            guard let walker = FileManager.default.enumerator(atPath: "\(root)/\(folder)") else { continue }
            for case let path as String in walker where path.hasSuffix(".yaml") || path.hasSuffix(".yml") || folder == "Fuzz" && path.contains("spec/") {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(root)/\(folder)/\(path)", isDirectory: &isDirectory), !isDirectory.boolValue {
                    files.append("\(folder)/\(path)")
                }
            }
        }
        return files.sorted()
    }()

    /// The tree with every field the spec readers use: kinds, texts, locations, null, block and quoted.
    static func dump(_ node: SpecNode?) -> String {
        guard let node else { return "nil" }
        var out = ""
        func walk(_ node: SpecNode, _ indent: String) {
            switch node {
            case .scalar(let s):
                out += "\(indent)scalar \(s.location) null=\(s.isNull) block=\(s.isBlock) quoted=\(s.isQuoted) \(s.text.debugDescription)\n"
            case .sequence(let items, let location):
                out += "\(indent)sequence \(location)\n"
                for item in items { walk(item, indent + "  ") }
            case .mapping(let pairs, let location):
                out += "\(indent)mapping \(location)\n"
                for pair in pairs {
                    out += "\(indent)  key \(pair.key.location) \(pair.key.value.debugDescription)\n"
                    walk(pair.value, indent + "    ")
                }
            }
        }
        walk(node, "")
        return out
    }

    static func source(_ text: String) -> SourceFile { SourceFile(path: "test.yaml", text: text) }

    @Test func projectFilesComposeAsYamsComposesThem() throws {
        #expect(Self.projectFiles.count >= 15, "the walk found the project's YAML files")
        var plain = 0
        for path in Self.projectFiles {
            let text = String(decoding: try Data(contentsOf: packageRoot.appendingPathComponent(path)), as: UTF8.self)
            let file = SourceFile(path: path, text: text)
            guard let fast = YAMLComposer.compose(file) else { continue }  // not plain: Yams composes it
            plain += 1
            #expect(Self.dump(fast) == Self.dump(SpecLoader.composeWithYams(file)), "\(path)")
        }
        #expect(plain >= 10, "most project files are plain YAML")
    }

    /// Plain YAML in every form the readers meet: the fast composer and Yams agree on each.
    @Test(arguments: [
        "pipeline: p\ntables:\n  A: {tier: manual}\n  B: {tier: computed, depends_on: [A], workers: 4}\n",
        "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: 'null'\ng: \"~\"\nh: nULL\n",
        "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\nkeep: |+\n  x\n\n",
        "- 1\n- two\n- [3, 'four', \"five\"]\n- {six: 6}\n-\n- - nested\n",
        "\u{FEFF}bom: true\n",
        "crlf: yes\r\nnext: [a, b]\r\n",
        "wide: 'é漢字'\nafter: {k: v}  # a comment\nemoji: \"😀\" \n",
        "# only a comment before\n---\nstarted: explicitly\n...\n",
        "key with spaces: 'value with: colon'\n? explicit\n: value\n",
        "empty: {}\nlist: []\nquoted key 'x': 1\n\"double\": 2\n",
        "just a scalar\n",
        "'quoted root'\n",
        "- a\n",
        "definition: |\n  -> Session\n  ---\n  x : int\n",
    ])
    func plainFormsAgreeWithYams(_ text: String) throws {
        let fast = try #require(YAMLComposer.compose(Self.source(text)), "plain YAML takes the fast path")
        #expect(Self.dump(fast) == Self.dump(SpecLoader.composeWithYams(Self.source(text))))
    }

    /// What the fast path leaves to Yams: anchors, aliases, tags, duplicate keys, keys that are
    /// collections, several documents, no document, and syntax errors.
    @Test(arguments: [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: !custom 1\n",
        "a: 1\na: 2\n",
        "a: 1\n'a': 2\n",
        "? [a, b]\n: 1\n",
        "? {a: 1}\n: 1\n",
        "--- a\n--- b\n",
        "",
        "# nothing but a comment\n",
        "a: [1, 2\n",
        "a:\n\t- tab\n",
        "a: 'unterminated\n",
        "- a\nb: c\n",
    ])
    func otherFormsFallBackToYams(_ text: String) {
        #expect(YAMLComposer.compose(Self.source(text)) == nil)
    }

    /// The loader gives the same spec and diagnostics whichever path composes: a duplicate key still gets
    /// its located error (from the Yams path), and plain files load.
    @Test func loaderReportsDuplicatesThroughTheFallback() {
        let (_, diagnostics) = SpecLoader.load(Self.source("pipeline: p\nrunner: {module: m}\ntables:\n  A: {tier: manual}\n  A: {tier: lookup}\n"))
        #expect(diagnostics.all.filter { $0.severity == .error }.map(\.message) == ["duplicate key 'A'"])
        #expect(diagnostics.all.first?.location?.line == 5)
    }
}
