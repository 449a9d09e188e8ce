// DataJoint table definitions reduced to their foreign keys (`->` lines), with located errors.

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

    /// The foreign-key options DataJoint knows (`-> [nullable, unique] X`).
    public static let foreignKeyOptions = ["nullable", "unique"]

    public var text: String
    public var references: [Reference]
    /// Malformed `->` lines, each an error located at the fault; such a line gives no reference.
    public var diagnostics: [Diagnostic] = []

    /// Finds the `->` lines of `text`. Handles `->X`, `-> [nullable, unique] X`, `-> X.proj(a='b')`,
    /// `-> module.X`, `-> Master.Part`, `-> master`, the old `(new) -> X(old)` form and trailing comments.
    /// As in DataJoint, a line is a foreign key when it has `->` with no quote before it (and not in a comment).
    /// - Parameter locate: maps (line index in `text`, scalar offset in that line) to a source location.
    public init(text: String, locate: (Int, Int) -> SourceLocation) {
        self.text = text
        var references: [Reference] = []
        var diagnostics: [Diagnostic] = []
        var inPrimary = true
        for (index, rawLine) in SourceFile.lines(of: text).enumerated() {
            let line = Definition.strippingComment(rawLine)
            let trimmed = line.trimmedWhitespace()
            if trimmed.hasPrefix("---") || trimmed.hasPrefix("___") { inPrimary = false; continue }
            var parser = ForeignKeyLine(Array(line.unicodeScalars))
            guard parser.isForeignKey else { continue }
            switch parser.parse() {
            case .reference(let name, let offset, let options):
                references.append(Reference(name: Located(name, at: locate(index, offset)), isPrimary: inPrimary, options: options))
            case .problem(let message, let offset, let notes):
                diagnostics.append(Diagnostic(.error, message, at: locate(index, offset), notes: notes))
            }
        }
        self.references = references
        self.diagnostics = diagnostics
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

/// One `->` line, read the way DataJoint's declaration parser reads it:
/// `[(new_attrs)] -> [[option, …]] table[.proj(…)][(old_attrs)]`, nothing else on the line.
private struct ForeignKeyLine {
    enum Result {
        case reference(name: String, offset: Int, options: [String])
        case problem(String, offset: Int, notes: [String])
    }

    let s: [Unicode.Scalar]
    /// Offset of the `->`, when the line is a foreign key.
    let arrow: Int?

    init(_ scalars: [Unicode.Scalar]) {
        s = scalars
        var found: Int?
        var k = 0
        while k + 1 < scalars.count {
            let c = scalars[k]
            if c == "\"" || c == "'" { break }  // DataJoint: a quote before '->' makes it an attribute line
            if c == "-" && scalars[k + 1] == ">" { found = k; break }
            k += 1
        }
        arrow = found
    }

    var isForeignKey: Bool { arrow != nil }

    private func isSpace(_ k: Int) -> Bool { k < s.count && (s[k] == " " || s[k] == "\t" || s[k] == "\r") }
    private func skipSpace(_ k: Int) -> Int { var k = k; while isSpace(k) { k += 1 }; return k }
    private func isIdentifierStart(_ k: Int) -> Bool {
        k < s.count && (s[k] == "_" || s[k].properties.isAlphabetic)
    }
    private func isIdentifierChar(_ k: Int) -> Bool {
        k < s.count && (s[k] == "_" || s[k].properties.isAlphabetic || s[k].properties.numericType != nil)
    }
    private func text(_ range: Range<Int>) -> String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: s[range])
        return String(out)
    }
    /// The rest of the line from `k`, trimmed, shortened for a message.
    private func rest(from k: Int) -> String {
        var end = s.count
        while end > k && (s[end - 1] == " " || s[end - 1] == "\t" || s[end - 1] == "\r") { end -= 1 }
        let all = text(k..<max(k, end))
        return all.count > 40 ? String(all.prefix(40)) + "…" : all
    }

    /// The offset just past the `)` matching the `(` at `open`, skipping quoted text; nil when unclosed.
    private func closing(_ open: Int) -> Int? {
        var depth = 0
        var quote: Unicode.Scalar?
        var k = open
        while k < s.count {
            let c = s[k]
            if let q = quote {
                if c == "\\" { k += 2; continue }
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth -= 1
                if depth == 0 { return k + 1 }
            }
            k += 1
        }
        return nil
    }

    mutating func parse() -> Result {
        guard let arrow else { return .problem("not a foreign key", offset: 0, notes: []) }
        // Before the arrow: nothing, or the old form's `(new_attrs)`.
        let start = skipSpace(0)
        if start < arrow {
            guard s[start] == "(", let end = closing(start), skipSpace(end) == arrow else {
                return .problem("unexpected '\(text(start..<arrow).trimmedWhitespace())' before '->': a foreign key line starts with '->' (or '(new_attrs) ->')",
                                offset: start, notes: [])
            }
        }
        var k = skipSpace(arrow + 2)
        var options: [String] = []
        if k < s.count && s[k] == "[" {
            let open = k
            guard let close = s[open...].firstIndex(of: "]") else {
                return .problem("unclosed '[' in the options of '->': write '-> [nullable] Table'", offset: open,
                                notes: ["DataJoint knows the options \(Definition.foreignKeyOptions.joined(separator: " and "))"])
            }
            var item = open + 1
            while item <= close {
                var end = item
                while end < close && s[end] != "," { end += 1 }
                let first = skipSpace(item)
                let word = text(first..<max(first, end)).trimmedWhitespace()
                if word.isEmpty {
                    return .problem("empty option in the brackets of '->'", offset: min(first, close), notes: [])
                }
                let lower = word.lowercased()
                guard Definition.foreignKeyOptions.contains(lower) else {
                    let hint = Suggestions.hint(for: lower, in: Definition.foreignKeyOptions)
                    return .problem("unknown foreign key option '\(word)'\(hint)", offset: first,
                                    notes: ["DataJoint knows the options \(Definition.foreignKeyOptions.joined(separator: " and "))"])
                }
                if !options.contains(lower) { options.append(lower) }
                item = end + 1
            }
            k = skipSpace(close + 1)
        }
        guard k < s.count else {
            return .problem("'->' names no table: write '-> Table' (or '-> module.Table')", offset: arrow, notes: [])
        }
        guard isIdentifierStart(k) else {
            return .problem("expected a table name after '->', found '\(rest(from: k))'", offset: k,
                            notes: ["a reference is a table class: 'Session', 'module.Session', 'Master.Part', 'master', 'Session.proj(new='old')'"])
        }
        let nameStart = k
        var segments: [String] = []
        while true {
            let begin = k
            while isIdentifierChar(k) { k += 1 }
            segments.append(text(begin..<k))
            guard k < s.count && s[k] == "." else { break }
            guard isIdentifierStart(k + 1) else {
                return .problem("expected a name after '.' in '\(rest(from: nameStart))'", offset: k + 1, notes: [])
            }
            k += 1
        }
        if segments.last == "proj" {
            segments.removeLast()
            let projDot = k - 5
            guard !segments.isEmpty else {
                return .problem("expected a table name after '->', found '\(rest(from: nameStart))'", offset: nameStart, notes: [])
            }
            let open = skipSpace(k)
            guard open < s.count && s[open] == "(" else {
                return .problem("'.proj' needs its arguments: '\(segments.joined(separator: ".")).proj(new_name='old_name')'", offset: projDot, notes: [])
            }
            k = open
        }
        let name = segments.joined(separator: ".")
        // `(old_attrs)` of the old form, or the arguments of `.proj`; then more `.proj(…)` calls.
        while true {
            let open = skipSpace(k)
            guard open < s.count && s[open] == "(" else { break }
            guard let end = closing(open) else {
                return .problem("unclosed '(' in the reference to '\(name)'", offset: open, notes: [])
            }
            k = end
            let dot = skipSpace(k)
            if dot + 5 <= s.count && text(dot..<dot + 5) == ".proj" && !isIdentifierChar(dot + 5) {
                k = dot + 5
                let next = skipSpace(k)
                guard next < s.count && s[next] == "(" else {
                    return .problem("'.proj' needs its arguments", offset: k, notes: [])
                }
            }
        }
        let end = skipSpace(k)
        if end < s.count {
            let extra = rest(from: end)
            let notes = isIdentifierStart(end) ? ["one '->' line references one table: write each on its own line"] : []
            return .problem("unexpected '\(extra)' after the reference to '\(name)'", offset: end, notes: notes)
        }
        return .reference(name: name, offset: nameStart, options: options)
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
