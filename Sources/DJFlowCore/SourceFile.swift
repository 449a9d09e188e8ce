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
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
    }

    /// The 1-based line `number`, or nil past the end.
    public func line(_ number: Int) -> Substring? {
        number >= 1 && number <= lines.count ? lines[number - 1] : nil
    }

    /// Where `needle` first occurs at or after line `from` (searching `within` lines), as a location.
    public func locate(_ needle: String, from line: Int, within count: Int = 200) -> SourceLocation? {
        guard !needle.isEmpty else { return nil }
        for number in line..<min(lines.count + 1, line + count) {
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
                // Tabs print as one space so the caret's column holds (without Foundation: thousands of
                // diagnostics of a fuzzed file print quickly).
                var text = String(line)
                if line.utf8.contains(UInt8(ascii: "\t")) {
                    text = ""
                    text.unicodeScalars.append(contentsOf: line.unicodeScalars.map { $0 == "\t" ? " " : $0 })
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
