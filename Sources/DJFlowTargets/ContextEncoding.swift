/// Builds Mustache contexts from plain values: dictionaries of strings, booleans, numbers and lists.
/// Contexts are dictionaries so a template can only print what the target put there.
public typealias TemplateContext = [String: any Sendable]

extension Array where Element == String {
    /// Lines as a list of `{line}` items for `{{#lines}}{{line}}{{/lines}}`.
    var asLines: [TemplateContext] { map { ["line": $0] } }
}
