// Encodes a typed template context into the value tree the Mustache renderer walks: dictionaries by field
// name, arrays, strings and booleans (integers print as decimal strings; a nil optional is left out).

/// Turns an `Encodable` context into `[String: Any]` / `[Any]` / `String` / `Bool` values (and
/// `EmbeddedFile`, kept as is for the renderer to resolve).
public enum MustacheEncoding {
    /// The value tree of `value`.
    public static func tree<T: Encodable>(_ value: T) -> Any {
        if let leaf = leafValue(value) { return leaf }
        let node = Node()
        // Encoding into plain containers cannot fail: no coder here throws.
        try? value.encode(to: TreeEncoder(node: node))
        return node.materialized
    }

    /// Values stored as they are rather than encoded field by field.
    fileprivate static func leafValue(_ value: Any) -> Any? {
        switch value {
        case let string as String: return string
        case let bool as Bool: return bool
        case let int as Int: return String(int)
        case let file as EmbeddedFile: return file
        default: return nil
        }
    }
}

/// A value being built: a keyed or unkeyed container, or a single value.
private final class Node {
    enum Storage { case empty, keyed([String: Node]), unkeyed([Node]), value(Any) }
    var storage = Storage.empty

    var materialized: Any {
        switch storage {
        case .empty: return [String: Any]()
        case .keyed(let fields): return fields.mapValues(\.materialized)
        case .unkeyed(let items): return items.map(\.materialized)
        case .value(let value): return value
        }
    }

    func set(_ key: String, _ child: Node) {
        if case .keyed(var fields) = storage { fields[key] = child; storage = .keyed(fields) } else { storage = .keyed([key: child]) }
    }

    func append(_ child: Node) {
        if case .unkeyed(var items) = storage { items.append(child); storage = .unkeyed(items) } else { storage = .unkeyed([child]) }
    }

    static func encoding<T: Encodable>(_ value: T) throws -> Node {
        let node = Node()
        if let leaf = MustacheEncoding.leafValue(value) { node.storage = .value(leaf) } else { try value.encode(to: TreeEncoder(node: node)) }
        return node
    }
}

private struct TreeEncoder: Encoder {
    let node: Node
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed = node.storage {} else { node.storage = .keyed([:]) }
        return KeyedEncodingContainer(Keyed(node: node))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .unkeyed = node.storage {} else { node.storage = .unkeyed([]) }
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
        var count: Int {
            if case .unkeyed(let items) = node.storage { return items.count }
            return 0
        }
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
        mutating func encode<T: Encodable>(_ value: T) throws { node.storage = try Node.encoding(value).storage }
    }
}
