// The value tree a template is rendered from: what `MustacheEncoding` makes of a typed context.

/// A context value as templates see it.
public enum TemplateValue: Sendable, Equatable {
    case string(String)
    /// A conditional section (`{{#retried}}`); printed as `true`/`false`.
    case bool(Bool)
    /// A section repeated per item (`{{#jobs}}`); empty is false.
    case list([TemplateValue])
    /// A struct: a section over it looks names up in its fields first.
    case object(TemplateFields)
    /// Another template file, replaced by the renderer with its text (`EmbeddedFile`).
    case embedded(EmbeddedFile)
    /// A `Line`: the object whose one field `line` is this text, without an array of fields (lists of lines
    /// are most of what templates print: a 10,000-table compile makes hundreds of thousands of them). Equal to
    /// that object.
    case line(String)

    /// The field `name` of an object; nil for anything else.
    func field(_ name: String) -> TemplateValue? {
        switch self {
        case .object(let fields): return fields[name]
        case .line(let text): return name == "line" ? .string(text) : nil
        default: return nil
        }
    }

    /// `.line` as the object it stands for; every other value as it is.
    private var expanded: TemplateValue {
        if case .line(let text) = self { return .object(["line": .string(text)]) }
        return self
    }

    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs.expanded, rhs.expanded) {
        case (.string(let a), .string(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        case (.embedded(let a), .embedded(let b)): return a == b
        default: return false
        }
    }

    /// The same tree as plain Swift values (`[String: Any]`, `[Any]`, `String`, `Bool`), for swift-mustache.
    var plain: Any {
        switch self {
        case .string(let text): return text
        case .bool(let flag): return flag
        case .list(let items): return items.map(\.plain)
        case .object(let fields): return Dictionary(uniqueKeysWithValues: zip(fields.keys, fields.values.map(\.plain)))
        case .embedded(let file): return file
        case .line(let text): return ["line": text]
        }
    }

    /// Replaces every embedded file, at any depth, with `text(file)`.
    public func resolvingEmbedded(_ text: (EmbeddedFile) -> String) -> TemplateValue {
        switch self {
        case .string, .bool, .line: return self
        case .embedded(let file): return .string(text(file))
        case .list(let items): return .list(items.map { $0.resolvingEmbedded(text) })
        case .object(let fields): return .object(fields.mapValues { $0.resolvingEmbedded(text) })
        }
    }
}
