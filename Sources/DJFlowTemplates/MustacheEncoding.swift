// Encodes a typed template context into the value tree templates are rendered from: objects by field
// name, lists, strings and booleans (integers print as decimal strings; a nil optional is left out).

/// Turns an `Encodable` context into a `TemplateValue` (an `EmbeddedFile` is kept for the renderer to resolve).
public enum MustacheEncoding {
    /// The value tree of `value`.
    public static func tree<T: Encodable>(_ value: T) -> TemplateValue {
        if let leaf = leafValue(value) { return leaf }
        let node = Node()
        // Encoding into plain containers cannot fail: no coder here throws.
        try? value.encode(to: TreeEncoder(node: node))
        return node.materialized
    }

    /// Values stored as they are rather than encoded field by field.
    fileprivate static func leafValue<T>(_ value: T) -> TemplateValue? {
        switch value {
        case let string as String: return .string(string)
        case let bool as Bool: return .bool(bool)
        case let int as Int: return .string(String(int))
        case let line as Line: return .object(["line": .string(line.line)])
        case let file as EmbeddedFile: return .embedded(file)
        default: return nil
        }
    }
}

/// A value being built: a keyed or unkeyed container, or a single value. Containers grow in place (a
/// class with plain stored collections, so appending never copies what is already there).
private final class Node {
    enum Kind { case empty, keyed, unkeyed, value }
    var kind = Kind.empty
    var fields: [String: Node] = [:]
    var items: [Node] = []
    var value = TemplateValue.string("")

    var materialized: TemplateValue {
        switch kind {
        case .empty: return .object([:])
        case .keyed: return .object(fields.mapValues(\.materialized))
        case .unkeyed: return .list(items.map(\.materialized))
        case .value: return value
        }
    }

    func makeKeyed() { if kind != .keyed { kind = .keyed; fields = [:] } }
    func makeUnkeyed() { if kind != .unkeyed { kind = .unkeyed; items = [] } }

    func set(_ key: String, _ child: Node) {
        makeKeyed()
        fields[key] = child
    }

    func append(_ child: Node) {
        makeUnkeyed()
        items.append(child)
    }

    func take(_ other: Node) {
        kind = other.kind; fields = other.fields; items = other.items; value = other.value
    }

    static func encoding<T: Encodable>(_ value: T) throws -> Node {
        let node = Node()
        if let leaf = MustacheEncoding.leafValue(value) { node.kind = .value; node.value = leaf } else { try value.encode(to: TreeEncoder(node: node)) }
        return node
    }
}

private struct TreeEncoder: Encoder {
    let node: Node
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeKeyed()
        return KeyedEncodingContainer(Keyed(node: node))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeUnkeyed()
        return Unkeyed(node: node)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey] = []
        mutating func encodeNil(forKey key: Key) throws {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { node.set(key.stringValue, try .encoding(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = Node(); node.set(key.stringValue, child)
            return TreeEncoder(node: child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node(); node.set(key.stringValue, child)
            return TreeEncoder(node: child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { TreeEncoder(node: node) }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            let child = Node(); node.set(key.stringValue, child)
            return TreeEncoder(node: child)
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] = []
        var count: Int { node.items.count }
        mutating func encodeNil() throws {}
        mutating func encode<T: Encodable>(_ value: T) throws { node.append(try .encoding(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = Node(); node.append(child)
            return TreeEncoder(node: child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node(); node.append(child)
            return TreeEncoder(node: child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder {
            let child = Node(); node.append(child)
            return TreeEncoder(node: child)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] = []
        mutating func encodeNil() throws {}
        mutating func encode<T: Encodable>(_ value: T) throws { node.take(try Node.encoding(value)) }
    }
}
