/// `#SBATCH` lines as sbatch reads them (`get_argument` in SLURM's `src/sbatch/opt.c`, 22.05 to today):
/// after `#SBATCH`, whitespace separates arguments; `"…"` and `'…'` group characters (quotes are removed);
/// `\` makes the next character literal; an unquoted, unescaped `#` starts a comment (the rest of the line
/// is dropped); an unmatched quote makes sbatch refuse the whole script. djflow writes its own directives
/// from checked tokens only; `arguments(of:)` reads a user's `extra` entry the way sbatch will.
public enum SlurmDirectives {
    /// What sbatch makes of the text after `#SBATCH `.
    public enum Reading: Equatable, Sendable {
        /// The arguments sbatch passes to its option parser, quotes and escapes removed.
        case arguments([String])
        /// An unmatched `"` or `'`: sbatch stops with "Unmatched `"` in [...]".
        case unmatchedQuote(Character)
        /// An unquoted `#`: sbatch drops it and the rest of the line. `kept` is what sbatch still reads.
        case comment(kept: [String], dropped: String)
        /// An argument starting with `:` (sbatch: "Unexpected `:`", a fatal error).
        case unexpectedColon
    }

    /// `isspace` in the C locale.
    private static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\u{B}" || scalar == "\u{C}" || scalar == "\r"
    }

    /// The arguments of one directive line (the text after `#SBATCH`), as sbatch reads them.
    public static func arguments(of line: String) -> Reading {
        let scalars = Array(line.unicodeScalars)
        var arguments: [String] = []
        var index = 0
        while true {
            while index < scalars.count, isSpace(scalars[index]) { index += 1 }
            guard index < scalars.count else { return .arguments(arguments) }
            if scalars[index] == ":" { return .unexpectedColon }
            var argument = String.UnicodeScalarView()
            var escaped = false
            var quote: Unicode.Scalar?
            while index < scalars.count, quote != nil || !isSpace(scalars[index]), scalars[index] != "\n", scalars[index] != "\u{0}" {
                let scalar = scalars[index]
                if escaped {
                    escaped = false
                } else if scalar == "\\" {
                    escaped = true
                    index += 1
                    continue
                } else if let open = quote {
                    if scalar == open { quote = nil; index += 1; continue }
                } else if scalar == "\"" || scalar == "'" {
                    quote = scalar
                    index += 1
                    continue
                } else if scalar == "#" {
                    if !argument.isEmpty { arguments.append(String(argument)) }
                    return .comment(kept: arguments, dropped: String(String.UnicodeScalarView(scalars[index...])))
                }
                argument.append(scalar)
                index += 1
            }
            if let open = quote { return .unmatchedQuote(Character(open)) }
            // sbatch stops reading the line at an argument with no characters (`""`).
            guard !argument.isEmpty else { return .arguments(arguments) }
            arguments.append(String(argument))
        }
    }
}
