import Foundation

/// Quoting for POSIX shells (bash, sh): any string becomes one word that the shell reads back byte for byte.
public enum ShellQuoting {
    /// Characters that never need quoting in a shell word.
    private static func isSafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-", ".", "/", ":", "@", "%", "+", "=", ",": return true
        default: return false
        }
    }

    /// The string as one shell word: bare when it is made only of safe characters, else in single quotes
    /// with each `'` written as `'\''`. Newlines, `$`, backquotes and `!` are inert inside single quotes.
    public static func quote(_ value: String) -> String {
        if !value.isEmpty, value.unicodeScalars.allSatisfy(isSafe) { return value }
        return "'" + value.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// Joins arguments into one command line, each quoted.
    public static func join(_ arguments: [String]) -> String {
        arguments.map(quote).joined(separator: " ")
    }

    /// True when the string can live in a shell word at all (NUL cannot).
    public static func canQuote(_ value: String) -> Bool { !value.unicodeScalars.contains("\u{0}") }
}
