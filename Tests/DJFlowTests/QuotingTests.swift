import DJFlowCore
import Foundation
import Testing

/// Hostile strings through the real bash parser.
@Suite struct QuotingTests {
    static let hostile = [
        "", "plain", "with space", "it's", "\"double\"", "$(touch /tmp/djflow-pwned)", "`id`", "a\nb\n", "tab\there",
        "back\\slash", "!bang", "{\"subject\": \"M'1\"}", "ünïcødé ✓", "--looks-like-a-flag", "*glob?[x]", "~home",
        "semi;colon|pipe&amp", "${HOME}", "'", "''", "\\'", "car\rriage", "crlf\r\n", "ü\r'",
    ]

    @Test(arguments: hostile)
    func bashReadsTheQuotedWordBackExactly(value: String) throws {
        let script = "printf '%s' \(ShellQuoting.quote(value))"
        let result = try run("/bin/bash", ["-c", script])
        #expect(result.status == 0)
        #expect(result.output == value)
    }

    /// The one-pass join is the words quoted one by one, and bash reads every word of it back.
    @Test func joinedCommandLinesAreTheQuotedWordsAndBashReadsThemBack() throws {
        let words = Self.hostile.filter { !$0.contains("\0") } + ["=starts-with-equals", "--upstream", "T0001", "a=b"]
        let line = ShellQuoting.join(words)
        #expect(line == words.map(ShellQuoting.quote).joined(separator: " "))
        #expect(ShellQuoting.join([]) == "" && ShellQuoting.join([""]) == "''")
        let result = try run("/bin/bash", ["-c", "for w in \(line); do printf '%s\\0' \"$w\"; done"])
        #expect(result.output.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init) == words)
    }

    /// HTCondor's one-pass `arguments` writes each value as `argument` would, raw items as they are.
    @Test func htcondorArgumentsAreEachArgumentQuoted() {
        let values = Self.hostile.filter { HTCondorQuoting.problem($0) == nil }
        let items = values.map(HTCondorQuoting.Word.value) + [.raw("$(Process)/4"), .value("--upstream"), .value("T1")]
        let expected = "\"" + items.map { item -> String in
            switch item {
            case .value(let text): return HTCondorQuoting.argument(text)
            case .raw(let text): return text
            }
        }.joined(separator: " ") + "\""
        #expect(HTCondorQuoting.arguments(items) == expected)
        #expect(HTCondorQuoting.argument("") == "''" && HTCondorQuoting.argument("ünï") != "ünï")
    }

    @Test func safeWordsStayBare() {
        #expect(ShellQuoting.quote("ephys_pipeline") == "ephys_pipeline")
        #expect(ShellQuoting.quote("a b") == "'a b'")
        #expect(ShellQuoting.quote("") == "''")
    }

    @Test func jinjaRawBlocksSplitEveryTagOpenerAndCarriageReturn() {
        let raw = "{% raw %}", end = "{% endraw %}"
        #expect(JinjaQuoting.wrap("a b") == raw + "a b" + end)
        #expect(JinjaQuoting.wrap("{ % {{x}} %}") == raw + "{ % {{x}} %}" + end, "only `{%` opens a tag that could end the block")
        #expect(JinjaQuoting.wrap("x{%y") == raw + "x{" + end + "%" + raw + "y" + end)
        #expect(JinjaQuoting.wrap("ü{%- endraw -%}") == raw + "ü{" + end + "%" + raw + "- endraw -%}" + end)
        #expect(JinjaQuoting.wrap("a\rb") == raw + "a" + end + "{{ '\\r' }}" + raw + "b" + end)
    }

    @Test func namesFitLimitsWithStableHashes() {
        let long = String(repeating: "a", count: 80)
        let fitted = NameFitting.fit(long, limit: 50)
        #expect(fitted.count == 50)
        #expect(fitted == NameFitting.fit(long, limit: 50))
        #expect(NameFitting.fit(long + "b", limit: 50) != fitted)
        #expect("CuratedClustering".snakeCased == "curated_clustering")
        #expect("LFP".snakeCased == "lfp")
        #expect("HTTPServer2".snakeCased == "http_server2")
    }
}
