import DJFlowCore
import DJFlowKit
import DJFlowPlan
import DJFlowPython
import DJFlowTargets
import Foundation
import Testing

/// The fuzz targets' checks (Fuzz/Sources) on every committed seed (Fuzz/corpus) and on every input a fuzz
/// run once failed on (Fuzz/regressions): diagnostics or a plan, printed, quickly, without a crash.
@Suite struct FuzzCorpusTests {
    static func inputs(_ reader: String) -> [String] {
        var out: [String] = []
        for folder in ["Fuzz/corpus/\(reader)", "Fuzz/regressions/\(reader)"] {
            let url = packageRoot.appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            out += names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
        }
        return out
    }

    static func text(_ path: String) throws -> String {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent(path))
        return String(decoding: data, as: UTF8.self)  // as the fuzz targets read bytes
    }

    /// The module the spec fuzz target serves for `sources:` (Fuzz/Sources/SpecFuzz/main.swift).
    static let module = """
        import datajoint as dj
        schema = dj.Schema('lab')

        @schema
        class Subject(dj.Manual):
            definition = \"\"\"
            subject: int
            \"\"\"

        @schema
        class Session(dj.Imported):
            definition = \"\"\"
            -> Subject
            session: int
            \"\"\"

            class Part(dj.Part):
                definition = "-> master"
        """

    @Test func thereAreSeeds() {
        #expect(Self.inputs("spec").count >= 5)
        #expect(Self.inputs("python").count >= 3)
    }

    @Test(arguments: inputs("spec"))
    func specReader(_ path: String) throws {
        let started = Date()
        let source = SourceFile(path: "fuzz.yaml", text: try Self.text(path))
        let python = PythonFile(source: SourceFile(path: "lab.py", text: Self.module), module: "lab")
        let analysis = CompilerPipeline.validate(source, targets: TargetKind.allCases) { _ in .files([python]) }
        let printed = DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
        if let plan = analysis.plan {
            for format in PlanFormat.allCases { _ = PlanRenderer.render(plan, as: format) }
        } else {
            #expect(analysis.diagnostics.hasErrors, "no plan and no error")
        }
        #expect(printed.isEmpty || printed.hasSuffix("\n"))
        #expect(Date().timeIntervalSince(started) < 2, "\(path) took too long")
    }

    @Test(arguments: inputs("python"))
    func pythonReader(_ path: String) throws {
        let started = Date()
        let text = try Self.text(path)
        var pieces = [Substring(text)]
        if let marker = text.firstRange(of: "\n#%% file\n") { pieces = [text[..<marker.lowerBound], text[marker.upperBound...]] }
        let files = pieces.enumerated().map { index, piece in
            PythonFile(source: SourceFile(path: index == 0 ? "lab.py" : "other.py", text: String(piece)), module: index == 0 ? "lab" : "other")
        }
        let spec = SourceFile(path: "djflow.yaml", text: "pipeline: fuzz\nsources: ['*.py']\n")
        let analysis = CompilerPipeline.validate(spec, targets: [.slurm]) { _ in .files(files) }
        _ = DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
        if let plan = analysis.plan {
            _ = PlanRenderer.render(plan, as: .json)
        } else {
            #expect(analysis.diagnostics.hasErrors, "no plan and no error")
        }
        #expect(Date().timeIntervalSince(started) < 2, "\(path) took too long")
    }

    /// Found by fuzzing: every error was checked against all earlier ones, so 5,000 errors took 27 s
    /// (a Python file of invalid characters gives one per character); now they take well under a second.
    @Test func thousandsOfErrorsAreReportedQuickly() {
        let text = Array(repeating: "x = $", count: 5_000).joined(separator: "\n")
        let file = PythonFile(source: SourceFile(path: "lab.py", text: text), module: "lab")
        let started = Date()
        let spec = SourceFile(path: "djflow.yaml", text: "pipeline: fuzz\nsources: ['*.py']\n")
        let analysis = CompilerPipeline.validate(spec, targets: [.slurm]) { _ in .files([file]) }
        let printed = DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
        let seconds = Date().timeIntervalSince(started)
        #expect(analysis.diagnostics.errorCount >= 5_000)
        #expect(printed.contains("lab.py:5000:5: error:"), "\(printed.suffix(300))")
        #expect(seconds < 5, "took \(seconds) s")
    }

    /// A tab prints as one space, so the caret stays under the column (the printer no longer uses Foundation).
    @Test func tabsPrintAsSpacesUnderTheCaret() {
        let source = SourceFile(path: "t.yaml", text: "a:\tb\n")
        var diagnostics = Diagnostics()
        diagnostics.error("here", at: SourceLocation(file: "t.yaml", line: 1, column: 4))
        diagnostics.error("here", at: SourceLocation(file: "t.yaml", line: 1, column: 4))
        #expect(DiagnosticPrinter(files: [source]).format(diagnostics) == "t.yaml:1:4: error: here\na: b\n   ^\n1 error generated.\n")
    }

    /// The Python file's diagnostics as the CLI prints them, after checking it was read in `limit` seconds.
    func readQuickly(_ text: String, limit: Double = 5) -> String {
        let file = PythonFile(source: SourceFile(path: "lab.py", text: text), module: "lab")
        let started = Date()
        let spec = SourceFile(path: "djflow.yaml", text: "pipeline: fuzz\nsources: ['*.py']\n")
        let analysis = CompilerPipeline.validate(spec, targets: [.slurm]) { _ in .files([file]) }
        let seconds = Date().timeIntervalSince(started)
        #expect(seconds < limit, "took \(seconds) s")
        return DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
    }

    /// Nested brackets: each level searched for its closing bracket again (10,000 levels took 11 s, 20,000
    /// took 48 s); CPython refuses more than 200, and so does the reader now, once, at the 201st.
    @Test func deeplyNestedBracketsAreOneErrorAndLinearTime() {
        let printed = readQuickly("x = " + String(repeating: "(", count: 100_000) + String(repeating: ")", count: 100_000))
        #expect(printed.hasPrefix("lab.py:1:205: error: too many nested parentheses (Python allows 200)"), "\(printed.prefix(200))")
        #expect(printed.hasSuffix("1 error generated.\n"), "\(printed.suffix(200))")
    }

    /// A definition built from 10,000 nested parenthesized pieces overflowed the stack (a crash).
    @Test func deeplyNestedDefinitionPiecesDoNotOverflowTheStack() {
        let pieces = String(repeating: "\"a\" + (", count: 10_000) + "\"b\"" + String(repeating: ")", count: 10_000)
        let printed = readQuickly("import datajoint as dj\nschema = dj.Schema('s')\n\n@schema\nclass A(dj.Manual):\n    definition = " + pieces + "\n")
        // The 201st '(': after `    definition = ` (17 columns) and 200 pieces `"a" + (` of 7.
        #expect(printed.contains("lab.py:6:1424: error: too many nested parentheses (Python allows 200)"), "\(printed.prefix(300))")
    }

    /// 1,000 nested blocks overflowed the stack (a crash); CPython refuses more than 100 levels.
    @Test func deeplyIndentedCodeIsOneErrorAndDoesNotOverflowTheStack() {
        let lines = (0..<1_000).map { String(repeating: " ", count: $0) + "class C\($0):" } + [String(repeating: " ", count: 1_000) + "pass"]
        let printed = readQuickly(lines.joined(separator: "\n") + "\n")
        #expect(printed.hasPrefix("lab.py:102:102: error: too many levels of indentation (Python allows 100)"), "\(printed.prefix(300))")
    }
}
