// Checks on the YAML event stream before it is composed: aliases charged without expanding them, and tags.

import CYaml
import DJFlowCore
import Yams

/// Reads the YAML event stream before it is composed, for what composing would get wrong:
///
/// - **Aliases** are charged the size of their anchor's node (counted with the aliases inside it), so an
///   alias "bomb" (anchors of anchors, each alias doubling the size) is found without expanding anything;
///   an alias over `aliasBudget` nodes, or aliases adding more than `documentBudget` nodes in all, are
///   errors located at the alias, and the document is not composed.
/// - **Tags**: djflow.yaml is plain data. Only the core tags that agree with the value (`!!str`, `!!int`,
///   `!!float`, `!!bool`, `!!null` on scalars, `!!seq`, `!!map`) and the non-specific `!` are accepted;
///   any other tag (`!!python/object/apply:os.system`, `!custom`) is an error located at the tag.
struct YAMLPrecheck {
    /// The most nodes one alias may stand for.
    static let aliasBudget = 1_000
    /// The most nodes all aliases of a document may add.
    static let documentBudget = 100_000
    private static let cap = 1 << 60
    private static let core = "tag:yaml.org,2002:"

    var diagnostics = Diagnostics()
    /// False when aliases would expand past the budgets: the caller must not compose the document.
    private(set) var safeToCompose = true

    private let source: SourceFile
    private var anchors: [String: Int] = [:]
    private var reportedAnchors = Set<String>()
    private var aliasTotal = 0

    private init(source: SourceFile) { self.source = source }

    /// Checks `source`; syntax errors are left to the composer, which reports them with context.
    static func check(_ source: SourceFile) -> YAMLPrecheck {
        var check = YAMLPrecheck(source: source)
        check.run()
        return check
    }

    private static func add(_ a: Int, _ b: Int) -> Int { min(cap, a + b) }

    /// libyaml also ends a line at a lone CR, NEL (U+0085), LS (U+2028) and PS (U+2029); every location
    /// djflow prints counts LF (and CRLF) only. Such a file is refused at its first one, not misplaced.
    private mutating func checkLineBreaks() -> Bool {
        for (index, line) in source.lines.enumerated() {
            let scalars = Array(line.unicodeScalars)
            guard let column = scalars.firstIndex(where: { $0 == "\r" || $0 == "\u{85}" || $0 == "\u{2028}" || $0 == "\u{2029}" }) else { continue }
            let name = scalars[column] == "\r" ? "a carriage return (CR) without a line feed" : Self.codePoint(scalars[column])
            diagnostics.error("\(name) in the YAML: YAML reads it as a line break, so lines would not be counted as written",
                              at: SourceLocation(file: source.path, line: index + 1, column: column + 1),
                              notes: ["end lines with LF (or CRLF), and write the character as an escape in a double-quoted string"])
            return false
        }
        return true
    }

