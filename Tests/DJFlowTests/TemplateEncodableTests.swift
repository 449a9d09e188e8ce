// The value tree each context writes by hand (`templateValue`, what the renderer reads) is the tree its
// `Codable` encoding gives: checked on an instance of every context type with every field filled (distinct
// text in each string, lists of two, optionals present) and again with every optional nil, so a field left
// out of a hand-written tree, or put under another name, fails here whatever the samples hold.
import DJFlowCore
import DJFlowTargets
@testable import DJFlowTemplates
import Testing

@Suite struct TemplateEncodableTests {
    @Test(arguments: TemplateContexts.all.map { $0.template }, [true, false])
    func handWrittenTreeIsTheCodableTree(template: String, optionalsPresent: Bool) throws {
        let type = try #require(TemplateContexts.all.first { $0.template == template })
        let context = try Self.filled(type, optionalsPresent: optionalsPresent)
        let hand = context.templateValue
        let codable = MustacheEncoding.tree(context)
        let same = hand == codable  // compared first: a failing #expect would print both whole trees
        #expect(same, "\(type).templateValue differs from its Codable encoding:\n\(Self.difference(hand, codable))")
        if optionalsPresent {
            // The filled instance really reaches every field, so the comparison covers the whole schema.
            #expect(Self.paths(of: codable).isSuperset(of: type.fieldPaths.subtracting(["header"])))
        }
    }

    @Test func leavesEncodeAsCodableDoes() {
        #expect(7.templateValue == MustacheEncoding.tree(7))
        #expect("a\"b".templateValue == MustacheEncoding.tree("a\"b"))
        #expect(true.templateValue == MustacheEncoding.tree(true))
        #expect(["x", "y"].templateValue == MustacheEncoding.tree(["x", "y"]))
        #expect(Line("l").templateValue == MustacheEncoding.tree(Line("l")))
        #expect([Line("l")].templateValue == MustacheEncoding.tree([Line("l")]))
        let file = EmbeddedFile("runner/djflow_populate.py", encoding: .yamlBlockIndent4)
        #expect(file.templateValue == MustacheEncoding.tree(file))
    }

    /// A line is the object `{line: text}` to every reader: equal to it, the same field, the same text rendered.
    @Test func aLineIsTheObjectWithItsOneField() throws {
        let object = TemplateValue.object(["line": .string("a 'b'")])
        #expect(TemplateValue.line("a 'b'") == object && object == .line("a 'b'"))
        #expect(TemplateValue.line("a") != .line("b") && TemplateValue.line("a") != .string("a"))
        #expect(TemplateValue.line("x").field("line") == .string("x") && TemplateValue.line("x").field("other") == nil)
        let template = try #require(CompiledTemplate("{{#lines}}- {{line}}\n{{/lines}}{{^lines}}none{{/lines}}"))
        #expect(template.render(.object(["lines": .list([.line("1"), .line("2")])])) == "- 1\n- 2\n")
        let asObjects = TemplateValue.object(["lines": .list(["1", "2"].map { .object(["line": .string($0)]) })])
        #expect(template.render(.object(["lines": .list([.line("1"), .line("2")])])) == template.render(asObjects))
        #expect(TemplateLibrary.renderWithMustache(text: "{{#lines}}- {{line}}\n{{/lines}}", .object(["lines": .list([.line("1")])])) == "- 1\n")
    }

    /// The check itself can fail: a tree missing a field, or with a field renamed, is not equal.
    @Test func aMissingOrRenamedFieldIsCaught() {
        let full: TemplateValue = .object(["a": .string("1"), "b": .list([.string("2")])])
        #expect(full != .object(["a": .string("1")]))
        #expect(full != .object(["a": .string("1"), "c": .list([.string("2")])]))
        #expect(full != .object(["a": .string("2"), "b": .list([.string("1")])]))
    }

    static func filled<T: TemplateContext>(_ type: T.Type, optionalsPresent: Bool) throws -> T {
        try ContextWalker.decode(T.self, walk: Filling(optionalsPresent: optionalsPresent))
    }

    /// The field paths of a tree (`jobs/name`), as `ContextSchema` names them.
    static func paths(of value: TemplateValue, prefix: String = "") -> Set<String> {
        switch value {
        case .object(let fields):
            var paths = Set<String>()
            for (key, child) in fields {
                let path = prefix.isEmpty ? key : prefix + "/" + key
                paths.insert(path)
                paths.formUnion(Self.paths(of: child, prefix: path))
            }
            return paths
        case .list(let items): return items.reduce(into: Set<String>()) { $0.formUnion(paths(of: $1, prefix: prefix)) }
        default: return []
        }
    }

    static func difference(_ a: TemplateValue, _ b: TemplateValue) -> String {
        let left = paths(of: a), right = paths(of: b)
        return "only hand-written: \(left.subtracting(right).sorted())\nonly Codable: \(right.subtracting(left).sorted())"
    }
}

/// Fills any context with made-up values: each string its path and a number, integers counting up,
/// booleans alternating, lists of two elements, optionals present or nil as asked.
private final class Filling: ContextWalk {
    let optionalsPresent: Bool
    var counter = 0
    init(optionalsPresent: Bool) { self.optionalsPresent = optionalsPresent }
    var elementsPerList: Int { 2 }
    func next() -> Int { counter += 1; return counter }
    func leaf<T: Decodable>(_ type: T.Type, at path: [String]) -> T? {
        if T.self == EmbeddedFile.self { return EmbeddedFile("runner/\(next())", encoding: .yamlBlockIndent4) as? T }
        if T.self == String.self { return "\(path.joined(separator: "/"))#\(next())" as? T }
        if T.self == Bool.self { return (next() % 2 == 0) as? T }
        if T.self == Int.self { return next() as? T }
        return nil
    }
}
