// A Mustache template compiled once for djflow's own rendering: the part of Mustache the templates use
// (variables, sections, inverted sections, comments, dotted names, standalone lines), rendered straight
// from a `TemplateValue` tree. Templates that use more (partials, set delimiters, pragmas, inheritance,
// transforms) are left to swift-mustache; `CompiledTemplateTests` checks both give the same bytes.

struct CompiledTemplate: Sendable {
    /// One step of the template, flattened: a section's body is the ops after it, up to `end`. Every payload is
    /// a number, so walking the ops retains nothing (a tree of nodes holding arrays and strings cost a retain
    /// and a release per node visited).
    enum Op: Sendable {
        /// `count` bytes of `text` from `start`.
        case text(start: Int, count: Int)
        /// `paths[path]`.
        case variable(path: Int)
        /// The body is `ops[index + 1 ..< end]`.
        case section(path: Int, end: Int)
        case inverted(path: Int, end: Int)
    }

    /// A tag's name split at its dots; `.` (the innermost value) is marked once here, not compared on
    /// every lookup.
    struct Path: Sendable {
        var names: [String]
        var isCurrent: Bool
    }

    let ops: [Op]
    /// Every text between tags, one after the other.
    let text: [UInt8]
    let paths: [Path]

    /// Compiles `text`, or nil when it uses what this renderer leaves to swift-mustache (or does not parse:
    /// swift-mustache reports that).
    init?(_ template: String) {
        guard let tokens = Self.tokens(template) else { return nil }
        var ops: [Op] = [], text: [UInt8] = [], paths: [Path] = []
        // Open sections: their name as written and the index of their op (its `end` is set at the close).
        var open: [(raw: String, index: Int)] = []
        for token in tokens {
            switch token {
            case .text(let chunk):
                let bytes = Array(chunk.utf8)
                ops.append(.text(start: text.count, count: bytes.count))
                text += bytes
            case .variable(let name):
                paths.append(Self.path(name))
                ops.append(.variable(path: paths.count - 1))
            case .open(let name, let inverted):
                paths.append(Self.path(name))
                open.append((name, ops.count))
                ops.append(inverted ? .inverted(path: paths.count - 1, end: 0) : .section(path: paths.count - 1, end: 0))
            case .close(let name):
                guard let section = open.popLast(), section.raw == name else { return nil }
                switch ops[section.index] {
                case .section(let path, _): ops[section.index] = .section(path: path, end: ops.count)
                case .inverted(let path, _): ops[section.index] = .inverted(path: path, end: ops.count)
                default: return nil
                }
            }
        }
        guard open.isEmpty else { return nil }
        self.ops = ops; self.text = text; self.paths = paths
    }

    private static func path(_ name: String) -> Path {
        name == "." ? Path(names: ["."], isCurrent: true)
            : Path(names: name.split(separator: ".", omittingEmptySubsequences: false).map(String.init), isCurrent: false)
    }

    // MARK: Rendering

