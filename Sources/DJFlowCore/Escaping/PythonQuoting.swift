/// Python source literals: any string becomes a `str` literal that Python reads back exactly.
public enum PythonQuoting {
    /// A single-line Python string literal for `value`, like `repr()`: single quotes unless the text holds
    /// `'` and no `"`. Backslashes and the chosen quote are escaped; line breaks, tabs and every control,
    /// format or separator character are written as escapes (`\n`, `\x1b`, `\u200b`, `\U000e0001`), so the
    /// literal stays on one line and shows what it holds. Printable Unicode is kept as is (files are UTF-8).
    public static func literal(_ value: String) -> String {
        // Printable ASCII without `\` goes between the quotes as it is (the common case, without a scalar loop).
        var hasSingle = false, hasDouble = false
        if value.allBytes({ byte in
            if byte == UInt8(ascii: "'") { hasSingle = true } else if byte == UInt8(ascii: "\"") { hasDouble = true }
            return byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "\\")
        }) {
            // With `'` and no `"`, double quotes need no escape either (what the loop below would write).
            if !hasSingle { return value.wrapped(in: "'") }
            if !hasDouble { return value.wrapped(in: "\"") }
        }
        let scalars = value.unicodeScalars
        let quote: Unicode.Scalar = scalars.contains("'") && !scalars.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in scalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "'" where quote == "'": out += "\\'"
            case "\"" where quote == "\"": out += "\\\""
            default:
                if scalar.isASCII ? scalar.value < 0x20 || scalar.value == 0x7F : needsEscape(scalar) {
                    out += escape(scalar)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    /// A list literal of string literals: `['a', 'b']`.
    public static func list(_ values: [String]) -> String {
        "[" + values.map(literal).joined(separator: ", ") + "]"
    }

    /// True for characters that must not (or should not) appear raw inside a one-line literal.
    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        if scalar.value < 0x100 { return "\\x" + String(repeating: "0", count: 2 - hex.count) + hex }
        if scalar.value < 0x10000 { return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
        return "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// True when `name` is a Python identifier made of ASCII letters, digits and `_` that is not a keyword.
    public static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        let ok = name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) }
        return ok && !keywords.contains(name)
    }

    static let keywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
        "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ]
}
