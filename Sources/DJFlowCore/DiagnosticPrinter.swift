// The caret printer: diagnostics as a compiler prints them, with the source line and a caret.

import Foundation

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
