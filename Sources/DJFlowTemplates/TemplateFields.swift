// The fields of a struct in a template's value tree: names and values in the order they were encoded.
// A context struct has a handful of fields, so finding one by a scan of short names is faster than
// hashing, and building one is an append into one array (rendering 10,000 tables builds millions of them).

/// Named values, each name at most once; compared without regard to order, like a dictionary.
public struct TemplateFields: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    @usableFromInline var entries: [(key: String, value: TemplateValue)] = []

    @inlinable public init() {}

    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The names, in the order they were set.
    public var keys: [String] { entries.map(\.key) }
    /// The values, in the order their names were set.
    public var values: [TemplateValue] { entries.map(\.value) }

    /// The value named `key`; setting nil removes it, setting a name already there replaces its value in place.
    public subscript(key: String) -> TemplateValue? {
        get {
            // By index: iterating the entries would copy (retain and release) every one passed over.
            for index in entries.indices where entries[index].key == key { return entries[index].value }
            return nil
        }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                // A struct's fields come one after the other: room for a typical struct at the first.
                if entries.isEmpty { entries.reserveCapacity(8) }
                entries.append((key, newValue))
            }
        }
    }

    /// Room for `capacity` fields.
    @inlinable mutating func reserve(_ capacity: Int) { entries.reserveCapacity(capacity) }

    /// Appends `key`, which must not be there yet (checked in debug builds).
    @inlinable mutating func append(_ key: String, _ value: TemplateValue) {
        assert(!entries.contains { $0.key == key }, "field '\(key)' set twice")
        entries.append((key, value))
    }

    public func mapValues(_ transform: (TemplateValue) throws -> TemplateValue) rethrows -> TemplateFields {
        var mapped = TemplateFields()
        mapped.entries = try entries.map { ($0.key, try transform($0.value)) }
        return mapped
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: TemplateValue)]> { entries.makeIterator() }

    public static func == (lhs: TemplateFields, rhs: TemplateFields) -> Bool {
        lhs.count == rhs.count && lhs.entries.allSatisfy { rhs[$0.key] == $0.value }
    }
}
