// The fields of a typed template context, read from its type alone: what the tag test and the override
// check compare a template's tags with.

/// Lists the field paths of a `Decodable` context type by decoding it from a recording decoder: every key
/// the synthesized `init(from:)` asks for is a field; nested structs and arrays of structs add their fields
/// under the key (`jobs/name`), the way Mustache sections reach them. Optionals count as present and arrays
/// as one element, so every field is seen, whatever a value would hold.
public enum ContextSchema {
    public static func fieldPaths<T: Decodable>(of type: T.Type) -> Set<String> {
        let recorder = Recorder()
        _ = try? T(from: SchemaDecoder(path: [], recorder: recorder))
        return recorder.paths
    }
}

private final class Recorder {
    var paths = Set<String>()
}

/// Types that are one value to a template, not fields: the decoder makes them without decoding them.
private protocol SchemaLeaf { static var placeholder: Self { get } }
extension EmbeddedFile: SchemaLeaf { static var placeholder: EmbeddedFile { EmbeddedFile("", encoding: .yamlBlockIndent4) } }

private struct SchemaError: Error {}

private struct SchemaDecoder: Decoder {
    let path: [String]
    let recorder: Recorder
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed(path: path, recorder: recorder))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { Unkeyed(path: path, recorder: recorder) }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(path: path, recorder: recorder) }

    static func value<T: Decodable>(_ type: T.Type, path: [String], recorder: Recorder) throws -> T {
        if let leaf = T.self as? SchemaLeaf.Type { return leaf.placeholder as! T }
        if T.self == String.self { return "" as! T }
        if T.self == Bool.self { return false as! T }
        if T.self == Int.self { return 0 as! T }
        return try T(from: SchemaDecoder(path: path, recorder: recorder))
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let path: [String]
        let recorder: Recorder
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }
        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let fieldPath = path + [key.stringValue]
            recorder.paths.insert(fieldPath.joined(separator: "/"))
            return try SchemaDecoder.value(type, path: fieldPath, recorder: recorder)
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            recorder.paths.insert((path + [key.stringValue]).joined(separator: "/"))
            return KeyedDecodingContainer(Keyed<NestedKey>(path: path + [key.stringValue], recorder: recorder))
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            recorder.paths.insert((path + [key.stringValue]).joined(separator: "/"))
            return Unkeyed(path: path + [key.stringValue], recorder: recorder)
        }
        func superDecoder() throws -> any Decoder { SchemaDecoder(path: path, recorder: recorder) }
        func superDecoder(forKey key: Key) throws -> any Decoder { SchemaDecoder(path: path + [key.stringValue], recorder: recorder) }
    }

    /// One element: enough to see the element type's fields.
    struct Unkeyed: UnkeyedDecodingContainer {
        let path: [String]
        let recorder: Recorder
        var codingPath: [any CodingKey] { [] }
        var count: Int? { 1 }
        var currentIndex = 0
        var isAtEnd: Bool { currentIndex >= 1 }
        init(path: [String], recorder: Recorder) { self.path = path; self.recorder = recorder }
        mutating func decodeNil() throws -> Bool { false }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            guard !isAtEnd else { throw SchemaError() }
            currentIndex += 1
            return try SchemaDecoder.value(type, path: path, recorder: recorder)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            currentIndex += 1
            return KeyedDecodingContainer(Keyed<NestedKey>(path: path, recorder: recorder))
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            currentIndex += 1
            return Unkeyed(path: path, recorder: recorder)
        }
        mutating func superDecoder() throws -> any Decoder { SchemaDecoder(path: path, recorder: recorder) }
    }

    struct Single: SingleValueDecodingContainer {
        let path: [String]
        let recorder: Recorder
        var codingPath: [any CodingKey] { [] }
        func decodeNil() -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try SchemaDecoder.value(type, path: path, recorder: recorder) }
    }
}
