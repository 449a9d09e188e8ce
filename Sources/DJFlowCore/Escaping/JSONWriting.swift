// JSON output: an `Encodable` value written as pretty-printed JSON with sorted keys, byte for byte what
// Foundation's `JSONEncoder` writes with `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`, in a
// fraction of the time (`djflow plan --format json` writes tens of megabytes for 10,000 tables).

/// Writes `Encodable` values as JSON. Supports what djflow's plan and status hold: structs, arrays,
/// dictionaries with string keys, strings, booleans, integers and nil optionals (left out, as Foundation
/// does). A floating-point value is written with Swift's shortest round-trip form.
public enum JSONWriting {
    /// `value` as pretty-printed JSON (two-space indent, `"key" : value`, keys in code-point order), no
    /// final newline.
    public static func pretty<T: Encodable>(_ value: T) -> String {
        let root = JSONNode.encoded(value)
        var writer = JSONTextWriter()
        writer.out.reserveCapacity(1 << 16)
        writer.write(.node(root), indent: 0)
        return String(decoding: writer.out, as: UTF8.self)
    }

    /// A JSON string literal: `"` and `\` escaped, `\b \f \n \r \t`, other C0 controls as `\u00xx`;
    /// everything else (slashes, DEL, non-ASCII) as it is.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Text without a quote, backslash or control character is copied whole.
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true { out.append(UInt8(ascii: "\"")); return }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out += [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A value in the tree: a container still being filled, or a finished string or literal (leaves are not
/// objects of their own: a 10,000-table plan has over a million of them).
private enum JSONValue {
    case node(JSONNode)
    /// A number, `true`, `false` or `null` as written.
    case literal(String)
    case string(String)
}

/// A value being encoded. Containers are classes so that nested containers handed out by the encoder
/// grow in place.
private final class JSONNode {
    enum Kind { case empty, object, array, single }
    var kind = Kind.empty
    var fields: [(key: String, value: JSONValue)] = []
    var items: [JSONValue] = []
    /// What a single-value container holds.
    var single = JSONValue.literal("null")

    static func encoded<T: Encodable>(_ value: T) -> JSONNode {
        let node = JSONNode()
        node.set(value)
        return node
    }

    /// A string, integer or boolean as a leaf (compared by type: cheaper than encoding it); nil otherwise.
    static func leaf<T>(_ value: T) -> JSONValue? {
        if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if T.self == Int.self { return .literal(String(unsafeBitCast(value, to: Int.self))) }
        if T.self == Bool.self { return .literal(unsafeBitCast(value, to: Bool.self) ? "true" : "false") }
        return nil
    }

    /// `value` as a leaf when it is one, else as a node of its own.
    static func value<T: Encodable>(_ value: T) -> JSONValue {
        if let leaf = leaf(value) { return leaf }
        let node = encoded(value)
        return node.kind == .single ? node.single : .node(node)
    }

    func set<T: Encodable>(_ value: T) {
        if let leaf = Self.leaf(value) { kind = .single; single = leaf; return }
        try? value.encode(to: JSONNodeEncoder(node: self))
    }

    func makeObject() { if kind != .object { kind = .object; fields = [] } }
    func makeArray() { if kind != .array { kind = .array; items = [] } }
}

/// Writes the tree. Objects of one type have the same keys in the same order: the sorted order of each
/// list of keys is worked out once and reused.
private struct JSONTextWriter {
    var out: [UInt8] = []
    private var shapes: [(keys: [String], kept: [Int])] = []

    mutating func write(_ value: JSONValue, indent: Int) {
        switch value {
        case .literal(let text): out.append(contentsOf: text.utf8)
        case .string(let text): JSONWriting.appendString(text, to: &out)
        case .node(let node): write(node, indent: indent)
        }
    }

    private mutating func write(_ node: JSONNode, indent: Int) {
        switch node.kind {
        case .single: write(node.single, indent: indent)
        case .empty: out.append(contentsOf: "{\n\n".utf8); pad(indent); out.append(UInt8(ascii: "}"))
        case .array:
            out += [UInt8(ascii: "["), 0x0A]
            let items = node.items
            if items.isEmpty { out.append(0x0A) }
            for (index, item) in items.enumerated() {
                pad(indent + 2)
                write(item, indent: indent + 2)
                if index < items.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            pad(indent)
            out.append(UInt8(ascii: "]"))
        case .object:
            out += [UInt8(ascii: "{"), 0x0A]
            let fields = node.fields
            let kept = order(of: fields)
            if kept.isEmpty { out.append(0x0A) }
            for (number, index) in kept.enumerated() {
                pad(indent + 2)
                JSONWriting.appendString(fields[index].key, to: &out)
                out.append(contentsOf: " : ".utf8)
                write(fields[index].value, indent: indent + 2)
                if number < kept.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            pad(indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The positions of the fields to write: keys in code-point order (String order, for the ASCII field
    /// names and the NFC text of keys); of a key given twice, the last value wins, as in a dictionary.
    private mutating func order(of fields: [(key: String, value: JSONValue)]) -> [Int] {
        shapes: for shape in shapes where shape.keys.count == fields.count {
            for (index, key) in shape.keys.enumerated() where fields[index].key != key { continue shapes }
            return shape.kept
        }
        let sorted = fields.indices.sorted { (fields[$0].key, $0) < (fields[$1].key, $1) }
        let kept = sorted.indices.filter { $0 == sorted.count - 1 || fields[sorted[$0 + 1]].key != fields[sorted[$0]].key }.map { sorted[$0] }
        // At most 64 shapes are kept: dictionaries, whose keys vary, would otherwise grow the list without end.
        if shapes.count < 64 { shapes.append((fields.map(\.key), kept)) }
        return kept
    }

    private mutating func pad(_ count: Int) {
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: count))
    }
}

private struct JSONNodeEncoder: Encoder {
    let node: JSONNode
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(Keyed(node: node))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return Unkeyed(node: node)
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node) }

    private static func double(_ value: Double) -> String {
        value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: JSONNode
        var codingPath: [any CodingKey] = []
        private func add(_ key: Key, _ value: JSONValue) { node.fields.append((key.stringValue, value)) }
        mutating func encodeNil(forKey key: Key) throws { add(key, .literal("null")) }
        mutating func encode(_ value: String, forKey key: Key) throws { add(key, .string(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { add(key, .literal(String(value))) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, .literal(value ? "true" : "false")) }
        mutating func encode(_ value: Double, forKey key: Key) throws { add(key, .literal(JSONNodeEncoder.double(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { add(key, JSONNode.value(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = JSONNode(); add(key, .node(child))
            return JSONNodeEncoder(node: child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = JSONNode(); add(key, .node(child))
            return JSONNodeEncoder(node: child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { JSONNodeEncoder(node: node) }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            let child = JSONNode(); add(key, .node(child))
            return JSONNodeEncoder(node: child)
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: JSONNode
        var codingPath: [any CodingKey] = []
        var count: Int { node.items.count }
        mutating func encodeNil() throws { node.items.append(.literal("null")) }
        mutating func encode(_ value: String) throws { node.items.append(.string(value)) }
        mutating func encode(_ value: Int) throws { node.items.append(.literal(String(value))) }
        mutating func encode(_ value: Double) throws { node.items.append(.literal(JSONNodeEncoder.double(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws { node.items.append(JSONNode.value(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = JSONNode(); node.items.append(.node(child))
            return JSONNodeEncoder(node: child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = JSONNode(); node.items.append(.node(child))
            return JSONNodeEncoder(node: child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder {
            let child = JSONNode(); node.items.append(.node(child))
            return JSONNodeEncoder(node: child)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: JSONNode
        var codingPath: [any CodingKey] = []
        mutating func encodeNil() throws { node.kind = .single; node.single = .literal("null") }
        mutating func encode(_ value: Double) throws { node.kind = .single; node.single = .literal(JSONNodeEncoder.double(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.kind = .single
            node.single = JSONNode.value(value)
        }
    }
}
