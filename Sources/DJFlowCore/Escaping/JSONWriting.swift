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
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        root.write(to: &out, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// A JSON string literal: `"` and `\` escaped, `\b \f \n \r \t`, other C0 controls as `\u00xx`;
    /// everything else (slashes, DEL, non-ASCII) as it is.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
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

/// A value being encoded. Containers are classes so that nested containers handed out by the encoder
/// grow in place.
private final class JSONNode {
    enum Kind { case empty, object, array, literal, string }
    var kind = Kind.empty
    var fields: [(key: String, node: JSONNode)] = []
    var items: [JSONNode] = []
    /// A number, `true`, `false` or `null` as written; or the text of a string.
    var text = ""

    static func encoded<T: Encodable>(_ value: T) -> JSONNode {
        let node = JSONNode()
        node.set(value)
        return node
    }

    static func literal(_ text: String) -> JSONNode {
        let node = JSONNode(); node.kind = .literal; node.text = text; return node
    }

    static func string(_ text: String) -> JSONNode {
        let node = JSONNode(); node.kind = .string; node.text = text; return node
    }

    func set<T: Encodable>(_ value: T) {
        if T.self == String.self { kind = .string; text = unsafeBitCast(value, to: String.self); return }
        if T.self == Int.self { kind = .literal; text = String(unsafeBitCast(value, to: Int.self)); return }
        if T.self == Bool.self { kind = .literal; text = unsafeBitCast(value, to: Bool.self) ? "true" : "false"; return }
        try? value.encode(to: JSONNodeEncoder(node: self))
    }

    func makeObject() { if kind != .object { kind = .object; fields = [] } }
    func makeArray() { if kind != .array { kind = .array; items = [] } }

    func write(to out: inout [UInt8], indent: Int) {
        switch kind {
        case .literal: out.append(contentsOf: text.utf8)
        case .string: JSONWriting.appendString(text, to: &out)
        case .empty: out.append(contentsOf: "{\n\n".utf8); pad(&out, indent); out.append(UInt8(ascii: "}"))
        case .array:
            out += [UInt8(ascii: "["), 0x0A]
            if items.isEmpty { out.append(0x0A) }
            for (index, item) in items.enumerated() {
                pad(&out, indent + 2)
                item.write(to: &out, indent: indent + 2)
                if index < items.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            pad(&out, indent)
            out.append(UInt8(ascii: "]"))
        case .object:
            out += [UInt8(ascii: "{"), 0x0A]
            // Keys in code-point order (String order, for the ASCII field names and the NFC text of keys);
            // of a key given twice, the last value wins, as in a dictionary.
            let sorted = fields.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }.map(\.element)
            let kept = sorted.indices.filter { $0 == sorted.count - 1 || sorted[$0 + 1].key != sorted[$0].key }
            if kept.isEmpty { out.append(0x0A) }
            for (number, index) in kept.enumerated() {
                pad(&out, indent + 2)
                JSONWriting.appendString(sorted[index].key, to: &out)
                out.append(contentsOf: " : ".utf8)
                sorted[index].node.write(to: &out, indent: indent + 2)
                if number < kept.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            pad(&out, indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    private func pad(_ out: inout [UInt8], _ count: Int) {
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
        private func add(_ key: Key, _ child: JSONNode) { node.fields.append((key.stringValue, child)) }
        mutating func encodeNil(forKey key: Key) throws { add(key, .literal("null")) }
        mutating func encode(_ value: String, forKey key: Key) throws { add(key, .string(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { add(key, .literal(String(value))) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, .literal(value ? "true" : "false")) }
        mutating func encode(_ value: Double, forKey key: Key) throws { add(key, .literal(JSONNodeEncoder.double(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { add(key, .encoded(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = JSONNode(); add(key, child)
            return JSONNodeEncoder(node: child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = JSONNode(); add(key, child)
            return JSONNodeEncoder(node: child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { JSONNodeEncoder(node: node) }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            let child = JSONNode(); add(key, child)
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
        mutating func encode<T: Encodable>(_ value: T) throws { node.items.append(.encoded(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = JSONNode(); node.items.append(child)
            return JSONNodeEncoder(node: child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = JSONNode(); node.items.append(child)
            return JSONNodeEncoder(node: child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder {
            let child = JSONNode(); node.items.append(child)
            return JSONNodeEncoder(node: child)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: JSONNode
        var codingPath: [any CodingKey] = []
        mutating func encodeNil() throws { node.kind = .literal; node.text = "null" }
        mutating func encode(_ value: Double) throws { node.kind = .literal; node.text = JSONNodeEncoder.double(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { node.set(value) }
    }
}
