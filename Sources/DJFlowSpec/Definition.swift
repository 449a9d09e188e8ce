import DJFlowCore

/// A DataJoint table definition, reduced to what the graph needs: its foreign-key references.
public struct Definition: Sendable {
    public struct Reference: Sendable {
        /// The referenced table as written (`Session`, `ephys.Recording`, `Master.Part`, `master`).
        public var name: Located<String>
        /// Above `---` (part of the primary key).
        public var isPrimary: Bool
        /// Options in brackets: `nullable`, `unique`.
        public var options: [String]
    }

    public var text: String
    public var references: [Reference]

    /// Finds the `->` lines of `text`. Handles `->X`, `-> [nullable, unique] X`, `-> X.proj(a='b')`,
    /// `-> module.X`, `-> Master.Part`, `-> master`, the old `(new) -> X(old)` form and trailing comments.
    /// - Parameter locate: maps (line index in `text`, scalar offset in that line) to a source location.
    public init(text: String, locate: (Int, Int) -> SourceLocation) {
        self.text = text
        var references: [Reference] = []
        var inPrimary = true
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Definition.strippingComment(rawLine)
            let trimmed = line.trimmedWhitespace()
            if trimmed.hasPrefix("---") || trimmed.hasPrefix("___") { inPrimary = false; continue }
            guard let arrow = line.range(of: "->") else { continue }
            var cursor = line[arrow.upperBound...]
            cursor = cursor.drop { $0 == " " || $0 == "\t" }
            var options: [String] = []
            if cursor.first == "[", let close = cursor.firstIndex(of: "]") {
                options = cursor[cursor.index(after: cursor.startIndex)..<close]
                    .split(separator: ",").map { $0.trimmedWhitespace().lowercased() }.filter { !$0.isEmpty }
                cursor = cursor[cursor.index(after: close)...].drop { $0 == " " || $0 == "\t" }
            }
            let nameEnd = cursor.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") } ?? cursor.endIndex
            var name = String(cursor[..<nameEnd])
            if name.hasSuffix(".proj") { name.removeLast(".proj".count) }
            while name.hasSuffix(".") { name.removeLast() }
            guard !name.isEmpty else { continue }
            let offset = line.unicodeScalars.distance(from: line.unicodeScalars.startIndex, to: cursor.startIndex)
            references.append(Reference(name: Located(name, at: locate(index, offset)), isPrimary: inPrimary, options: options))
        }
        self.references = references
    }

    /// The line up to a `#` that is not inside quotes.
    static func strippingComment(_ line: Substring) -> Substring {
        var quote: Character?
        for index in line.indices {
            let c = line[index]
            if let open = quote { if c == open { quote = nil } }
            else if c == "\"" || c == "'" { quote = c }
            else if c == "#" { return line[..<index] }
        }
        return line
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and carriage returns.
    func trimmedWhitespace() -> String {
        var view = Substring(self)
        while let c = view.first, c == " " || c == "\t" || c == "\r" { view.removeFirst() }
        while let c = view.last, c == " " || c == "\t" || c == "\r" { view.removeLast() }
        return String(view)
    }
}
