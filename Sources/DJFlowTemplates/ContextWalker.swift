// Walks a `Decodable` context type by decoding it from made-up input: the one decoder behind reading a
// context's fields from its type (`ContextSchema`) and filling every field of a context (the tests).

/// What a walk does at each step: which value a leaf gets, whether optionals are present, how many elements
/// a list has, and what to note when a field is reached.
protocol ContextWalk: AnyObject {
    /// Elements decoded for each list.
    var elementsPerList: Int { get }
    /// Whether optional fields are present (decoded) or nil.
    var optionalsPresent: Bool { get }
    /// Called for each field the context's `init(from:)` asks for, with its path (`["jobs", "name"]`).
    func reached(field path: [String])
    /// A value for a leaf type (strings, numbers, booleans, embedded files), or nil to decode the type's
    /// own fields.
    func leaf<T: Decodable>(_ type: T.Type, at path: [String]) -> T?
}

extension ContextWalk {
    func reached(field path: [String]) {}
}

/// Thrown when a synthesized `init(from:)` asks for more list elements than the walk gives.
struct ContextWalkEnded: Error {}

/// A `Decoder` that answers every request from a `ContextWalk`. Nested structs and arrays of structs walk
/// their fields under the key (`jobs/name`), the way Mustache sections reach them.
struct ContextWalker: Decoder {
    let path: [String]
    let walk: any ContextWalk
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func decode<T: Decodable>(_ type: T.Type, walk: any ContextWalk) throws -> T {
        try T(from: ContextWalker(path: [], walk: walk))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed(path: path, walk: walk))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { Unkeyed(path: path, walk: walk) }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(path: path, walk: walk) }

    static func value<T: Decodable>(_ type: T.Type, path: [String], walk: any ContextWalk) throws -> T {
        if let leaf = walk.leaf(type, at: path) { return leaf }
        return try T(from: ContextWalker(path: path, walk: walk))
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let path: [String]
        let walk: any ContextWalk
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }
        func contains(_ key: Key) -> Bool { walk.optionalsPresent }
        func decodeNil(forKey key: Key) throws -> Bool { !walk.optionalsPresent }
        private func field(_ key: Key) -> [String] {
            let fieldPath = path + [key.stringValue]
            walk.reached(field: fieldPath)
            return fieldPath
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try ContextWalker.value(type, path: field(key), walk: walk)
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            KeyedDecodingContainer(Keyed<NestedKey>(path: field(key), walk: walk))
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            Unkeyed(path: field(key), walk: walk)
        }
        func superDecoder() throws -> any Decoder { ContextWalker(path: path, walk: walk) }
        func superDecoder(forKey key: Key) throws -> any Decoder { ContextWalker(path: path + [key.stringValue], walk: walk) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let path: [String]
        let walk: any ContextWalk
        var codingPath: [any CodingKey] { [] }
        var count: Int? { walk.elementsPerList }
        var currentIndex = 0
        var isAtEnd: Bool { currentIndex >= walk.elementsPerList }
        init(path: [String], walk: any ContextWalk) { self.path = path; self.walk = walk }
        mutating func decodeNil() throws -> Bool { false }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            guard !isAtEnd else { throw ContextWalkEnded() }
            currentIndex += 1
            return try ContextWalker.value(type, path: path, walk: walk)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            currentIndex += 1
            return KeyedDecodingContainer(Keyed<NestedKey>(path: path, walk: walk))
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            currentIndex += 1
            return Unkeyed(path: path, walk: walk)
        }
        mutating func superDecoder() throws -> any Decoder { ContextWalker(path: path, walk: walk) }
    }

    struct Single: SingleValueDecodingContainer {
        let path: [String]
        let walk: any ContextWalk
        var codingPath: [any CodingKey] { [] }
        func decodeNil() -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try ContextWalker.value(type, path: path, walk: walk) }
    }
}
