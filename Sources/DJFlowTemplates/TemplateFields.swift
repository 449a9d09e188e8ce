// The fields of a struct in a template's value tree: names and values in the order they were encoded.
// A context struct has a handful of fields, so finding one by a scan of short names is faster than
// hashing, and building one is an append (rendering 10,000 tables builds millions of them).

/// Named values, each name at most once; compared without regard to order, like a dictionary.
public struct TemplateFields: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    public private(set) var keys: [String] = []
    public private(set) var values: [TemplateValue] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The value named `key`; setting nil removes it, setting a name already there replaces its value in place.
    public subscript(key: String) -> TemplateValue? {
        get {
            for index in keys.indices where keys[index] == key { return values[index] }
            return nil
        }
        set {
            if let index = keys.firstIndex(of: key) {
                if let newValue { values[index] = newValue } else { keys.remove(at: index); values.remove(at: index) }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    public func mapValues(_ transform: (TemplateValue) throws -> TemplateValue) rethrows -> TemplateFields {
        var mapped = self
        mapped.values = try values.map(transform)
        return mapped
    }

    public func makeIterator() -> Zip2Sequence<[String], [TemplateValue]>.Iterator { zip(keys, values).makeIterator() }

    public static func == (lhs: TemplateFields, rhs: TemplateFields) -> Bool {
        lhs.count == rhs.count && zip(lhs.keys, lhs.values).allSatisfy { rhs[$0.0] == $0.1 }
    }
}
