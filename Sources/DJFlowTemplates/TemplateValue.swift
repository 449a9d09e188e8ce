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

    /// The field `name` of an object; nil for anything else.
    func field(_ name: String) -> TemplateValue? {
        if case .object(let fields) = self { return fields[name] }
        return nil
    }

    /// The same tree as plain Swift values (`[String: Any]`, `[Any]`, `String`, `Bool`), for swift-mustache.
    var plain: Any {
        switch self {
        case .string(let text): return text
        case .bool(let flag): return flag
        case .list(let items): return items.map(\.plain)
        case .object(let fields): return Dictionary(uniqueKeysWithValues: zip(fields.keys, fields.values.map(\.plain)))
        case .embedded(let file): return file
        }
    }

    /// Replaces every embedded file, at any depth, with `text(file)`.
    public func resolvingEmbedded(_ text: (EmbeddedFile) -> String) -> TemplateValue {
        switch self {
        case .string, .bool: return self
        case .embedded(let file): return .string(text(file))
        case .list(let items): return .list(items.map { $0.resolvingEmbedded(text) })
        case .object(let fields): return .object(fields.mapValues { $0.resolvingEmbedded(text) })
        }
    }
}
