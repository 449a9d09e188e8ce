// Encodes a typed template context into the value tree templates are rendered from: objects by field
// name, lists, strings and booleans (integers print as decimal strings; a nil optional is left out).

/// Turns an `Encodable` context into a `TemplateValue` (an `EmbeddedFile` is kept for the renderer to resolve).
public enum MustacheEncoding {
    /// The value tree of `value`.
    /// Encoding into plain containers cannot fail: no coder here throws.
    public static func tree<T: Encodable>(_ value: T) -> TemplateValue { encoded(value) }

    /// Values stored as they are rather than encoded field by field (compared by type, which is cheaper
    /// than a dynamic cast per value).
    fileprivate static func leafValue<T>(_ value: T) -> TemplateValue? {
        if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if T.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if T.self == Int.self { return .string(String(unsafeBitCast(value, to: Int.self))) }
        if T.self == Line.self { return .object(["line": .string(unsafeBitCast(value, to: Line.self).line)]) }
        if T.self == EmbeddedFile.self { return .embedded(unsafeBitCast(value, to: EmbeddedFile.self)) }
        // Word lists (command lines run to thousands of words): not one container call per word.
        if T.self == [String].self { return .list(unsafeBitCast(value, to: [String].self).map { .string($0) }) }
        return nil
    }

    /// `value` encoded on its own, into a finished tree.
    fileprivate static func encoded<T: Encodable>(_ value: T) -> TemplateValue {
        if let leaf = leafValue(value) { return leaf }
        let node = Node()
        try? value.encode(to: TreeEncoder(node: node))
        return node.materialized
    }
}

/// A value being built: a keyed or unkeyed container, or a single value. Containers grow in place (a
/// class with plain stored collections, so appending never copies what is already there). Values encoded
/// whole are stored finished, in the fields or items the result is made of; only nested containers handed
/// out to the caller stay nodes, written into their place when the tree is materialized.
private final class Node {
    enum Kind { case empty, keyed, unkeyed, value }
    var kind = Kind.empty
    var fields = TemplateFields()
    var items: [TemplateValue] = []
    var value = TemplateValue.string("")
    /// Nested containers still being filled: under a field name, or at an item's index.
    var nested: [(key: String?, index: Int, node: Node)] = []

    var materialized: TemplateValue {
        switch kind {
        case .empty: return .object([:])
        case .keyed:
            guard !nested.isEmpty else { return .object(fields) }
            var fields = self.fields
            for entry in nested { fields[entry.key!] = entry.node.materialized }
            return .object(fields)
        case .unkeyed:
            guard !nested.isEmpty else { return .list(items) }
            var items = self.items
            for entry in nested { items[entry.index] = entry.node.materialized }
            return .list(items)
        case .value: return value
        }
    }

    func makeKeyed() { if kind != .keyed { kind = .keyed; fields = TemplateFields(); nested = [] } }
    func makeUnkeyed() { if kind != .unkeyed { kind = .unkeyed; items = []; nested = [] } }

    func set(_ key: String, _ value: TemplateValue) {
        makeKeyed()
        if !nested.isEmpty { nested.removeAll { $0.key == key } }
        fields[key] = value
    }

    func append(_ value: TemplateValue) {
        makeUnkeyed()
        items.append(value)
    }

    /// A nested container's node, stored under `key` (or appended when `key` is nil).
    func child(_ key: String?) -> Node {
        let node = Node()
        if let key {
            set(key, .object([:]))
            nested.append((key, 0, node))
        } else {
            append(.object([:]))
            nested.append((nil, items.count - 1, node))
        }
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
        mutating func encode(_ value: String, forKey key: Key) throws { node.set(key.stringValue, .string(value)) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { node.set(key.stringValue, .bool(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { node.set(key.stringValue, .string(String(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.set(key.stringValue, MustacheEncoding.encoded(value))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            TreeEncoder(node: node.child(key.stringValue)).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            TreeEncoder(node: node.child(key.stringValue)).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { TreeEncoder(node: node) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { TreeEncoder(node: node.child(key.stringValue)) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] = []
        var count: Int { node.items.count }
        mutating func encodeNil() throws {}
        mutating func encode(_ value: String) throws { node.append(.string(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { node.append(MustacheEncoding.encoded(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            TreeEncoder(node: node.child(nil)).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            TreeEncoder(node: node.child(nil)).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { TreeEncoder(node: node.child(nil)) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] = []
        mutating func encodeNil() throws {}
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.kind = .value
            node.value = MustacheEncoding.encoded(value)
        }
    }
}
