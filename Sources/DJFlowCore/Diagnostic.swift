/// One problem found in the input, reported in compiler form.
public struct Diagnostic: Hashable, Sendable {
    public enum Severity: String, Sendable, Comparable {
        case error, warning, note

        private var rank: Int { self == .error ? 0 : self == .warning ? 1 : 2 }
        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    public var severity: Severity
    public var message: String
    public var location: SourceLocation?
    /// Extra lines printed after the snippet (a cycle, a hint).
    public var notes: [String]

    public init(_ severity: Severity, _ message: String, at location: SourceLocation?, notes: [String] = []) {
        self.severity = severity
        self.message = message
        self.location = location
        self.notes = notes
    }
}

/// Collects every problem of a run so that all of them are reported at once.
public struct Diagnostics: Sendable {
    public private(set) var all: [Diagnostic] = []
    /// What `all` holds, so that appending stays O(1) with thousands of diagnostics (a fuzzed file).
    private var seen: Set<Diagnostic> = []

    public init() {}

    public var hasErrors: Bool { all.contains { $0.severity == .error } }
    public var errorCount: Int { all.filter { $0.severity == .error }.count }

    public mutating func error(_ message: String, at location: SourceLocation?, notes: [String] = []) {
        append(Diagnostic(.error, message, at: location, notes: notes))
    }

    public mutating func warning(_ message: String, at location: SourceLocation?, notes: [String] = []) {
        append(Diagnostic(.warning, message, at: location, notes: notes))
    }

    public mutating func append(_ diagnostic: Diagnostic) {
        if seen.insert(diagnostic).inserted { all.append(diagnostic) }
    }

    public mutating func append(contentsOf other: Diagnostics) {
        for diagnostic in other.all { append(diagnostic) }
    }

    /// Diagnostics in source order (file, line, column), then errors before warnings; stable otherwise.
    public var sorted: [Diagnostic] {
        all.enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (l?, r?) where l != r: return l < r
            case (nil, _?): return false
            case (_?, nil): return true
            default:
                if a.element.severity != b.element.severity { return a.element.severity < b.element.severity }
                return a.offset < b.offset
            }
        }.map(\.element)
    }
}
