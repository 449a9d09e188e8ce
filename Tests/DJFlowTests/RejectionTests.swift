import DJFlowCore
import DJFlowKit
import DJFlowSpec
import Foundation
import Testing

/// Malformed input of every kind is rejected with an error located on the line at fault, all at once, quickly.
@Suite struct RejectionTests {
    /// The printed diagnostics, after checking that analysing took well under a second.
    func rejected(_ yaml: String, file: String = "test.yaml") -> String {
        let started = Date()
        let analysis = analyse(yaml)
        let seconds = Date().timeIntervalSince(started)
        #expect(seconds < 1, "took \(seconds) s")
        #expect(analysis.diagnostics.hasErrors)
        #expect(analysis.plan == nil)
        return DiagnosticPrinter(files: [SourceFile(path: "test.yaml", text: yaml)]).format(analysis.diagnostics)
    }

    /// `levels` anchors, each a list of `width` aliases of the one before ("billion laughs").
    static func aliasBomb(levels: Int = 9, width: Int = 10) -> String {
        var lines = ["x0: &a0 [S]"]
        for level in 1...levels {
            lines.append("x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: width).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: YAML aliases

    @Test func aliasBombInDependsOnIsRejectedAtTheAliasWithoutExpandingIt() {
        let yaml = Self.aliasBomb() + "\n" + pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: *a9}")
        let printed = rejected(yaml)
        // The alias in depends_on, 10 + 6 lines down: 9 levels of 10 aliases stand for 2,111,111,111 nodes.
        #expect(printed.contains("test.yaml:16:35: error: alias '*a9' stands for 2111111111 YAML nodes, more than the 1000 an alias may expand to\n  A: {tier: computed, depends_on: *a9}\n                                  ^\n"), "\(printed)")
        // The first level over the budget is reported where it is used.
        #expect(printed.contains("test.yaml:5:10: error: alias '*a3' stands for 2111 YAML nodes"), "\(printed)")
        #expect(!printed.contains("'*a2'"), "\(printed)")
    }

    @Test func aliasBombInATargetOptionIsRejected() {
        let yaml = pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}",
                            extra: Self.aliasBomb(levels: 9) + "\ntargets:\n  slurm: {partition: p, extra: *a9}")
        let printed = rejected(yaml)
        #expect(printed.contains("test.yaml:18:32: error: alias '*a9' stands for"), "\(printed)")
        #expect(printed.contains("  slurm: {partition: p, extra: *a9}\n                               ^"), "\(printed)")
    }

    @Test func deeperBombsSaturateInsteadOfOverflowing() {
        let printed = rejected(Self.aliasBomb(levels: 40, width: 10) + "\n" + pipeline("S: {tier: manual}"))
        #expect(printed.contains("stands for more than 10^18 YAML nodes"), "\(printed)")
    }

    @Test func manySmallAliasesAreBoundedInAll() {
        // 300 aliases of a 501-node anchor: each is within the budget, together they are not.
        let anchor = "big: &big [" + (0..<500).map(String.init).joined(separator: ", ") + "]"
        let uses = (0..<300).map { "u\($0): *big" }.joined(separator: "\n")
        let printed = rejected(anchor + "\n" + uses + "\n" + pipeline("S: {tier: manual}"))
        #expect(printed.contains("test.yaml:201:7: error: aliases in this file stand for more than 100000 YAML nodes in all; this one goes over\nu199: *big\n      ^"), "\(printed)")
        #expect(printed.components(separatedBy: "error:").count == 2, "\(printed)")
    }

