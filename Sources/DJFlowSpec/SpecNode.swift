// A YAML node with its source location, the form every spec reader works on.

import DJFlowCore
import Yams

/// A YAML node with its source location, the form every spec reader works on.
public enum SpecNode: Sendable {
    case scalar(Scalar)
    case sequence([SpecNode], SourceLocation)
    case mapping([(key: Located<String>, value: SpecNode)], SourceLocation)

    /// A scalar's text, how it was written (style), and whether YAML resolves it to null.
    public struct Scalar: Sendable {
        public var text: String
        public var location: SourceLocation
        public var isNull: Bool
        /// Literal (`|`) or folded (`>`) block: the text starts on the line after `location`.
        public var isBlock: Bool
        /// Single- or double-quoted: the text starts one column after `location`.
        public var isQuoted: Bool
    }

    public var location: SourceLocation {
        switch self {
        case .scalar(let scalar): return scalar.location
        case .sequence(_, let location), .mapping(_, let location): return location
        }
    }

    public var isNull: Bool {
        if case .scalar(let scalar) = self { return scalar.isNull }
        return false
    }

    /// What the node is, for messages ("a mapping", "a list", "a string").
    public var kindDescription: String {
        switch self {
        case .scalar(let scalar): return scalar.isNull ? "null" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

extension SpecNode {
    /// The plain scalars YAML reads as null.
    static let nullTexts: Set<String> = ["", "~", "null", "Null", "NULL"]

    /// Converts a composed Yams node; aliases are resolved by Yams already.
    init(_ node: Node, file: String) {
        func location(_ mark: Mark?) -> SourceLocation {
            SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }
        switch node {
        case .scalar(let scalar):
            let style = scalar.style
            self = .scalar(Scalar(
                text: scalar.string, location: location(scalar.mark),
                // YAML's null (`~`, `null`, `Null`, `NULL` or nothing, plain); `!!str null` is the text
                // "null" (other tags are refused by `YAMLPrecheck`). Composed without implicit-type rules,
                // so a value's tag is still the one written, or none.
                isNull: (style == .plain || style == .any) && Self.nullTexts.contains(scalar.string)
                    && scalar.tag.description != Tag.Name.str.rawValue,
                isBlock: style == .literal || style == .folded,
                isQuoted: style == .singleQuoted || style == .doubleQuoted))
        case .sequence(let sequence):
            self = .sequence(sequence.map { SpecNode($0, file: file) }, location(sequence.mark))
        case .mapping(let mapping):
            self = .mapping(mapping.map { pair in
                (Located(pair.key.string ?? "", at: location(pair.key.mark)), SpecNode(pair.value, file: file))
            }, location(mapping.mark))
        case .alias(let alias):
            self = .scalar(Scalar(text: "", location: location(alias.mark), isNull: true, isBlock: false, isQuoted: false))
        }
    }
}
