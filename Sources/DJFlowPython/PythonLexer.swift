// Tokens of Python source, as far as the static reader needs them.

import DJFlowCore

/// One token of Python source, as far as djflow needs it: the structure of modules and classes, names,
/// and string literals (whose text is decoded on demand).
struct PyToken {
    enum Kind: Equatable { case name, number, string, op, newline, indent, dedent, end }
    var kind: Kind
    /// Scalar offsets of the token in the file.
    var start: Int
    var end: Int
    var line: Int
    var column: Int
    /// Names and operators: the text. Strings: the prefix letters, lower-cased (`rb`, `f`, ``).
    var text: String
    /// Strings: quote length (1 or 3).
    var quoteLength: Int = 0
}

/// Python's tokenizer for the subset of the language that matters to module structure: indentation,
/// brackets, comments, line continuation, names, numbers, operators and every string-literal form
/// (single, triple, `r`/`b`/`f`/`u` prefixes and their combinations). Errors are collected, not thrown.
struct PythonLexer {
    let source: SourceFile
    let scalars: [Unicode.Scalar]
    /// Scalar offset of the start of each line (index 0 is line 1).
    let lineStarts: [Int]
    var tokens: [PyToken] = []
    var diagnostics = Diagnostics()

    private var i = 0
    private var line = 1
    private var lineStart = 0
    private var brackets: [(Unicode.Scalar, SourceLocation)] = []
    private var indents = [0]
    /// CPython's limits (Parser/tokenizer.h: MAXINDENT, MAXLEVEL): deeper code is a syntax error there,
    /// and here the reader's recursion stays bounded.
    static let maxIndentLevels = 100
    static let maxBracketDepth = 200
    private var reportedDepth = false, reportedIndent = false

    init(_ source: SourceFile) {
        self.source = source
        var scalars = Array(source.text.unicodeScalars)
        // Universal newlines, as Python reads source: CRLF and lone CR are line ends.
        if scalars.contains("\r") {
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(scalars.count)
            var k = 0
            while k < scalars.count {
                if scalars[k] == "\r" {
                    out.append("\n")
                    if k + 1 < scalars.count && scalars[k + 1] == "\n" { k += 1 }
                } else { out.append(scalars[k]) }
                k += 1
            }
            scalars = out
        }
        self.scalars = scalars
        var starts = [0]
        for (k, c) in scalars.enumerated() where c == "\n" { starts.append(k + 1) }
        self.lineStarts = starts
    }