    /// The text for `value`; an embedded file prints as `embedded(file)`.
    func render(_ value: TemplateValue, embedded: (EmbeddedFile) -> String = { _ in "" }) -> String {
        // Bytes, not a String: appending to an array is a copy, appending to a String also checks and
        // updates its counts (a third of rendering 78 MB of Kubernetes YAML).
        var out: [UInt8] = []
        out.reserveCapacity(1 << 14)
        var stack = [value]
        ops.withUnsafeBufferPointer { ops in
            text.withUnsafeBufferPointer { text in
                withoutActuallyEscaping(embedded) { embedded in
                    Walk(ops: ops, text: text, paths: paths, embedded: embedded).run(0..<ops.count, &stack, into: &out)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One rendering: the ops and texts in place, read by index.
    private struct Walk {
        let ops: UnsafeBufferPointer<Op>
        let text: UnsafeBufferPointer<UInt8>
        let paths: [Path]
        let embedded: (EmbeddedFile) -> String

        func run(_ range: Range<Int>, _ stack: inout [TemplateValue], into out: inout [UInt8]) {
            var index = range.lowerBound
            while index < range.upperBound {
                switch ops[index] {
                case .text(let start, let count):
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<start + count]))
                    index += 1
                case .variable(let path):
                    switch lookup(path, in: stack) {
                    case .string(let text)?: append(text, to: &out)
                    case .bool(let flag)?: append(flag ? "true" : "false", to: &out)
                    case .embedded(let file)?: append(embedded(file), to: &out)
                    default: break
                    }
                    index += 1
                case .section(let path, let end):
                    let body = index + 1..<end
                    switch lookup(path, in: stack) {
                    case nil, .bool(false)?: break
                    case .bool(true)?: run(body, &stack, into: &out)
                    case .list(let items)?:
                        for item in items {
                            stack.append(item)
                            run(body, &stack, into: &out)
                            stack.removeLast()
                        }
                    case let value?:
                        stack.append(value)
                        run(body, &stack, into: &out)
                        stack.removeLast()
                    }
                    index = end
                case .inverted(let path, let end):
                    switch lookup(path, in: stack) {
                    case nil, .bool(false)?: run(index + 1..<end, &stack, into: &out)
                    case .list(let items)? where items.isEmpty: run(index + 1..<end, &stack, into: &out)
                    default: break
                    }
                    index = end
                }
            }
        }

        private func append(_ text: String, to out: inout [UInt8]) {
            if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil { out.append(contentsOf: text.utf8) }
        }

        /// Mustache's lookup: `.` is the innermost value; a name is searched from the innermost section out; the
        /// rest of a dotted name is looked up in what the first part found.
        private func lookup(_ index: Int, in stack: [TemplateValue]) -> TemplateValue? {
            let path = paths[index]
            if path.isCurrent { return stack.last }
            let names = path.names
            var found: TemplateValue?
            // By index, each value asked in place: copying the values passed over costs a retain and a release each.
            var level = stack.count - 1
            while level >= 0 {
                if let child = stack[level].field(names[0]) { found = child; break }
                level -= 1
            }
            if names.count > 1 {
                for name in names.dropFirst() {
                    found = found?.field(name)
                    if found == nil { return nil }
                }
            }
            return found
        }
    }

    // MARK: Tokens

    private enum Token {
        case text(String)
        case variable(String)
        case open(String, inverted: Bool)
        case close(String)
    }

    /// The template's tokens with standalone lines applied (a line after the first holding only a section
    /// tag, a closing tag or a comment, and whitespace, is left out whole), or nil for a tag this renderer
    /// does not take.
    private static func tokens(_ text: String) -> [Token]? {
        let bytes = Array(text.utf8)
        var tokens: [Token] = []
        var textStart = 0
        var i = 0
        func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        while i + 1 < bytes.count {
            guard bytes[i] == UInt8(ascii: "{"), bytes[i + 1] == UInt8(ascii: "{") else { i += 1; continue }
            let triple = i + 2 < bytes.count && bytes[i + 2] == UInt8(ascii: "{")
            let bodyStart = i + (triple ? 3 : 2)
            let closer: [UInt8] = triple ? [125, 125, 125] : [125, 125]
            var end = bodyStart
            while end + closer.count <= bytes.count, Array(bytes[end..<end + closer.count]) != closer { end += 1 }
            guard end + closer.count <= bytes.count else { return nil }
            var body = string(bodyStart..<end).trimmingSpaces
            let tagEnd = end + closer.count
            var kind: Character = "v"
            if !triple, let sigil = body.first {
                switch sigil {
                case "#", "^", "/", "!", "&": kind = sigil; body = String(body.dropFirst()).trimmingSpaces
                case "=", ">", "<", "$", "%": return nil
                default: break
                }
            }
            if body.contains("(") || body.contains(")") { return nil }
            if kind != "!" && body.isEmpty { return nil }
            // Standalone: only whitespace between the line's start and the tag, and between the tag and the line's end.
            var lineStart = i
            while lineStart > 0, isSpace(bytes[lineStart - 1]) { lineStart -= 1 }
            // Never on the first line: the library renders with swift-mustache after its content-type pragma,
            // which shares that line, and both renderers must agree.
            let startsLine = lineStart > 0 && bytes[lineStart - 1] == UInt8(ascii: "\n")
            var lineEnd = tagEnd
            while lineEnd < bytes.count, isSpace(bytes[lineEnd]) { lineEnd += 1 }
            var after = lineEnd
            var endsLine = after == bytes.count
            if after < bytes.count, bytes[after] == UInt8(ascii: "\n") { after += 1; endsLine = true }
            else if after + 1 < bytes.count, bytes[after] == UInt8(ascii: "\r"), bytes[after + 1] == UInt8(ascii: "\n") { after += 2; endsLine = true }
            let standalone = "#^/!".contains(kind) && startsLine && endsLine
            let textEnd = standalone ? lineStart : i
            if textEnd > textStart { tokens.append(.text(string(textStart..<textEnd))) }
            switch kind {
            case "#": tokens.append(.open(body, inverted: false))
            case "^": tokens.append(.open(body, inverted: true))
            case "/": tokens.append(.close(body))
            case "!": break
            default: tokens.append(.variable(body))
            }
            i = standalone ? after : tagEnd
            textStart = i
        }
        if textStart < bytes.count { tokens.append(.text(string(textStart..<bytes.count))) }
        return tokens
    }
}
