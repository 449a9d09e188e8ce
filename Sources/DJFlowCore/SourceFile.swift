// Input text kept for diagnostics: line lookup by offset, and the line a caret is printed under.

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