    @Test func smallAliasesStillWork() {
        let yaml = pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], resources: &r {cpus: 2, memory: 4G}}
            B: {tier: computed, depends_on: [A], resources: *r}
            """)
        let analysis = analyse(yaml)
        #expect(!analysis.diagnostics.hasErrors, "\(printedDiagnostics(yaml))")
        #expect(analysis.plan?.jobs.map(\.resources.cpus) == [2, 2])
    }

    // MARK: YAML tags

    @Test func pythonObjectTagIsAnErrorAtTheTag() {
        let yaml = pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: !!python/object/apply:os.system [id]}")
        let printed = rejected(yaml)
        #expect(printed.contains("test.yaml:6:35: error: YAML tag '!!python/object/apply:os.system' is not allowed: djflow.yaml is plain data (strings, numbers, lists and mappings)\n  A: {tier: computed, depends_on: !!python/object/apply:os.system [id]}\n                                  ^"), "\(printed)")
    }

    @Test func localAndMismatchedTagsAreErrors() {
        let yaml = pipeline("""
            S: {tier: manual, module: &m !custom lab}
            A: {tier: computed, depends_on: !!map [S], workers: !!int two}
            """)
        let printed = rejected(yaml)
        #expect(printed.contains("test.yaml:5:32: error: YAML tag '!custom' is not allowed"), "\(printed)")
        #expect(printed.contains("test.yaml:6:35: error: the tag '!!map' does not fit a list"), "\(printed)")
        #expect(printed.contains("test.yaml:6:55: error: the tag '!!int' does not fit the value 'two'"), "\(printed)")
    }

    /// djflow reads YAML without implicit-type rules and decides null itself: the plain scalars YAML reads
    /// as null are null, everything else is text.
    @Test(arguments: [("~", true), ("null", true), ("Null", true), ("NULL", true), ("", true),
                      ("'null'", false), ("\"Null\"", false), ("!!str null", false), ("nulls", false), ("nULL", false), ("None", false)])
    func nullIsWhatYAMLReadsAsNull(value: String, isNull: Bool) {
        let yaml = pipeline("S: {tier: manual, module: \(value)}")
        let analysis = analyse(yaml)
        if isNull {
            #expect(printedDiagnostics(yaml).contains("must be a string, found null"), "\(printedDiagnostics(yaml))")
        } else {
            #expect(!analysis.diagnostics.hasErrors, "\(printedDiagnostics(yaml))")
            #expect(analysis.spec?.tables.first?.module?.value != nil)
        }
    }

    @Test func coreTagsThatFitAreAccepted() {
        let yaml = pipeline("""
            S: {tier: manual, module: !!str null}
            A: {tier: computed, depends_on: !!seq [S], workers: !!int 2, module: ! lab}
            """)
        let analysis = analyse(yaml)
        #expect(!analysis.diagnostics.hasErrors, "\(printedDiagnostics(yaml))")
        #expect(analysis.spec?.tables.first?.module?.value == "null")
    }

    // MARK: `->` lines

    static let malformedArrows: [(line: String, column: Int, message: String)] = [
        ("->", 7, "'->' names no table"),
        ("-> [nullable", 10, "unclosed '[' in the options of '->'"),
        ("-> [nullabel] S", 11, "unknown foreign key option 'nullabel'; did you mean 'nullable'?"),
        ("-> [unique, nulable] S", 19, "unknown foreign key option 'nulable'; did you mean 'nullable'?"),
        ("-> ../S", 10, "expected a table name after '->', found '../S'"),
        ("-> .proj(a='b')", 10, "expected a table name after '->', found '.proj(a='b')'"),
        ("-> S.proj(subj='subject_id'", 16, "unclosed '(' in the reference to 'S'"),
        ("-> S P", 12, "unexpected 'P' after the reference to 'S'"),
        ("-> S.", 12, "expected a name after '.'"),
        ("-> S.proj", 11, "'.proj' needs its arguments"),
        ("foo -> S", 7, "unexpected 'foo' before '->'"),
    ]

    @Test(arguments: malformedArrows.indices)
    func malformedArrowLineIsAnErrorOnThatLine(_ index: Int) {
        let bad = Self.malformedArrows[index]
        let yaml = pipeline("""
            S: {tier: manual}
            P: {tier: manual}
            A:
              tier: computed
              definition: |
                -> S
                \(bad.line)
                id: int
            """)
        let printed = rejected(yaml)
        let caret = String(repeating: " ", count: bad.column - 1) + "^"
        #expect(printed.hasPrefix("test.yaml:11:\(bad.column): error: \(bad.message)"), "\(printed)")
        #expect(printed.contains("\n      \(bad.line)\n\(caret)\n"), "\(printed)")
        #expect(printed.hasSuffix("1 error generated.\n"), "\(printed)")
    }

    @Test func everyMalformedArrowLineIsReportedAtOnce() {
        let lines = Self.malformedArrows.map { "    " + $0.line }.joined(separator: "\n")
        let yaml = pipeline("S: {tier: manual}\nP: {tier: manual}\nA:\n  tier: computed\n  definition: |\n    -> S\n" + lines)
        let printed = rejected(yaml)
        for (offset, bad) in Self.malformedArrows.enumerated() {
            #expect(printed.contains("test.yaml:\(11 + offset):\(bad.column): error: \(bad.message)"), "\(printed)")
        }
        #expect(printed.hasSuffix("\(Self.malformedArrows.count) errors generated.\n"), "\(printed)")
    }

    @Test func arrowErrorsInAQuotedDefinitionPointIntoTheQuotedText() {
        let printed = rejected(pipeline("S: {tier: manual}\nA: {tier: computed, definition: \"-> S\\n-> [uniq] S\"}"))
        #expect(printed.contains("test.yaml:6:46: error: unknown foreign key option 'uniq'; did you mean 'unique'?\n  A: {tier: computed, definition: \"-> S\\n-> [uniq] S\"}\n                                             ^"), "\(printed)")
    }

    @Test func validArrowFormsStayValid() {
        let yaml = pipeline("""
            S: {tier: manual}
            P: {tier: manual}
            A:
              tier: computed
              definition: |
                -> S
                ->P   # comment -> with an arrow
                -> [nullable, UNIQUE] S.proj(other='s_id')
                (x) -> S(s_id)
                -> S.proj(a='b)').proj(c = "d")
                name = "a->b" : varchar(9)   # a quote before the arrow: an attribute
                id: int
            """)
        let analysis = analyse(yaml)
        #expect(!analysis.diagnostics.hasErrors, "\(printedDiagnostics(yaml))")
        let references = analysis.spec?.tables.first { $0.name.className == "A" }?.definition?.references ?? []
        #expect(references.map(\.name.value) == ["S", "P", "S", "S", "S"])
        #expect(references[2].options == ["nullable", "unique"])
    }

    @Test func malformedArrowLinesInPythonDefinitionsAreLocatedInThePythonFile() {
        let module = PythonReaderTests.header + #"""
            @schema
            class Subject(dj.Manual):
                definition = """
                subject: int
                """

            @schema
            class Session(dj.Imported):
                definition = """
                -> [nullabel] Subject
                -> Subject Probe
                session: int
                """

                class Part(dj.Part):
                    definition = "-> master\n-> .proj(a='b')"
            """#
        let files = [("lab.py", module)]
        let yaml = "pipeline: t\nsources: ['*.py']\n"
        let (analysis, printed) = analyseWithPython(yaml, files)
        #expect(analysis.plan == nil)
        #expect(printed.contains("lab.py:12:9: error: unknown foreign key option 'nullabel'; did you mean 'nullable'?\n    -> [nullabel] Subject\n        ^"), "\(printed)")
        #expect(printed.contains("lab.py:13:16: error: unexpected 'Probe' after the reference to 'Subject'\n    -> Subject Probe\n               ^"), "\(printed)")
        #expect(printed.contains("lab.py:18:37: error: expected a table name after '->', found '.proj(a='b')'"), "\(printed)")
        #expect(printed.hasSuffix("3 errors generated.\n"), "\(printed)")
    }

    // MARK: structure

    @Test func masterDependingOnItsOwnPartIsACycle() {
        let printed = rejected(pipeline("S: {tier: manual}\nR: {tier: imported, depends_on: [S, R.C], parts: [C]}"))
        #expect(printed.contains("test.yaml:6:39: error: 'R' depends on its own part 'R.C': the part is filled by R's own job"), "\(printed)")
        #expect(printed.contains("  R: {tier: imported, depends_on: [S, R.C], parts: [C]}\n                                      ^"), "\(printed)")
    }

    @Test func masterDefinitionReferencingItsOwnPartIsACycle() {
        let printed = rejected(pipeline("""
            S: {tier: manual}
            R:
              tier: imported
              parts: [C]
              definition: |
                -> S
                -> R.C
            """))
        #expect(printed.contains("test.yaml:11:10: error: 'R' depends on its own part 'R.C'"), "\(printed)")
    }

    @Test func partsOfOneMasterMayReferToEachOther() {
        let yaml = pipeline("""
            S: {tier: manual}
            R: {tier: imported, depends_on: [S], parts: [A, B]}
            R.B: {definition: "-> master\\n-> R.A"}
            """)
        #expect(!analyse(yaml).diagnostics.hasErrors, "\(printedDiagnostics(yaml))")
    }

    @Test func partNamedLikeItsMasterIsAnError() {
        let printed = rejected(pipeline("S: {tier: manual}\nR: {tier: imported, depends_on: [S], parts: [R]}"))
        #expect(printed.contains("test.yaml:6:48: error: part 'R' of 'R' has its master's name: give the part a name of its own"), "\(printed)")
        let keyed = rejected(pipeline("S: {tier: manual}\nR: {tier: imported, depends_on: [S]}\nR.R: {definition: '-> master'}"))
        #expect(keyed.contains("test.yaml:7:3: error: part 'R' of 'R' has its master's name"), "\(keyed)")
    }

    @Test func partDeclaredTwiceIsAnError() {
        // Listed twice, next to its key (the key gives the listed part its definition, once).
        let listed = rejected(pipeline("S: {tier: manual}\nR: {tier: imported, depends_on: [S], parts: [C, C]}\nR.C: {definition: '-> master'}"))
        #expect(listed.contains("test.yaml:6:51: error: duplicate table 'R.C'"), "\(listed)")
        // The key written twice, once quoted.
        let keyed = rejected(pipeline("S: {tier: manual}\nR: {tier: imported, depends_on: [S], parts: [C]}\nR.C: {definition: '-> master'}\n'R.C': {definition: '-> S'}"))
        #expect(keyed.contains("error: duplicate key 'R.C'"), "\(keyed)")
    }

    // MARK: line breaks

    /// Found by fuzzing: libyaml counts a lone CR as a line break and djflow did not, so a duplicate key's
    /// line was past the end of the file and locating it trapped. Such line breaks are refused where they are.
    @Test func loneCarriageReturnIsAnErrorWhereItIs() {
        let printed = rejected("pipeline: t\rruner: {module: m}\ntables: {A: {tier: manual}}\nA: 1\nA: 2\n")
        #expect(printed.hasPrefix("test.yaml:1:12: error: a carriage return (CR) without a line feed in the YAML: YAML reads it as a line break, so lines would not be counted as written\npipeline: t runer: {module: m}\n           ^\n"), "\(printed)")
        #expect(printed.hasSuffix("1 error generated.\n"), "\(printed)")
    }

    @Test func unicodeLineSeparatorIsAnErrorWhereItIs() {
        let printed = rejected(pipeline("A: {tier: manual, module: \"a\u{2028}b\"}"))
        #expect(printed.hasPrefix("test.yaml:5:31: error: U+2028 in the YAML: YAML reads it as a line break"), "\(printed)")
    }

    @Test func crlfFilesAreLocatedLineByLine() {
        let yaml = pipeline("S: {tier: manual}\nA: {tier: computd, depends_on: [S]}").replacingOccurrences(of: "\n", with: "\r\n")
        let printed = rejected(yaml)
        #expect(printed.hasPrefix("test.yaml:6:13: error: unknown tier 'computd'; did you mean 'computed'?\n  A: {tier: computd, depends_on: [S]}\n            ^\n"), "\(printed)")
    }

    @Test func crlfPythonDefinitionsKeepEveryLine() {
        let module = (PythonReaderTests.header + #"""
            @schema
            class Subject(dj.Manual):
                definition = """
                subject: int
                """

            @schema
            class Probe(dj.Lookup):
                definition = "probe: int"

            @schema
            class Session(dj.Manual):
                definition = """
                -> Subject
                -> [nullabel] Probe
                session: int
                """
            """#).replacingOccurrences(of: "\n", with: "\r\n")
        let (_, printed) = analyseWithPython("pipeline: t\nsources: ['*.py']\n", [("lab.py", module)])
        // Before, CRLF was one character to the splitter: the definition was one line and its second
        // reference was lost; now each line is read, and the bad option is found on its own line.
        #expect(printed.hasPrefix("lab.py:17:9: error: unknown foreign key option 'nullabel'; did you mean 'nullable'?\n    -> [nullabel] Probe\n        ^\n"), "\(printed)")
    }

    @Test func locatingPastTheEndFindsNothing() {
        let source = SourceFile(path: "t", text: "a: 1\nb: 2")
        #expect(source.locate("a:", from: 7) == nil)
        #expect(source.locate("a:", from: 0) == nil)
        #expect(source.locate("b:", from: 1, within: -3) == nil)
        #expect(source.locate("b:", from: 1)?.line == 2)
        #expect(SourceFile.lines(of: "x\r\ny\n\rz").map(String.init) == ["x", "y", "\rz"])
    }
}
