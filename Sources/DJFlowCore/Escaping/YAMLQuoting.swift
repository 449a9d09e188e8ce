/// Quoting for YAML (1.1 and 1.2 parsers alike: PyYAML, Go's yaml used by kubectl, Yams): any string becomes
/// one scalar that parses back to exactly the same text, whatever it contains (quotes, `: `, `#`, leading
/// `-`/`*`/`&`/`!`/`%`/`@`, `yes`/`no`/`on`/`null`/`0755`/`1e3` look-alikes, newlines, control characters).
public enum YAMLQuoting {
    /// A double-quoted scalar: `\` and `"` escaped; every character a YAML reader would not take literally
    /// (C0 and C1 controls, DEL, the line breaks U+0085/U+2028/U+2029 that YAML 1.1 folds, the BOM,
    /// U+FFFE/U+FFFF) written as an escape. Printable Unicode stays as it is (UTF-8).
    public static func quote(_ value: String) -> String {
        // Printable ASCII without `"` and `\` stays as it is (the common case, written without a scalar loop).
        if let plain = value.wrapped(in: "\"", ifEveryByte: { $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return plain
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\u{0}": out += "\\0"
            case "\u{7}": out += "\\a"
            case "\u{8}": out += "\\b"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\u{B}": out += "\\v"
            case "\u{C}": out += "\\f"
            case "\r": out += "\\r"
            case "\u{1B}": out += "\\e"
            case "\u{85}": out += "\\N"
            case "\u{A0}": out += "\\_"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            default:
                if isLiteralSafe(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out += "\\x" + hex(scalar.value, digits: 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, digits: 4)
                } else {
                    out += "\\U" + hex(scalar.value, digits: 8)
                }
            }
        }
        return out + "\""
    }

    /// A mapping key: plain when it is a simple name that no YAML reader takes for anything but a string
    /// (`app.kubernetes.io/name`, `DJ_HOST`), else `quote`d (`"on"`, `"yes"`, `"a: b"`).
    public static func key(_ value: String) -> String {
        func isLetter(_ byte: UInt8) -> Bool { (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) }
        let bytes = value.utf8
        let simple = bytes.first.map { isLetter($0) || $0 == UInt8(ascii: "_") } == true
            && bytes.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "-") }
        return simple && !(bytes.count <= 5 && reservedKeys.contains(value.lowercased())) ? value : quote(value)
    }

    /// Plain words some YAML reader takes for a boolean or null.
    private static let reservedKeys: Set<String> = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"]

    /// A literal block scalar (`|`, `|-` or `|+`) whose lines are indented by `indent` spaces, for long
    /// multi-line text (a script in a ConfigMap); the first line of the result is the indicator, to be
    /// written after `key: `. Falls back to `quote` when a block cannot carry the text exactly (characters
    /// that need escapes, a first line starting with a space, blank-only text, `\r`).
    public static func block(_ value: String, indent: Int) -> String {
        guard canBeBlock(value) else { return quote(value) }
        var body = Substring(value)
        var trailing = 0
        while body.last == "\n" { body.removeLast(); trailing += 1 }
        let chomp = trailing == 0 ? "-" : trailing == 1 ? "" : "+"
        let pad = String(repeating: " ", count: indent)
        var lines = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : pad + $0 }
        if trailing > 1 { lines += Array(repeating: "", count: trailing - 1) }
        return "|" + chomp + "\n" + lines.joined(separator: "\n")
    }

    /// True when `block` writes a literal block (not the quoted fallback).
    public static func canBeBlock(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, first != " ", first != "\n", first != "\t" else { return false }
        if value.unicodeScalars.allSatisfy({ $0 == "\n" }) { return false }
        // Only printable characters and tabs inside lines; trailing spaces at line ends are kept by literal blocks.
        return value.unicodeScalars.allSatisfy { $0 == "\n" || $0 == "\t" || isLiteralSafe($0) }
    }

    /// Printable in every YAML reader, and no line break: safe to copy into a quoted or block scalar.
    private static func isLiteralSafe(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20...0x7E: return true
        case 0xA1...0xD7FF: return s.value != 0x2028 && s.value != 0x2029
        case 0xE000...0xFFFD: return s.value != 0xFEFF
        case 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// A YAML value written in flow style (`{name: "a", value: "b"}`, `["x", 2]`) with every string through
/// `YAMLQuoting.quote` and every key through `YAMLQuoting.key`; or in block style (`block(indent:)`).
public enum YAMLValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([YAMLValue])
    /// Entries in the given order.
    case map([YAMLEntry])

    /// Block style lines, each starting with `indent` spaces; scalars, empty lists and empty maps give one line.
    public func block(indent: Int) -> [String] {
        var lines: [String] = []
        appendBlock(to: &lines, indent: indent, firstPrefix: nil)
        return lines
    }

    /// `block(indent:)` as one text, lines joined by `\n` (no final newline).
    public func blockText(indent: Int) -> String { block(indent: indent).joined(separator: "\n") }

    /// Appends the block lines; `firstPrefix` replaces the indentation of the first line (`- ` of a list item).
    private func appendBlock(to lines: inout [String], indent: Int, firstPrefix: String?) {
        let pad = String(repeating: " ", count: indent)
        var first = firstPrefix
        func start() -> String {
            defer { first = nil }
            return first ?? pad
        }
        switch self {
        case .map(let entries) where !entries.isEmpty:
            for entry in entries {
                let key = start() + YAMLQuoting.key(entry.key) + ":"
                if entry.value.isCollection {
                    lines.append(key)
                    entry.value.appendBlock(to: &lines, indent: indent + 2, firstPrefix: nil)
                } else {
                    lines.append(key + " " + entry.value.flow)
                }
            }
        case .list(let items) where !items.isEmpty:
            for item in items {
                let dash = start() + "- "
                guard case .map(let entries) = item, !entries.isEmpty else { lines.append(dash + item.flow); continue }
                item.appendBlock(to: &lines, indent: indent + 2, firstPrefix: dash)
            }
        default:
            lines.append(start() + flow)
        }
    }

    /// A non-empty map or list (written over several lines in block style).
    public var isCollection: Bool {
        switch self {
        case .map(let entries): return !entries.isEmpty
        case .list(let items): return !items.isEmpty
        default: return false
        }
    }

    public var flow: String {
        switch self {
        case .string(let text): return YAMLQuoting.quote(text)
        case .int(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .list(let items): return "[" + items.map(\.flow).joined(separator: ", ") + "]"
        case .map(let entries):
            return "{" + entries.map { YAMLQuoting.key($0.key) + ": " + $0.value.flow }.joined(separator: ", ") + "}"
        }
    }
}

public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var value: YAMLValue
    public init(_ key: String, _ value: YAMLValue) { self.key = key; self.value = value }
}

extension YAMLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: YAMLValue...) { self = .list(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// A map from ordered pairs: `.object(["name": "x", "key": "y"])`.
    public static func object(_ pairs: KeyValuePairs<String, YAMLValue>) -> YAMLValue {
        .map(pairs.map { YAMLEntry($0.key, $0.value) })
    }
}
