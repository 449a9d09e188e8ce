/// Quoting for HTCondor submit files and DAGMan input files, checked against HTCondor 24.12's own submit
/// parser (`tests/htcondor`). Submit files are line-based and expand `$(…)`/`$ENV(…)` macros everywhere,
/// so every user value goes through one of these functions:
///
/// - `arguments` / `argument`: the new (double-quote) syntax. The whole value sits in `"…"`, arguments are
///   split by spaces, an argument in `'…'` may hold spaces, `''` is a literal `'` and `""` a literal `"`.
/// - `environment`: the new syntax too: `"A=1 B='x y' C=""q"""`.
/// - `varsValue`: a DAGMan `VARS` value that lands inside a `'…'` argument (rule 7 of the reference):
///   `'` and `"` are doubled first (for the submit file), then `\` and `"` are escaped for DAGMan.
/// - Every `$` becomes `$(DOLLAR)`, HTCondor's predefined macro for a literal dollar sign, so a value such
///   as `$(x)` or `$ENV(HOME)` is never expanded.
///
/// Line breaks (and NUL) cannot be written in either language: check `canWrite` first.
public enum HTCondorQuoting {
    /// True when the value can be written at all (no line break, no NUL).
    public static func canWrite(_ value: String) -> Bool {
        !value.unicodeScalars.contains { $0 == "\n" || $0 == "\r" || $0 == "\u{0}" }
    }

    /// `$` → `$(DOLLAR)`, so the submit language reads the value literally.
    public static func literalDollars(_ value: String) -> String {
        value.replacingOccurrences(of: "$", with: "$(DOLLAR)")
    }

    /// Characters an argument or environment value may use without quotes.
    private static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-", ".", "/", ":", "@", "%", "+", "=", ",": return true
        default: return false
        }
    }

    /// One argument for the inside of a new-syntax `arguments = "…"` value (bare, or in `'…'`).
    public static func argument(_ value: String) -> String {
        if !value.isEmpty, value.unicodeScalars.allSatisfy(isPlain) { return value }
        return "'" + doubleQuotes(literalDollars(value)) + "'"
    }

    /// A full new-syntax `arguments` value: `"a 'b c' ''"`. Items in `raw` are already written (for
    /// macros djflow itself puts there, like `$(Process)`); the others are quoted.
    public static func arguments(_ items: [Word]) -> String {
        "\"" + items.map { word in
            switch word {
            case .value(let text): return argument(text)
            case .raw(let text): return text
            }
        }.joined(separator: " ") + "\""
    }

    /// A piece of a submit-file value: a user value (quoted), or text djflow writes as is (a macro).
    public enum Word: Sendable, Equatable {
        case value(String)
        case raw(String)
    }

    /// A full new-syntax `environment` value from `(name, value)` pairs; names must be valid variable names.
    public static func environment(_ pairs: [(name: String, value: Word)]) -> String {
        "\"" + pairs.map { pair in
            switch pair.value {
            case .value(let text): return pair.name + "=" + argument(text)
            case .raw(let text): return pair.name + "=" + text
            }
        }.joined(separator: " ") + "\""
    }

    /// A value for `VARS node [APPEND] name="…"` whose macro is used inside `'…'` in `arguments`
    /// (rule 7): double `'` and `"`, make `$` literal, then escape `\` and `"` for DAGMan.
    /// `it's "q"` becomes `it''s \"\"q\"\"`. Returns the text between the double quotes.
    public static func varsValue(_ value: String) -> String {
        let forSubmit = doubleQuotes(literalDollars(value))
        return forSubmit.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    /// `'` → `''` and `"` → `""`: the escapes of a new-syntax quoted argument.
    private static func doubleQuotes(_ value: String) -> String {
        value.replacingOccurrences(of: "'", with: "''").replacingOccurrences(of: "\"", with: "\"\"")
    }

    /// A path or file name written bare after `=` in a submit command (`log = …`, `executable = …`): no
    /// quoting exists there, so only characters that mean nothing to the submit language are allowed.
    public static func isBarePath(_ value: String) -> Bool {
        !value.isEmpty && value.unicodeScalars.allSatisfy { isPlain($0) && $0 != "=" && $0 != "," && $0 != "+" }
    }

    /// A DAGMan node, splice or category name: `[A-Za-z0-9_-]+`, not a reserved word.
    public static func isNodeName(_ value: String) -> Bool {
        !value.isEmpty && !reservedNodeNames.contains(value.uppercased())
            && value.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") }
    }

    /// Words DAGMan reads as keywords where a node name is expected.
    public static let reservedNodeNames: Set<String> = ["PARENT", "CHILD", "ALL_NODES"]
}
