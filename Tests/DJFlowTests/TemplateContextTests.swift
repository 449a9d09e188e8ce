// Typed template contexts (issue 11, item 2): every template under Templates/ has one context struct, every
// tag the template uses names a field of it, every field is used, and the encoding the renderer walks is
// the one the templates expect.
import DJFlowCore
import DJFlowKit
import DJFlowTargets
@testable import DJFlowTemplates
import Foundation
import Testing

@Suite struct TemplateContextTests {
    /// Every Mustache template on disk, by name without `.mustache`.
    static let templateNames: [String] = {
        let root = packageRoot.appendingPathComponent("Templates")
        let walker = FileManager.default.enumerator(atPath: root.path)
        var names: [String] = []
        while let path = walker?.nextObject() as? String {
            if path.hasSuffix(".mustache") { names.append(String(path.dropLast(".mustache".count))) }
        }
        return names.sorted()
    }()

    static func text(_ name: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent("Templates/\(name).mustache"), encoding: .utf8)
    }

    @Test func everyTemplateHasExactlyOneContext() {
        #expect(Self.templateNames.count >= 8)
        let contexts = TemplateContexts.all.map { $0.template }
        #expect(contexts.sorted() == Self.templateNames, "one context struct per template under Templates/, registered in TemplateContexts.all")
    }

    @Test(arguments: templateNames)
    func everyTagNamesAFieldOfTheContext(template: String) throws {
        let context = try #require(TemplateContexts.all.first { $0.template == template })
        let schema = context.fieldPaths
        let tags = try #require(TemplateTags.scan(try Self.text(template)))
        for tag in tags where tag.kind != .close && tag.kind != .partial {
            #expect(TemplateTags.resolve(tag, inSchema: schema) != nil,
                    "\(template).mustache:\(tag.line):\(tag.column): '\(tag.name)' is no field of \(context) where it stands (sections: \(tag.sections))")
        }
    }

    @Test(arguments: templateNames)
    func everyFieldOfTheContextIsUsed(template: String) throws {
        let context = try #require(TemplateContexts.all.first { $0.template == template })
        let tags = try #require(TemplateTags.scan(try Self.text(template)))
        let resolved = tags.filter { $0.kind != .close }.compactMap { TemplateTags.resolve($0, inSchema: context.fieldPaths) }
        // `exit.usage` uses `exit` too.
        let used = Set(resolved.flatMap { path in path.split(separator: "/").indices.map { path.split(separator: "/")[...$0].joined(separator: "/") } })
        // Shared values (the exit codes) may be printed in part.
        let unused = context.fieldPaths.subtracting(used).filter { !$0.hasPrefix("exit/") }
        #expect(unused.isEmpty, "\(context) has fields \(template).mustache never prints: \(unused.sorted())")
    }

    /// One rendering method per file: templates lay out every line. No context value holds several lines
    /// (pre-built YAML, shell or Python structure); only embedded files (the runner in a ConfigMap) do.
    @Test(arguments: sampleNames, TargetKind.allCases)
    func contextValuesAreSingleLines(sample: String, target: TargetKind) throws {
        let source = try sampleSource(sample)
        let analysis = CompilerPipeline.analyse(source)
        let input = TargetInput(spec: try #require(analysis.spec), plan: try #require(analysis.plan), sourceName: source.path)
        var diagnostics = Diagnostics()
        let checked = try #require(target.check(input, diagnostics: &diagnostics), "\(diagnostics.all)")
        var strings = 0
        func walk(_ value: TemplateValue, _ path: String, _ file: String) {
            switch value {
            case .string(let text), .line(let text):
                strings += 1
                #expect(!text.contains("\n") && !text.contains("\r"), "\(file): \(path) holds several lines: \(text.prefix(80).debugDescription)")
            case .list(let items): for item in items { walk(item, path, file) }
            case .object(let fields): for (key, field) in fields { walk(field, path + "/" + key, file) }
            case .bool, .embedded: break
            }
        }
        for artifact in checked.artifacts(for: input) {
            if case .template(let context) = artifact.content { walk(context.templateValue, "", artifact.path) }
        }
        #expect(strings > 10)
    }

    @Test func schemaListsNestedOptionalAndListFields() {
        struct Inner: Codable { var name: String; var retried: Bool }
        struct Outer: Codable { var jobs: [Inner]; var count: Int; var note: String?; var file: EmbeddedFile; var done: Inner? }
        #expect(ContextSchema.fieldPaths(of: Outer.self) == ["jobs", "jobs/name", "jobs/retried", "count", "note", "file", "done", "done/name", "done/retried"])
    }

    @Test func nestedContainersLandWhereTheyWereOpened() throws {
        struct Custom: Encodable {
            enum Keys: String, CodingKey { case first, inner, list, last }
            func encode(to encoder: any Encoder) throws {
                var keyed = encoder.container(keyedBy: Keys.self)
                try keyed.encode("1", forKey: .first)
                var inner = keyed.nestedContainer(keyedBy: Keys.self, forKey: .inner)
                var list = keyed.nestedUnkeyedContainer(forKey: .list)
                try keyed.encode("4", forKey: .last)
                try inner.encode("2", forKey: .first)   // filled after the field after it was written
                try list.encode("a")
                var item = list.nestedContainer(keyedBy: Keys.self)
                try list.encode("c")
                try item.encode("b", forKey: .first)
            }
        }
        guard case .object(let tree) = MustacheEncoding.tree(Custom()) else { Issue.record("not an object"); return }
        #expect(tree.keys == ["first", "inner", "list", "last"], "fields keep the order they were opened in")
        #expect(tree["inner"] == .object(["first": .string("2")]))
        #expect(tree["list"] == .list([.string("a"), .object(["first": .string("b")]), .string("c")]))
        #expect(tree["last"] == .string("4"))
    }

    @Test func encodingGivesTheValuesTheRendererExpects() throws {
        struct Inner: Codable { var name: String; var retried: Bool }
        struct Outer: Codable { var jobs: [Inner]; var count: Int; var note: String?; var lines: [Line]; var file: EmbeddedFile }
        let value = Outer(jobs: [Inner(name: "a", retried: true)], count: 3, note: nil, lines: ["x", "y"].asLines,
                          file: EmbeddedFile("runner/djflow_populate.py", encoding: .yamlBlockIndent4))
        guard case .object(let tree) = MustacheEncoding.tree(value) else { Issue.record("not an object"); return }
        #expect(tree["note"] == nil, "a nil optional is absent, so an inverted section renders")
        #expect(tree["count"] == .string("3"), "integers print as decimals")
        #expect(tree["jobs"] == .list([.object(["name": .string("a"), "retried": .bool(true)])]))
        #expect(tree["lines"] == .list([.object(["line": .string("x")]), .object(["line": .string("y")])]))
        #expect(tree["file"] == .embedded(value.file), "embedded files are kept for the renderer to resolve")
    }

    @Test func sectionsOverBooleansKeepTheScopeAndListsOpenOne() throws {
        let schema: Set<String> = ["rbac", "rbac/createAccount", "rbac/metadata", "rbac/metadata/line", "jobs", "jobs/line", "header"]
        let tags = try #require(TemplateTags.scan("{{#rbac}}{{#createAccount}}{{#metadata}}{{line}}{{/metadata}}{{header}}{{/createAccount}}{{/rbac}}{{#jobs}}{{createAccount}}{{/jobs}}"))
        let resolved = tags.filter { $0.kind != .close }.map { TemplateTags.resolve($0, inSchema: schema) }
        #expect(resolved == ["rbac", "rbac/createAccount", "rbac/metadata", "rbac/metadata/line", "header", "jobs", nil])
    }

    @Test func anOverrideMayUseAnyFieldOfTheContextWhereItIsReachable() throws {
        let original = try Self.text("slurm/job.sbatch")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("djflow-ctx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("slurm"), withIntermediateDirectories: true)
        // scaleCap is printed only inside {{#autoWorkers}} by the embedded template, but it is a top-level field.
        try (original + "# cap {{scaleCap}}\n").write(to: root.appendingPathComponent("slurm/job.sbatch.mustache"), atomically: true, encoding: .utf8)
        _ = try TemplateLibrary(overrideFolder: root.path, contexts: TemplateContexts.all)
        // A field of another scope is not reachable: `arguments` belongs to submit.sh's submissions.
        try (original + "# {{arguments}}\n").write(to: root.appendingPathComponent("slurm/job.sbatch.mustache"), atomically: true, encoding: .utf8)
        #expect(throws: TemplateLibrary.LoadFailure.self) { try TemplateLibrary(overrideFolder: root.path, contexts: TemplateContexts.all) }
    }
}
