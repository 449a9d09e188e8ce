// Typed, located reads from SpecNode that report diagnostics instead of throwing.

import DJFlowCore

/// Typed, located reads from a `SpecNode`, each reporting a diagnostic instead of throwing, so one pass
/// finds every problem. Targets use the same readers for their own options.
public struct SpecReader: Sendable {
    public var diagnostics = Diagnostics()

    public init() {}

    /// The entries of a mapping, after reporting keys not in `allowed` (with a suggestion).
    /// - Returns: nil (and an error) when the node is not a mapping; an empty list for null.
    public mutating func mapping(
        _ node: SpecNode, allowed: [String], context: @autoclosure () -> String
    ) -> [(key: Located<String>, value: SpecNode)]? {
        guard let pairs = openMapping(node, context: context()) else { return nil }
        for pair in pairs where !allowed.contains(pair.key.value) {
            diagnostics.error(
                "unknown key '\(pair.key.value)' in \(context())\(Suggestions.hint(for: pair.key.value, in: allowed))",
                at: pair.key.location,
                notes: ["allowed keys: \(allowed.joined(separator: ", "))"])
        }
        return pairs.filter { allowed.contains($0.key.value) }
    }

    /// A mapping whose keys are free-form (table names, env names); entries in file order.
    public mutating func openMapping(_ node: SpecNode, context: @autoclosure () -> String) -> [(key: Located<String>, value: SpecNode)]? {
        switch node {
        case .mapping(let pairs, _): return pairs
        case .scalar(let scalar) where scalar.isNull: return []
        default:
            diagnostics.error("\(context()) must be a mapping, found \(node.kindDescription)", at: node.location)
            return nil
        }
    }

    /// A non-null scalar's text.
    public mutating func string(_ node: SpecNode, context: @autoclosure () -> String) -> Located<String>? {
        guard case .scalar(let scalar) = node, !scalar.isNull else {
            diagnostics.error("\(context()) must be a string, found \(node.kindDescription)", at: node.location)
            return nil
        }
        if !ShellQuoting.canQuote(scalar.text) {
            diagnostics.error("\(context()) must not contain a NUL character", at: node.location)
            return nil
        }
        return Located(scalar.text, at: scalar.location)
    }

    /// A whole number within `range`.
    public mutating func integer(_ node: SpecNode, context: @autoclosure () -> String, range: ClosedRange<Int>) -> Located<Int>? {
        guard case .scalar(let scalar) = node, !scalar.isNull, !scalar.isQuoted,
              let value = Int(scalar.text.trimming(" ")) else {
            diagnostics.error("\(context()) must be a whole number, found '\(node.scalarText ?? node.kindDescription)'", at: node.location)
            return nil
        }
        guard range.contains(value) else {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            diagnostics.error("\(context()) must be \(bound), found \(value)", at: node.location)
            return nil
        }
        return Located(value, at: scalar.location)
    }

    /// `true` or `false`.
    public mutating func boolean(_ node: SpecNode, context: @autoclosure () -> String) -> Located<Bool>? {
        guard case .scalar(let scalar) = node, !scalar.isQuoted else {
            diagnostics.error("\(context()) must be true or false", at: node.location)
            return nil
        }
        switch scalar.text {
        case "true", "True", "TRUE": return Located(true, at: scalar.location)
        case "false", "False", "FALSE": return Located(false, at: scalar.location)
        default:
            diagnostics.error("\(context()) must be true or false, found '\(scalar.text)'", at: scalar.location)
            return nil
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    public mutating func stringList(_ node: SpecNode, context: @autoclosure () -> String) -> [Located<String>]? {
        switch node {
        case .sequence(let items, _):
            let values = items.compactMap { string($0, context: "an entry of \(context())") }
            return values.count == items.count ? values : nil
        case .scalar(let scalar) where scalar.isNull:
            return []
        case .scalar:
            return string(node, context: context()).map { [$0] }
        case .mapping:
            diagnostics.error("\(context()) must be a list, found a mapping", at: node.location)
            return nil
        }
    }

    /// A mapping of names to string values (environment variables, labels).
    public mutating func stringMap(_ node: SpecNode, context: @autoclosure () -> String) -> [(key: Located<String>, value: Located<String>)]? {
        guard let pairs = openMapping(node, context: context()) else { return nil }
        var out: [(key: Located<String>, value: Located<String>)] = []
        for pair in pairs {
            guard case .scalar(let scalar) = pair.value, !scalar.isNull else {
                diagnostics.error("value of '\(pair.key.value)' in \(context()) must be a string", at: pair.value.location)
                continue
            }
            out.append((pair.key, Located(scalar.text, at: scalar.location)))
        }
        return out
    }

    /// One of a closed set of words.
    public mutating func choice<T: RawRepresentable & CaseIterable>(
        _ node: SpecNode, as type: T.Type, context: @autoclosure () -> String
    ) -> Located<T>? where T.RawValue == String {
        guard let text = string(node, context: context()) else { return nil }
        if let value = T(rawValue: text.value) { return Located(value, at: text.location) }
        let options = T.allCases.map(\.rawValue)
        diagnostics.error(
            "unknown \(context()) '\(text.value)'\(Suggestions.hint(for: text.value, in: options))",
            at: text.location, notes: ["expected one of: \(options.joined(separator: ", "))"])
        return nil
    }
}

extension SpecNode {
    /// The text of a scalar, nil for collections.
    public var scalarText: String? {
        if case .scalar(let scalar) = self { return scalar.text }
        return nil
    }
}
