// Escaping for bash: single-quoted words that bash reads back byte for byte.

import Foundation

/// Quoting for bash (every generated script and `bash_command` runs bash): any string becomes one word that
/// bash reads back byte for byte.
public enum ShellQuoting {
    /// Characters that never need quoting in a shell word (`=` not first: `export X==` reads fine in bash
    /// but is shellcheck's SC1097, "unexpected ==").
    private static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "@"),
             UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ","): return true
        default: return false
        }
    }

    /// The string as one shell word: bare when it is made only of safe characters (and does not start with
    /// `=`), else in single quotes with each `'` written as `'\''`. Newlines, `$`, backquotes and `!` are
    /// inert inside single quotes. A carriage return is written outside them as bash's `$'\r'`: every
    /// generated file has LF line ends (a CR before a LF would be taken for a CRLF line end and dropped,
    /// and sbatch refuses scripts with CRLF).
    public static func quote(_ value: String) -> String {
        if !value.isEmpty, value.utf8.first != UInt8(ascii: "="), value.allBytes(isSafe) { return value }
        // Without `'` and CR the text goes between the quotes as it is (checked by bytes: both are ASCII).
        if let quoted = value.wrapped(in: "'", ifEveryByte: { $0 != UInt8(ascii: "'") && $0 != 13 }) { return quoted }
        var out = "'"
        for scalar in value.unicodeScalars {  // scalars: "\r\n" is one Character
            switch scalar {
            case "'": out += #"'\''"#
            case "\r": out += #"'$'\r''"#
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// Joins arguments into one command line, each quoted.
    /// In one pass into one buffer: a word of safe characters is copied as it is, any other goes through
    /// `quote`. Runner command lines run to thousands of words (`--upstream` names every job above a
    /// pipelined one: 400,000 of them in a 10,000-table pipeline), so no array of quoted words is made.
    public static func join(_ arguments: [String]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(arguments.reduce(arguments.count) { $0 + $1.utf8.count })
        for index in arguments.indices {
            if index > 0 { out.append(UInt8(ascii: " ")) }
            var word = arguments[index]
            let copied = word.withUTF8 { bytes -> Bool in
                guard let first = bytes.first, first != UInt8(ascii: "=") else { return false }
                for byte in bytes where !isSafe(byte) { return false }
                out.append(contentsOf: bytes)
                return true
            }
            if !copied { out.append(contentsOf: quote(word).utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when the string can live in a shell word at all (NUL cannot).
    public static func canQuote(_ value: String) -> Bool { !value.unicodeScalars.contains("\u{0}") }
}
