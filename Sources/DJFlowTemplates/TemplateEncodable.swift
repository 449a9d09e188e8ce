// Contexts build their own value tree: one array per object or list, no `Codable` containers. Encoding the
// contexts through `Codable` was a sixth of the CPU of compiling 10,000 tables; `TemplateEncodableTests`
// checks every context's tree against its `Codable` encoding (`MustacheEncoding.tree`) with every field filled.

/// A value that makes its `TemplateValue` itself: strings, booleans, integers (as decimal strings), lists,
/// and the structs of template contexts (each field under its property name, a nil optional left out, as
/// `Codable` would encode it).
public protocol TemplateEncodable {
    var templateValue: TemplateValue { get }
}

extension String: TemplateEncodable {
    @inlinable public var templateValue: TemplateValue { .string(self) }
}

extension Bool: TemplateEncodable {
    @inlinable public var templateValue: TemplateValue { .bool(self) }
}

extension Int: TemplateEncodable {
    @inlinable public var templateValue: TemplateValue { .string(String(self)) }
}

extension Array: TemplateEncodable where Element: TemplateEncodable {
    @inlinable public var templateValue: TemplateValue { .list(map { $0.templateValue }) }
}

extension Line: TemplateEncodable {
    @inlinable public var templateValue: TemplateValue { .line(line) }
}

extension EmbeddedFile: TemplateEncodable {
    @inlinable public var templateValue: TemplateValue { .embedded(self) }
}

extension TemplateFields {
    /// Empty, with room for `capacity` fields.
    @inlinable public init(capacity: Int) {
        self.init()
        reserve(capacity)
    }

    /// Adds the field `key` (not already there: a struct's property names are distinct).
    @inlinable public mutating func add<Value: TemplateEncodable>(_ key: String, _ value: Value) {
        append(key, value.templateValue)
    }

    /// Adds the field `key` when `value` is not nil (a nil optional is absent, as `Codable` leaves it out).
    @inlinable public mutating func add<Value: TemplateEncodable>(_ key: String, _ value: Value?) {
        if let value { append(key, value.templateValue) }
    }
}
