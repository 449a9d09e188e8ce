import Foundation

/// The text of an input file, kept so diagnostics can quote the offending line.
public struct SourceFile: Sendable {
    /// The path as the user gave it (diagnostics and headers print it unchanged).
    public var path: String
    public var text: String
    public let lines: [Substring]

    public init(path: String, text: String) {
        self.path = path
        self.text = text
        self.lines = SourceFile.lines(of: text)
    }

    /// `text` split at every LF, without the CR of a CRLF. Split by Unicode scalars: to `String`, CRLF is
    /// one character, so splitting at the character "\n" would leave a CRLF file one long line.
    public static func lines(of text: String) -> [Substring] {
        let scalars = text.unicodeScalars
        var lines: [Substring] = []
        var start = scalars.startIndex
        var index = scalars.startIndex
        func add(_ end: String.UnicodeScalarView.Index) {
            var line = scalars[start..<end]
            if line.last == "\r" { line.removeLast() }
            lines.append(Substring(line))
        }
        while index < scalars.endIndex {
            if scalars[index] == "\n" {
                add(index)
                start = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        add(scalars.endIndex)
        return lines
    }

    /// The 1-based line `number`, or nil past the end.
    public func line(_ number: Int) -> Substring? {
        number >= 1 && number <= lines.count ? lines[number - 1] : nil
    }

    /// Where `needle` first occurs at or after line `from` (searching `within` lines), as a location.
    public func locate(_ needle: String, from line: Int, within count: Int = 200) -> SourceLocation? {
        // `line` may come from another reader's count (libyaml also breaks lines at a lone CR): past the
        // end, nothing is found.
        let end = min(lines.count + 1, line + max(0, count))
        guard !needle.isEmpty, line >= 1, line < end else { return nil }
        for number in line..<end {
            guard let text = self.line(number), let range = text.range(of: needle) else { continue }
            let column = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: range.lowerBound)
            return SourceLocation(file: path, line: number, column: column + 1)
        }
        return nil
    }
}

/// Prints diagnostics as `file:line:col: error: message`, the source line, and a caret under the column.
public struct DiagnosticPrinter: Sendable {
    public var files: [String: SourceFile]

    public init(files: [SourceFile]) {
        self.files = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func format(_ diagnostic: Diagnostic) -> String {
        var out = ""
        if let location = diagnostic.location {
            out += "\(location): \(diagnostic.severity.rawValue): \(diagnostic.message)\n"
            if let line = files[location.file]?.line(location.line) {
                // Tabs (and a lone CR) print as one space so the caret's column holds (without Foundation: thousands of
                // diagnostics of a fuzzed file print quickly).
                var text = String(line)
                if line.utf8.contains(where: { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) {
                    text = ""  // a lone CR would move the terminal's cursor
                    text.unicodeScalars.append(contentsOf: line.unicodeScalars.map { $0 == "\t" || $0 == "\r" ? " " : $0 })
                }
                out += text + "\n"
                let pad = max(0, min(location.column - 1, text.unicodeScalars.count))
                out += String(repeating: " ", count: pad) + "^\n"
            }
        } else {
            out += "djflow: \(diagnostic.severity.rawValue): \(diagnostic.message)\n"
        }
        for note in diagnostic.notes { out += "  note: \(note)\n" }
        return out
    }

    /// Every diagnostic in source order, then a count line when there were errors.
    public func format(_ diagnostics: Diagnostics) -> String {
        var out = diagnostics.sorted.map(format).joined()
        let errors = diagnostics.errorCount
        if errors > 0 { out += "\(errors) error\(errors == 1 ? "" : "s") generated.\n" }
        return out
    }
}
