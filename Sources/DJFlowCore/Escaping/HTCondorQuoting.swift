/// Quoting for HTCondor submit files and DAGMan input files, checked against HTCondor 24.12's own submit
/// parser (`integration/htcondor`). Submit files are line-based and expand `$(…)`/`$ENV(…)` macros everywhere,
/// so every user value goes through one of these functions:
///
/// - `arguments` / `argument`: the new (double-quote) syntax. The whole value sits in `"…"`, arguments are
///   split by spaces, an argument in `'…'` may hold spaces, `''` is a literal `'` and `""` a literal `"`.
/// - `environment`: the new syntax too: `"A=1 B='x y' C=""q"""`.
/// - `varsValue`: a DAGMan `VARS` value that lands inside a `'…'` argument (rule 7 of the reference):
///   `'` and `"` are doubled first (for the submit file), then `\` and `"` are escaped for DAGMan.
/// - `literalDollars`: dollar signs, in two layers. When the submit file is read, `$(NAME)` is expanded
///   and `$(DOLLAR)` becomes `$` in a last pass; `$$(NAME)` is left in the job ad, where the schedd replaces
///   it when the job matches a machine (`$$(OpSys)`), and `$$(DOLLARDOLLAR)` is the one that becomes `$$`
///   there. So a run of dollars is written as `$$(DOLLARDOLLAR)` per pair, then `$(DOLLAR)` for an odd one
///   (`$$$(x)` → `$$(DOLLARDOLLAR)$(DOLLAR)(x)`): no `$$(` of the user's reaches the matchmaker.
///
/// What cannot be written is refused by `problem(_:)` (check it first): line breaks and NUL (the language is
/// line-based), and the text `$(DOLLAR)` after an odd run of dollars (the last pass turns the `$` it just
/// wrote plus the user's `(DOLLAR)` into one more `$`). A value written bare after `=` (no quotes exist
/// there) must also pass `bareProblem(_:)`: a trailing `\` would continue the line into the next command.
public enum HTCondorQuoting {
    /// True when the value can be written inside quotes (`problem(_:)` is nil).
    public static func canWrite(_ value: String) -> Bool { problem(value) == nil }

    /// Why the value cannot be written in a quoted argument, environment value or `VARS` value, as the end
    /// of a sentence ("… because it holds a line break"); nil when it can.
    public static func problem(_ value: String) -> String? {
        if value.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
            return "it holds a line break (HTCondor submit files and DAG files are line-based)"
        }
        if value.unicodeScalars.contains("\u{0}") { return "it holds a NUL character" }
        if holdsDollarMacro(value) {
            return "it holds the text '$(DOLLAR)' after an odd number of '$': HTCondor turns that into one more '$' however it is written"
        }
        return nil
    }

    /// Why the value cannot be written bare after `name =` (a path, an image): `problem(_:)`, or a trailing
    /// backslash, which continues the line into the next submit command.
    public static func bareProblem(_ value: String) -> String? {
        if let problem = problem(value) { return problem }
        if value.hasSuffix("\\") { return "it ends in a backslash, which continues the line into the next submit command" }
        return nil
    }

    /// An odd run of `$` followed by `(DOLLAR)` in any case: HTCondor's `$(DOLLAR)` pass rescans from the `$`
    /// it wrote, so the user's `(DOLLAR)` would become part of another `$(DOLLAR)`.
    private static func holdsDollarMacro(_ value: String) -> Bool {
        let scalars = Array(value.unicodeScalars)
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "$" else { index += 1; continue }
            var end = index
            while end < scalars.count, scalars[end] == "$" { end += 1 }
            // HTCondor compares the name with strncasecmp: ASCII letters in any case.
            let word = Array("(DOLLAR)".unicodeScalars)
            if (end - index) % 2 == 1, end + word.count <= scalars.count,
               zip(scalars[end...], word).allSatisfy({ pair in
                   pair.0 == pair.1 || (pair.1.properties.isUppercase && pair.0.value == pair.1.value + 32)
               }) {
                return true
            }
            index = end
        }
        return false
    }

    /// Dollar signs written so that both the submit file reader and the schedd's match-time expansion give
    /// them back as they are: each pair of a run as `$$(DOLLARDOLLAR)`, an odd last one as `$(DOLLAR)`.
    /// `$$(OpSys)` → `$$(DOLLARDOLLAR)(OpSys)`, `a$b` → `a$(DOLLAR)b`. Check `problem(_:)` first.
    public static func literalDollars(_ value: String) -> String {
        guard value.contains("$") else { return value }
        var out = ""
        var run = 0
        func flush() {
            out += String(repeating: "$$(DOLLARDOLLAR)", count: run / 2)
            if run % 2 == 1 { out += "$(DOLLAR)" }
            run = 0
        }
        for scalar in value.unicodeScalars {
            if scalar == "$" { run += 1; continue }
            flush()
            out.unicodeScalars.append(scalar)
        }
        flush()
        return out
    }

    /// Characters an argument or environment value may use without quotes.
    /// Plain characters are all ASCII, so a text is plain when each of its UTF-8 bytes is (the bytes of any
    /// other character are not ASCII).
    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "@"),
             UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ","): return true
        default: return false
        }
    }

    /// One argument for the inside of a new-syntax `arguments = "…"` value (bare, or in `'…'`).
    public static func argument(_ value: String) -> String {
        if !value.isEmpty, value.allBytes(isPlain) { return value }
        return "'" + doubleQuotes(literalDollars(value)) + "'"
    }

    /// A full new-syntax `arguments` value: `"a 'b c' ''"`. Items in `raw` are already written (for
    /// macros djflow itself puts there, like `$(Process)`); the others are quoted. Written in one pass into
    /// one buffer (runner command lines run to thousands of words).
    public static func arguments(_ items: [Word]) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for index in items.indices {
            if index > 0 { out.append(UInt8(ascii: " ")) }
            switch items[index] {
            case .raw(let text): out.append(contentsOf: text.utf8)
            case .value(var text):
                let copied = text.withUTF8 { bytes -> Bool in
                    guard !bytes.isEmpty else { return false }
                    for byte in bytes where !isPlain(byte) { return false }
                    out.append(contentsOf: bytes)
                    return true
                }
                if !copied { out.append(contentsOf: argument(text).utf8) }
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
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
        }.joinedInOnePass(separator: " ") + "\""
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
        !value.isEmpty && value.allBytes { isPlain($0) && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "+") }
    }

    /// A container image reference written bare after `container_image =`: printable ASCII without quotes,
    /// `$` (a macro) or `\` (a trailing one continues the line; none belongs in an image reference).
    public static func isImageReference(_ value: String) -> Bool {
        !value.isEmpty && value.unicodeScalars.allSatisfy { (0x21...0x7E).contains($0.value) && !"\"'$\\".unicodeScalars.contains($0) }
    }

    /// A DAGMan node, splice or category name: `[A-Za-z0-9_-]+`, not a reserved word.
    public static func isNodeName(_ value: String) -> Bool {
        !value.isEmpty && !reservedNodeNames.contains(value.uppercased())
            && value.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") }
    }

    /// Words DAGMan reads as keywords where a node name is expected.
    public static let reservedNodeNames: Set<String> = ["PARENT", "CHILD", "ALL_NODES"]
}
