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
}
