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

/// A large file's `tables:` block is composed in two halves at once: the halves give exactly the tree of
/// the whole file, or the file is composed whole. Each text below is cut (forced with `splitAbove: 0`),
/// many of them where a line that looks like a table is inside a quoted scalar or a flow collection.
@Suite struct YAMLTablesSplitTests {
    static func dump(_ text: String, splitAbove: Int) -> String {
        YAMLComposerTests.dump(YAMLComposer.compose(YAMLComposerTests.source(text), splitAbove: splitAbove))
    }

    @Test(arguments: [
        "pipeline: p\ntables:\n  A: {tier: manual}\n  B: {tier: computed}\n  C: x\ntargets:\n  slurm: {}\n",
        "tables:\n  A:\n    definition: |+\n      x\n\n\n  B:\n    definition: |\n      y\n  C: {tier: manual}\nafter: 1\n",
        "tables:  # the tables\n  A:\n    definition: |\n      x\n\n  B:\n    definition: >-\n      y\n\n  C: 1\n",
        "tables:\n  A: {tier: manual}\n  B: \"one\n  C: two\"\n  D: x\n",
        "tables:\n  A: {tier: manual}\n  B: [x,\n  C, y]\n  D: z\ntargets: {}\n",
        "tables:\n  A: {tier: manual,\n  B: x}\n  C: 1\n  D: 2\n",
        "tables:\n  A: 1\n  B: 'x\n  C: y'\n  D: 2\nz: 'q'\n",
        "tables:\n  A: 1\n  B: \"x\n  C: y\nz: \"\n",
        "tables:\n  A: \"x\n  C: y\"\nz: \"\n",
        "tables:\n  A: [x,\n  C: y]\nz: 1]\n",
        "pipeline: p\ntables:\n  A: 1\n  B: 2\n  C: 3",
        "tables:\n  A: 1\n# a comment in column 0\n\n  B: 2\n  # indented\n  C: 3\nz: 1\n",
        "tables:\r\n  A: 1\r\n  B: 2\r\n  C: 3\r\nz: 1\r\n",
        "tables:\n  A:\n  - x\n  - y\n  B:\n  - z\n  C: 1\n",
        "tables:\n  A: one\n    two\n  B: three\n  C: 4\n",
        "tables:\n  A: 1\n  B: 2\n  C: |\n    x\n  D: 4\ntables:\n  E: 5\n",
    ])
    func halvesComposeAsTheWholeFile(_ text: String) {
        #expect(YAMLTablesSplit.cutLine(of: text) != nil, "the text is cut")
        let whole = Self.dump(text, splitAbove: .max)
        #expect(Self.dump(text, splitAbove: 0) == whole)
        if whole != "nil" { #expect(whole == YAMLComposerTests.dump(SpecLoader.composeWithYams(YAMLComposerTests.source(text)))) }
    }

    /// A table named in both halves is a duplicate key: the file goes to Yams, which locates it.
    @Test func duplicateAcrossTheCutIsReported() {
        let text = "pipeline: p\nrunner: {module: m}\ntables:\n  A: {tier: manual}\n  B: {tier: manual}\n  C: {tier: manual}\n  A: {tier: lookup}\n"
        #expect(YAMLTablesSplit.cutLine(of: text) == 6)
        #expect(YAMLComposer.compose(YAMLComposerTests.source(text), splitAbove: 0) == nil)
        let (_, diagnostics) = SpecLoader.load(YAMLComposerTests.source(text))
        #expect(diagnostics.all.map(\.message) == ["duplicate key 'A'"])
    }

    /// One table, a flow mapping, a tab, a nested `tables:`, a document marker after the block.
    @Test(arguments: ["tables:\n  A: 1\n", "tables:\n  A: 1\n  B: 2\n  C: 3\n...\n", "tables:\n  A: 1\n  B: 2\n  C: 3\n---\nb: 1\n", "tables: {A: 1, B: 2}\n", "tables:\n  A: 1\n\tB: 2\n  C: 3\n", "a:\n  tables:\n    A: 1\n    B: 2\n"])
    func blocksThatAreNotCut(_ text: String) {
        #expect(YAMLTablesSplit.cutLine(of: text) == nil)
    }

    /// A pipeline past the size where files are cut: the cut is near the middle, the tree is the whole
    /// file's, and the loader reads its tables (in chunks) with every diagnostic in file order.
    @Test func largePipelineIsCutAndReadInOrder() throws {
        var text = "pipeline: big\nrunner: {module: m}\ntables:\n"
        for i in 0..<3_000 {
            let name = String(format: "T%04d", i)
            switch i {
            case 0: text += "  \(name): {tier: manual}\n"
            case 10, 2_900: text += "  \(name): {tier: computed, depends_on: [T0000], workers: none}\n"
            default: text += "  \(name):\n    tier: computed\n    definition: |\n      -> T\(String(format: "%04d", i - 1))\n      ---\n      x: int  # \"quoted\" 'text'\n"
            }
        }
        text += "targets:\n  slurm: {partition: p}\n"
        #expect(text.utf8.count >= YAMLTablesSplit.minimumBytes)
        let cut = try #require(YAMLTablesSplit.cutLine(of: text))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(abs(cut - lines / 2) < lines / 10)
        let fast = YAMLComposer.compose(YAMLComposerTests.source(text))
        #expect(YAMLComposerTests.dump(fast) == Self.dump(text, splitAbove: .max))
        let (spec, diagnostics) = SpecLoader.load(YAMLComposerTests.source(text))
        #expect(spec?.tables.count == 3_000)
        #expect(spec?.tables.map(\.name.description) == (0..<3_000).map { String(format: "T%04d", $0) })
        #expect(diagnostics.all.map(\.message) == Array(repeating: "'workers' must be a whole number or auto, found 'none'", count: 2))
        let errorLines = diagnostics.all.compactMap { $0.location?.line }
        #expect(errorLines == errorLines.sorted() && errorLines.count == 2)
        #expect(errorLines.allSatisfy { text.split(separator: "\n", omittingEmptySubsequences: false)[$0 - 1].contains("workers: none") })
    }
}
