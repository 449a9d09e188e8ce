// A value kept in one shared box and copied only when written while shared: for large value types.

/// Holds a value in one heap box shared by every copy, and copies it only when one of the copies is
/// written while another still shares it. A large struct (a table of the spec, a job of the plan) that keeps
/// its fields here is copied with one retain instead of one per field; the planner and the targets pass
/// such values around by the thousand.
public struct CopyOnWrite<Value: Sendable>: @unchecked Sendable {
    /// Written only when uniquely referenced (see `value`'s `_modify`), so sharing it across threads is safe.
    @usableFromInline final class Box {
        @usableFromInline var value: Value
        @usableFromInline init(_ value: Value) { self.value = value }
    }

    @usableFromInline var box: Box

    @inlinable public init(_ value: Value) { box = Box(value) }

    /// The value, read in place; writing it first copies the box when another copy shares it.
    /// Inlinable: the types that keep their fields here read them through it on every access.
    @inlinable public var value: Value {
        _read { yield box.value }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }
}