    private static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    private mutating func run() {
        // Most files have none of the characters these checks look for: one pass over the bytes says so.
        let utf8 = source.text.utf8
        let mayBreakLines = utf8.contains { $0 == 0x0D || $0 == 0x85 || $0 == 0xA8 || $0 == 0xA9 }  // CR, and the last byte of NEL, LS, PS
        guard !mayBreakLines || checkLineBreaks() else {
            safeToCompose = false
            return
        }
        // An anchor starts with `&`, an alias with `*`, a tag with `!`: without any of them there is nothing to charge or check.
        guard utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "!") }) else { return }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        var bytes = Array(source.text.utf8)
        let count = bytes.count
        bytes.append(0)  // a valid pointer even for empty text
        bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, count)
            // Open collections: their anchor and node count so far.
            var stack: [(anchor: String?, size: Int)] = []
            func close(_ size: Int) {
                if !stack.isEmpty { stack[stack.count - 1].size = Self.add(stack[stack.count - 1].size, size) }
            }
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                let at = location(event.start_mark)
                switch event.type {
                case YAML_SCALAR_EVENT:
                    let scalar = event.data.scalar
                    if let tag = Self.string(scalar.tag) {
                        let value = Self.string(scalar.value, length: scalar.length) ?? ""
                        checkScalarTag(tag, value: value, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, at: at)
                    }
                    if let anchor = Self.string(scalar.anchor) { anchors[anchor] = 1 }
                    close(1)
                case YAML_SEQUENCE_START_EVENT:
                    let start = event.data.sequence_start
                    if let tag = Self.string(start.tag) { checkCollectionTag(tag, expected: "seq", kind: "a list", at: at) }
                    stack.append((Self.string(start.anchor), 1))
                case YAML_MAPPING_START_EVENT:
                    let start = event.data.mapping_start
                    if let tag = Self.string(start.tag) { checkCollectionTag(tag, expected: "map", kind: "a mapping", at: at) }
                    stack.append((Self.string(start.anchor), 1))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let done = stack.popLast() else { break }
                    if let anchor = done.anchor { anchors[anchor] = done.size }
                    close(done.size)
                case YAML_ALIAS_EVENT:
                    guard let name = Self.string(event.data.alias.anchor), let size = anchors[name] else {
                        close(1)  // an undefined alias: the composer reports it
                        break
                    }
                    charge(alias: name, size: size, at: at)
                    close(size)
                case YAML_STREAM_END_EVENT:
                    return
                default:
                    break
                }
            }
        }
    }

    private mutating func charge(alias name: String, size: Int, at location: SourceLocation) {
        if size > Self.aliasBudget {
            safeToCompose = false
            if reportedAnchors.insert(name).inserted {
                diagnostics.error(
                    "alias '*\(name)' stands for \(Self.describe(size)) YAML nodes, more than the \(Self.aliasBudget) an alias may expand to",
                    at: location,
                    notes: ["djflow does not expand such aliases (a YAML \"alias bomb\" would take it forever): write the values out, or anchor something smaller"])
            }
            return
        }
        let before = aliasTotal
        aliasTotal = Self.add(aliasTotal, size)
        if before <= Self.documentBudget && aliasTotal > Self.documentBudget {
            safeToCompose = false
            diagnostics.error(
                "aliases in this file stand for more than \(Self.documentBudget) YAML nodes in all; this one goes over",
                at: location,
                notes: ["djflow does not expand so many aliases: write the values out, or use fewer aliases"])
        }
    }

    private static func describe(_ size: Int) -> String {
        size >= cap ? "more than 10^18" : "\(size)"
    }

    /// `!!name` for the core schema's tags, the tag as written otherwise.
    private static func display(_ tag: String) -> String {
        tag.hasPrefix(core) ? "!!" + tag.dropFirst(core.count) : tag
    }

    private mutating func checkScalarTag(_ tag: String, value: String, plain: Bool, at location: SourceLocation) {
        if tag == "!" || tag == Self.core + "str" { return }
        let typed = ["int", "float", "bool", "null"]
        if tag.hasPrefix(Self.core), typed.contains(String(tag.dropFirst(Self.core.count))) {
            let resolved = Resolver.default.resolveTag(of: Node(value)).rawValue
            if plain && resolved == tag { return }
            diagnostics.error("the tag '\(Self.display(tag))' does not fit the value '\(value.count > 40 ? String(value.prefix(40)) + "…" : value)'",
                              at: tagLocation(location), notes: ["djflow.yaml needs no tags: remove it (quote the value to make it a string)"])
            return
        }
        reportUnknown(tag, at: location)
    }

    private mutating func checkCollectionTag(_ tag: String, expected: String, kind: String, at location: SourceLocation) {
        if tag == "!" || tag == Self.core + expected { return }
        if tag == Self.core + "seq" || tag == Self.core + "map" {
            diagnostics.error("the tag '\(Self.display(tag))' does not fit \(kind)", at: tagLocation(location),
                              notes: ["djflow.yaml needs no tags: remove it"])
            return
        }
        reportUnknown(tag, at: location)
    }

    private mutating func reportUnknown(_ tag: String, at location: SourceLocation) {
        diagnostics.error("YAML tag '\(Self.display(tag))' is not allowed: djflow.yaml is plain data (strings, numbers, lists and mappings)",
                          at: tagLocation(location),
                          notes: ["remove the tag; djflow never constructs objects from YAML"])
    }

    /// The node's start is its first property (`&anchor` or `!tag`): point at the tag.
    private func tagLocation(_ start: SourceLocation) -> SourceLocation {
        guard let line = source.line(start.line) else { return start }
        let scalars = Array(line.unicodeScalars)
        var k = start.column - 1
        if k >= 0 && k < scalars.count && scalars[k] == "&" {
            while k < scalars.count && scalars[k] != " " && scalars[k] != "\t" { k += 1 }
            while k < scalars.count && (scalars[k] == " " || scalars[k] == "\t") { k += 1 }
        }
        guard k >= 0 && k < scalars.count && scalars[k] == "!" else { return start }
        return SourceLocation(file: start.file, line: start.line, column: k + 1)
    }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: source.path, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String? {
        guard let pointer else { return nil }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}