    func location(_ offset: Int) -> SourceLocation {
        // Binary search for the line holding `offset`.
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourceLocation(file: source.path, line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    private var here: SourceLocation { SourceLocation(file: source.path, line: line, column: i - lineStart + 1) }

    private func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < scalars.count ? scalars[i + k] : nil }

    private mutating func emit(_ kind: PyToken.Kind, from start: Int, text: String = "", quote: Int = 0) {
        let loc = location(start)
        tokens.append(PyToken(kind: kind, start: start, end: i, line: loc.line, column: loc.column, text: text, quoteLength: quote))
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c.isASCII ? c.properties.isAlphabetic : c.properties.isXIDStart)
    }
    static func isNameContinue(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c.isASCII ? (c.properties.isAlphabetic || ("0"..."9").contains(c)) : c.properties.isXIDContinue)
    }

    mutating func run() {
        var atLineStart = true
        while i < scalars.count {
            if atLineStart && brackets.isEmpty {
                // Blank and comment-only lines are consumed whole and leave us at the next line's start.
                if !indentation() { continue }
                atLineStart = false
            }
            let c = scalars[i]
            switch c {
            case " ", "\t", "\u{0C}":
                i += 1
            case "#":
                while i < scalars.count && scalars[i] != "\n" { i += 1 }
            case "\\":
                if peek(1) == "\n" { i += 2; newLine() }
                else {
                    diagnostics.error("unexpected character after line continuation character", at: here)
                    i += 1
                }
            case "\n":
                if brackets.isEmpty {
                    if let last = tokens.last, last.kind != .newline, last.kind != .indent, last.kind != .dedent {
                        emit(.newline, from: i)
                    }
                    atLineStart = true
                }
                i += 1
                newLine()
            case "'", "\"":
                string(prefix: "", start: i)
            default:
                if Self.isNameStart(c) {
                    let start = i
                    while i < scalars.count && Self.isNameContinue(scalars[i]) { i += 1 }
                    let word = String(String.UnicodeScalarView(scalars[start..<i]))
                    if let q = peek(), q == "'" || q == "\"", Self.isStringPrefix(word) {
                        string(prefix: word.lowercased(), start: start)
                    } else {
                        emit(.name, from: start, text: word)
                    }
                } else if ("0"..."9").contains(c) || (c == "." && peek(1).map { ("0"..."9").contains($0) } == true) {
                    number()
                } else {
                    op(c)
                }
            }
        }
        if let last = tokens.last, last.kind != .newline, last.kind != .indent, last.kind != .dedent {
            emit(.newline, from: i)
        }
        for (open, loc) in brackets {
            diagnostics.error("'\(open)' was never closed", at: loc)
        }
        brackets = []
        while indents.count > 1 { indents.removeLast(); emit(.dedent, from: i) }
        emit(.end, from: i)
    }

    private mutating func newLine() {
        line += 1
        lineStart = i
    }

    /// Measures the indentation of a line; emits INDENT/DEDENT. Returns false for blank and comment lines
    /// (consumed up to their newline), which do not count.
    private mutating func indentation() -> Bool {
        var width = 0
        var k = i
        while k < scalars.count {
            let c = scalars[k]
            if c == " " { width += 1 } else if c == "\t" { width = (width / 8 + 1) * 8 } else if c == "\u{0C}" { width = 0 } else { break }
            k += 1
        }
        if k >= scalars.count { i = k; return false }
        if scalars[k] == "\n" || scalars[k] == "#" {
            // Blank or comment-only line.
            i = k
            while i < scalars.count && scalars[i] != "\n" { i += 1 }
            if i < scalars.count { i += 1; newLine() }
            return false
        }
        if scalars[k] == "\\" && k + 1 < scalars.count && scalars[k + 1] == "\n" {
            i = k
            return true
        }
        i = k
        if width > indents.last! {
            guard indents.count <= Self.maxIndentLevels else {
                // Deeper lines stay at the deepest level allowed: one error, no deeper block.
                if !reportedIndent { diagnostics.error("too many levels of indentation (Python allows \(Self.maxIndentLevels))", at: here) }
                reportedIndent = true
                return true
            }
            indents.append(width)
            emit(.indent, from: i)
        } else if width < indents.last! {
            while width < indents.last! { indents.removeLast(); emit(.dedent, from: i) }
            if width != indents.last! {
                diagnostics.error("unindent does not match any outer indentation level", at: here)
                indents.append(width)
            }
        }
        return true
    }

    static func isStringPrefix(_ word: String) -> Bool {
        ["r", "u", "b", "f", "br", "rb", "fr", "rf"].contains(word.lowercased())
    }

    private mutating func string(prefix: String, start: Int) {
        let quote = scalars[i]
        let triple = peek(1) == quote && peek(2) == quote
        let startLoc = location(start)
        i += triple ? 3 : 1
        let raw = prefix.contains("r")
        while true {
            guard i < scalars.count else {
                diagnostics.error(triple ? "unterminated triple-quoted string literal" : "unterminated string literal", at: startLoc)
                break
            }
            let c = scalars[i]
            if c == "\\" {
                // In raw strings too, a backslash keeps the next character from ending the string.
                if peek(1) == "\n" { i += 2; newLine(); continue }
                i += 2
                _ = raw
                continue
            }
            if c == "\n" {
                if !triple {
                    diagnostics.error("unterminated string literal", at: startLoc)
                    break
                }
                i += 1
                newLine()
                continue
            }
            if c == quote {
                if !triple { i += 1; break }
                if peek(1) == quote && peek(2) == quote { i += 3; break }
            }
            i += 1
        }
        emit(.string, from: start, text: prefix, quote: triple ? 3 : 1)
    }

    private mutating func number() {
        let start = i
        while i < scalars.count {
            let c = scalars[i]
            if Self.isNameContinue(c) || c == "." {
                if (c == "e" || c == "E"), let s = peek(1), s == "+" || s == "-",
                   !String(String.UnicodeScalarView(scalars[start..<i])).lowercased().hasPrefix("0x") {
                    i += 2
                    continue
                }
                i += 1
            } else { break }
        }
        emit(.number, from: start)
    }

    private mutating func op(_ c: Unicode.Scalar) {
        let start = i
        switch c {
        case "(", "[", "{":
            if brackets.count == Self.maxBracketDepth && !reportedDepth {
                diagnostics.error("too many nested parentheses (Python allows \(Self.maxBracketDepth))", at: here)
                reportedDepth = true
            }
            brackets.append((c, here))
            i += 1
        case ")", "]", "}":
            let expected: Unicode.Scalar = c == ")" ? "(" : c == "]" ? "[" : "{"
            if let open = brackets.last {
                if open.0 != expected {
                    diagnostics.error("closing parenthesis '\(c)' does not match opening parenthesis '\(open.0)' on line \(open.1.line)", at: here)
                }
                brackets.removeLast()
            } else {
                diagnostics.error("unmatched '\(c)'", at: here)
            }
            i += 1
        case "$", "?", "`":
            diagnostics.error("invalid character '\(c)' in Python source", at: here)
            i += 1
            return
        default:
            if c.isASCII && !c.properties.isWhitespace {
                i += 1
                // Two-character operators that matter: `->`, `:=`, `**`, `//`, comparisons.
                if let n = peek(), (c == "-" && n == ">") || (c == ":" && n == "=") || (c == "*" && n == "*")
                    || (c == "/" && n == "/") || (n == "=" && "=!<>+-*/%&|^@".unicodeScalars.contains(c)) {
                    i += 1
                }
            } else if c.properties.isWhitespace {
                i += 1
                return
            } else {
                diagnostics.error("invalid character '\(c)' (U+\(String(c.value, radix: 16, uppercase: true))) in Python source", at: here)
                i += 1
                return
            }
        }
        emit(.op, from: start, text: String(String.UnicodeScalarView(scalars[start..<i])))
    }

    // MARK: String values

    /// A decoded string literal (or an implicit concatenation of several) with the source location of
    /// every decoded scalar, so diagnostics inside a definition point into the Python file.
    struct DecodedString {
        var scalars: [Unicode.Scalar] = []
        var locations: [SourceLocation] = []
        var text: String { String(String.UnicodeScalarView(scalars)) }
    }

    /// An f-string replacement field: `{expression}` at scalar `offset` (of the `{`), whose value goes at
    /// index `position` of the decoded text.
    struct Interpolation {
        var expression: String
        var offset: Int
        var position: Int
    }

    /// Decodes the literal `token` (escapes unless raw; `{{`/`}}` in f-strings) and appends it to `out`.
    /// The replacement fields of an f-string are left out of `out` and returned, each with where its value goes.
    @discardableResult
    func decode(_ token: PyToken, into out: inout DecodedString) -> [Interpolation] {
        let prefixLength = token.text.unicodeScalars.count
        var k = token.start + prefixLength + token.quoteLength
        let end = max(k, token.end - token.quoteLength)
        let raw = token.text.contains("r")
        let fString = token.text.contains("f")
        var interpolations: [Interpolation] = []
        func append(_ c: Unicode.Scalar, at offset: Int) {
            out.scalars.append(c)
            out.locations.append(location(offset))
        }
        while k < end {
            let c = scalars[k]
            if fString && (c == "{" || c == "}") {
                if k + 1 < end && scalars[k + 1] == c { append(c, at: k); k += 2; continue }
                if c == "{" {
                    // The field runs to the matching `}` (brackets and quotes inside it are skipped).
                    var j = k + 1, depth = 0
                    var quote: Unicode.Scalar?
                    while j < end {
                        let d = scalars[j]
                        if let q = quote { if d == q { quote = nil } }
                        else if d == "'" || d == "\"" { quote = d }
                        else if d == "(" || d == "[" || d == "{" { depth += 1 }
                        else if d == ")" || d == "]" { depth -= 1 }
                        else if d == "}" { if depth == 0 { break }; depth -= 1 }
                        j += 1
                    }
                    let text = String(String.UnicodeScalarView(scalars[(k + 1)..<min(j, end)]))
                    interpolations.append(Interpolation(expression: text, offset: k, position: out.scalars.count))
                    k = min(end, j + 1)
                    continue
                }
                append(c, at: k); k += 1
                continue
            }
            guard c == "\\", k + 1 < end else { append(c, at: k); k += 1; continue }
            if raw { append(c, at: k); append(scalars[k + 1], at: k + 1); k += 2; continue }
            let n = scalars[k + 1]
            switch n {
            case "\n": k += 2
            case "n": append("\n", at: k); k += 2
            case "t": append("\t", at: k); k += 2
            case "r": append("\r", at: k); k += 2
            case "\\", "'", "\"": append(n, at: k); k += 2
            case "a": append("\u{07}", at: k); k += 2
            case "b": append("\u{08}", at: k); k += 2
            case "f": append("\u{0C}", at: k); k += 2
            case "v": append("\u{0B}", at: k); k += 2
            case "x", "u", "U":
                let digits = n == "x" ? 2 : n == "u" ? 4 : 8
                var value: UInt32 = 0
                var j = k + 2
                while j < min(end, k + 2 + digits), let d = Self.hexValue(scalars[j]) { value = value * 16 + d; j += 1 }
                append(Unicode.Scalar(value) ?? "\u{FFFD}", at: k)
                k = j
            case "0"..."7":
                var value: UInt32 = 0
                var j = k + 1
                while j < min(end, k + 4), ("0"..."7").contains(scalars[j]) { value = value * 8 + (scalars[j].value - 48); j += 1 }
                append(Unicode.Scalar(value) ?? "\u{FFFD}", at: k)
                k = j
            case "N":
                // \N{NAME}: kept as one placeholder scalar (names never matter to a definition's graph).
                var j = k + 2
                while j < end && scalars[j] != "}" { j += 1 }
                append("\u{FFFD}", at: k)
                k = min(end, j + 1)
            default:
                append(c, at: k); k += 1
            }
        }
        return interpolations
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }
}
