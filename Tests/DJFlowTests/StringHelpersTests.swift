// The byte-level string helpers every quoted word goes through give what the standard library would.
import DJFlowCore
import Testing

@Suite struct StringHelpersTests {
    static let words: [[String]] = [
        [], [""], ["a"], ["", ""], ["a", "", "b"], ["--upstream", "t0001", "--upstream", "t0002"],
        ["ünïcödé", "日本語", "🧪 x"], [String(repeating: "long-word-", count: 500), "b"],
        ["a\u{0}b", "\r\n", "'\"\\$"],
    ]

    @Test(arguments: words)
    func joinedInOnePassIsJoined(words: [String]) {
        for separator in [" ", "", ", ", "→"] {
            #expect(words.joinedInOnePass(separator: separator) == words.joined(separator: separator))
        }
    }

    @Test func wrappedPutsTheQuoteAtBothEnds() {
        for text in ["", "a", "exactly 13 ch", "fourteen chars", String(repeating: "x", count: 40), "ünï", "日本語🧪"] {
            #expect(text.wrapped(in: "\"") == "\"" + text + "\"")
            #expect(text.wrapped(in: "'") == "'" + text + "'")
        }
    }

    @Test func wrappedIfEveryByteWrapsOnlyWhenEveryByteIsTaken() {
        let ascii: (UInt8) -> Bool = { $0 < 0x80 && $0 != UInt8(ascii: "'") }
        for text in ["", "a", "exactly 13 ch", String(repeating: "y", count: 40)] {
            #expect(text.wrapped(in: "'", ifEveryByte: ascii) == "'" + text + "'")
        }
        for text in ["it's", "ünï", String(repeating: "y", count: 40) + "'", "'"] {
            #expect(text.wrapped(in: "'", ifEveryByte: ascii) == nil, "\(text.debugDescription)")
        }
    }

    /// `NameFitting.sanitize` (with its ASCII fast path) gives what the scalar-by-scalar rule gives.
    @Test func sanitizeKeepsItsRule() {
        let allowed: (Unicode.Scalar) -> Bool = { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") }
        func reference(_ text: String) -> String {
            var out = ""
            var lastWasReplacement = false
            for scalar in text.unicodeScalars {
                if allowed(scalar) { out.unicodeScalars.append(scalar); lastWasReplacement = false }
                else if !lastWasReplacement { out.append("-"); lastWasReplacement = true }
            }
            return out.trimming("-")
        }
        for text in ["t0001", "pipe-t0001", "-lead", "trail-", "a--b", "a..b", "ünï", "a b\tc", "", "-", "__x__", "x.y-", "日本"] {
            #expect(NameFitting.sanitize(text, allowed: allowed) == reference(text), "\(text.debugDescription)")
        }
        #expect(NameFitting.fit("short", limit: 5) == "short")
        #expect(NameFitting.fit("ünïcödé-name", limit: 12) == "ünïcödé-name", "12 characters in 16 bytes fit a limit of 12")
    }
}
