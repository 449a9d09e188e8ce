import DJFlowCore
import DJFlowKit
import DJFlowPython
import DJFlowSpec
import DJFlowTargets
import DJFlowTemplates
import Foundation
import Testing

/// Python files given inline: `pkg/mod.py` is module `pkg.mod`, `pkg/__init__.py` is package `pkg`.
func pythonFiles(_ files: [(String, String)]) -> [PythonFile] {
    files.map { path, text in
        var module = String(path.dropLast(3)).replacingOccurrences(of: "/", with: ".")
        let isPackage = module.hasSuffix(".__init__")
        if isPackage { module.removeLast(".__init__".count) }
        return PythonFile(source: SourceFile(path: path, text: text), module: module, isPackage: isPackage)
    }
}

func readPython(_ files: [(String, String)], links: [(String, String)] = []) -> PythonProgram {
    let at = SourceLocation(file: "links", line: 1, column: 1)
    return PythonProgram.read(pythonFiles(files), links: links.map { (Located($0.0, at: at), Located($0.1, at: at)) })
}

/// Every diagnostic as printed (with the Python files' lines and carets).
func printed(_ program: PythonProgram, _ files: [(String, String)]) -> String {
    DiagnosticPrinter(files: pythonFiles(files).map(\.source)).format(program.diagnostics)
}

/// `{name: (tier, parents, parts)}` of what the static reader found.
func graph(_ program: PythonProgram) -> [String: String] {
    var out: [String: String] = [:]
    for table in program.tables {
        let parents = Set((table.definition?.references ?? []).map(\.name.value)).sorted()
        out[table.name.description] = "\(table.tier.rawValue) [\(parents.joined(separator: ", "))]"
            + (table.parts.isEmpty ? "" : " parts \(table.parts.map(\.description).joined(separator: ", "))")
    }
    return out
}

/// The YAML + Python pair analysed as the CLI does, with a provider that serves the inline files.
func analyseWithPython(_ yaml: String, _ files: [(String, String)]) -> (CompilerPipeline.Analysis, String) {
    let python = pythonFiles(files)
    let source = SourceFile(path: "test.yaml", text: yaml)
    let analysis = CompilerPipeline.validate(source, targets: TargetKind.allCases) { pattern in
        .files(python.filter { pattern == "*.py" || $0.source.path == pattern })
    }
    return (analysis, DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics))
}

@Suite struct PythonReaderTests {
    // MARK: definition and string forms

    static let header = "import datajoint as dj\nschema = dj.Schema('s')\n"

    @Test func everyDefinitionForm() {
        let text = Self.header + #"""
        @schema
        class Subject(dj.Manual):
            definition = """
            subject: varchar(16)   # -> NotAReference in a comment
            """

        @schema
        class Session(dj.Manual):
            definition = """
            -> Subject
            session: int
            """

            class Note(dj.Part):
                definition = """
                -> master
                note: int
                """

        @schema
        class Old(dj.Manual):
            definition = """
            (mentor) -> Subject(subject)
            ---
            x: int
            """

        @schema
        class Tabs(dj.Manual):
            definition = "\t->\tSession\n\tid: int\n\t---\n\t-> [nullable] Old\n\tindex(id)\n\tunique index (id)\n"

        @schema
        class PartRef(dj.Computed):
            definition = '''
            -> Session.Note   # a reference to another master's part
            ---
            -> Subject.proj(other='subject')
            '''
        """#
        let program = readPython([("lab.py", text)])
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, [("lab.py", text)]))")
        #expect(graph(program) == [
            "Subject": "manual []",
            "Session": "manual [Subject] parts Session.Note",
            "Session.Note": "part [Session]",  // `-> master` means the master
            "Old": "manual [Subject]",
            "Tabs": "manual [Old, Session]",
            "PartRef": "computed [Session.Note, Subject]",
        ])
        let tabs = program.tables.first { $0.name.className == "Tabs" }!
        #expect(tabs.definition!.references.map(\.isPrimary) == [true, false])
        #expect(tabs.definition!.references.map { $0.name.location.description } == ["lab.py:32:25", "lab.py:32:68"])
    }

    @Test func everyStringLiteralForm() {
        let text = Self.header + #"""
        @schema
        class A(dj.Manual):
            definition = 'a: int'

        @schema
        class B(dj.Manual):
            definition = "-> A\nb: int"

        @schema
        class C(dj.Manual):
            definition = r"""
            -> B   # raw: \n stays two characters
            c: int
            """

        @schema
        class D(dj.Manual):
            definition = ("-> A\n"
                          '-> C\n'
                          """d: int""")

        @schema
        class E(dj.Manual):
            definition = u"-> D\n" + f"e: int  # {{braces}}\n"

        @schema
        class F(dj.Manual):
            definition = R'''-> E
            f: int'''

        @schema
        class G(dj.Lookup): definition = "-> F\ng: int"
        """#
        let program = readPython([("forms.py", text)])
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, [("forms.py", text)]))")
        #expect(graph(program) == [
            "A": "manual []", "B": "manual [A]", "C": "manual [B]", "D": "manual [A, C]", "E": "manual [D]",
            "F": "manual [E]", "G": "lookup [F]",
        ])
        // Locations point into the file, through escapes and implicit concatenation.
        let d = program.tables.first { $0.name.className == "D" }!
        #expect(d.definition!.references.map { $0.name.location.description } == ["forms.py:20:23", "forms.py:21:23"])
    }

    // MARK: names resolve like Python

    @Test func tiersThroughImportsAliasesAndLocalBases() {
        let base = """
        import datajoint as datajoint_alias
        from datajoint import Computed as AutoComputed, Manual

        class Mixin:
            pass

        class ComputedBase(Mixin, AutoComputed):
            definition = "-> lab.Subject\\nx: int"
        """
        let lab = """
        import datajoint
        from datajoint import Lookup
        schema = datajoint.schema('lab')
        other_schema = datajoint.Schema('other')

        @schema
        class Subject(datajoint.Manual):
            definition = "subject: int"

        @other_schema
        class Kind(Lookup):
            definition = "kind: int"
        """
        let pipe = """
        from . import lab
        from .bases import ComputedBase, Mixin
        import datajoint as dj
        schema = dj.schema()

        @schema
        class Analysis(Mixin, ComputedBase):
            pass   # the definition is inherited from ComputedBase

        @schema
        class Typed(dj.Manual):
            definition = \"\"\"
            -> lab.Kind
            -> Analysis
            \"\"\"
        """
        let files = [("pkg/__init__.py", ""), ("pkg/bases.py", base), ("pkg/lab.py", lab), ("pkg/pipe.py", pipe)]
        let program = readPython(files)
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, files))")
        #expect(graph(program) == [
            "Subject": "manual []", "Kind": "lookup []", "Analysis": "computed [Subject]", "Typed": "manual [Analysis, Kind]",
        ])
    }

    @Test func moduleQualifiedReferencesAndPackageAliases() {
        let session = Self.header + """
        @schema
        class Session(dj.Manual):
            definition = "session: int"
        """
        let imaging = Self.header + """
        from .. import session

        @schema
        class Scan(dj.Imported):
            definition = "-> session.Session\\nscan: int"

            class Field(dj.Part):
                definition = "-> master\\nfield: int"
        """
        let initFile = "from .sub import imaging_module as imaging\n"
        let analysis = Self.header + """
        from lab.sub import imaging_module
        from lab import imaging
        import lab.sub.imaging_module as im

        @schema
        class FieldStat(dj.Computed):
            definition = \"\"\"
            -> imaging.Scan.Field
            -> imaging_module.Scan
            -> im.Scan
            \"\"\"
        """
        let files = [("lab/__init__.py", initFile), ("lab/session.py", session), ("lab/sub/__init__.py", ""),
                     ("lab/sub/imaging_module.py", imaging), ("lab/analysis.py", analysis)]
        let program = readPython(files)
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, files))")
        #expect(graph(program)["FieldStat"] == "computed [Scan, Scan.Field]")
        #expect(graph(program)["Scan"] == "imported [Session] parts Scan.Field")
    }

    @Test func aPartNamedLikeAnotherTableResolvesToTheTableOutside() {
        let text = Self.header + """
        @schema
        class MaskType(dj.Lookup):
            definition = "mask_type: varchar(16)"

        @schema
        class Segmentation(dj.Computed):
            definition = "seg: int"

        @schema
        class MaskClassification(dj.Computed):
            definition = "-> Segmentation"

            class MaskType(dj.Part):
                definition = \"\"\"
                -> master
                -> MaskType
                -> MaskClassification
                \"\"\"
        """
        let program = readPython([("imaging.py", text)])
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, [("imaging.py", text)]))")
        #expect(graph(program)["MaskClassification.MaskType"] == "part [MaskClassification, MaskType]")
    }

    @Test func sameClassInTwoModulesIsQualifiedByModule() {
        let a = Self.header + "@schema\nclass Probe(dj.Lookup):\n    definition = 'p: int'\n"
        let b = Self.header + "from . import acute\n@schema\nclass Probe(dj.Lookup):\n    definition = '-> acute.Probe'\n"
        let program = readPython([("ephys/acute.py", a), ("ephys/chronic.py", b)])
        #expect(program.diagnostics.all.isEmpty)
        #expect(graph(program) == ["acute.Probe": "lookup []", "chronic.Probe": "lookup [acute.Probe]"])
    }

    // MARK: what cannot be read statically

    @Test func runtimeDefinitionsWarnWithLocations() {
        let text = Self.header + """
        UPSTREAM = "Session"

        @schema
        class Session(dj.Manual):
            definition = "s: int"

        @schema
        class A(dj.Manual):
            definition = f\"\"\"
            -> {upstream()}
            \"\"\"

        @schema
        class B(dj.Manual):
            definition = "-> {}".format(UPSTREAM)

        @schema
        class C(dj.Manual):
            @property
            def definition(self):
                return "-> Session"

        @schema
        class D(dj.Manual):
            definition = "-> %s" % UPSTREAM
        """
        let files = [("pipe.py", text)]
        let yaml = pipeline("C: {depends_on: [Session]}", extra: "sources: [pipe.py]")
        let (analysis, out) = analyseWithPython(yaml, files)
        #expect(!analysis.diagnostics.hasErrors, "\(out)")
        #expect(out.contains("pipe.py:12:8: warning: the definition of 'A' cannot be read statically: an f-string that interpolates values known only at run time ('{upstream()}')\n    -> {upstream()}\n       ^"), "\(out)")
        #expect(out.contains("pipe.py:17:26: warning: the definition of 'B' cannot be read statically: '.format()' fills it in at run time"), "\(out)")
        #expect(out.contains("pipe.py:27:26: warning: the definition of 'D' cannot be read statically: '%' formatting fills it in at run time"), "\(out)")
        #expect(out.contains("note: state its dependencies in djflow.yaml: tables: {A: {depends_on: [...]}}"), "\(out)")
        // C's dependencies are stated in the YAML: no warning, and the edge is there.
        #expect(!out.contains("'C'"), "\(out)")
        #expect(analysis.plan!.tables.first { $0.name == "C" }!.parents == ["Session"])
    }

    @Test func runtimeNamesWarnAndLinksStateThem() {
        let element = Self.header + """
        _linking_module = None
        report = None

        def activate(name, linking_module=None):
            global report
            report = dj.create_virtual_module("report", name + "_report")
            schema.activate(name, add_objects=linking_module.__dict__)

        @schema
        class Recording(dj.Imported):
            definition = \"\"\"
            -> Session
            -> report.Summary
            \"\"\"
        """
        let lab = Self.header + "@schema\nclass Session(dj.Manual):\n    definition = 's: int'\n"
            + "@schema\nclass Summary(dj.Manual):\n    definition = 'y: int'\n"
        let files = [("element/ephys.py", element), ("lab.py", lab)]
        let unlinked = readPython(files)
        let out = printed(unlinked, files)
        #expect(out.contains("element/ephys.py:14:8: warning: 'Session' is not defined in module 'element.ephys': it is supplied at run time ('linking_module' at line 6); read as the pipeline table 'Session'"), "\(out)")
        #expect(out.contains("element/ephys.py:15:8: warning: 'report' is None here and assigned at run time (line 4); read 'report.Summary' as a pipeline table name"), "\(out)")
        #expect(unlinked.runtimeNames.map(\.name) == ["Session", "report"])
        let linked = readPython(files, links: [("Session", "lab.Session"), ("report", "lab")])
        #expect(linked.diagnostics.all.isEmpty, "\(printed(linked, files))")
        #expect(graph(linked)["Recording"] == "imported [Session, Summary]")
    }

    // MARK: bad input: every problem at once, each at its file:line:col

    @Test func badInputIsReportedAllAtOnceWithExactLocations() {
        let broken = """
        import datajoint as dj
        schema = dj.Schema('s')

        @schema
        class Unterminated(dj.Manual):
            definition = "a: int
          y = 1
        x = (1, 2]
        """
        let bases = """
        import datajoint as dj
        from mylib import Base
        schema = dj.Schema('s')

        @schema
        class Typo(dj.Computd):
            definition = "a: int"

        @schema
        class Unknown(NoSuchBase):
            definition = "a: int"

        @schema
        class External(Base):
            definition = "a: int"

        @schema
        class Lost(dj.Manual):
            definition = "-> Sesion"

        @schema
        class Lost(dj.Manual):
            definition = "b: int"
        """
        let files = [("broken.py", broken), ("bases.py", bases)]
        let program = readPython(files)
        let out = printed(program, files)
        let expected = [
            "bases.py:6:12: error: unknown base class 'dj.Computd' of table 'Typo': it is neither a DataJoint tier nor a class in the sources; did you mean 'dj.Computed'?",
            "bases.py:10:15: error: unknown base class 'NoSuchBase' of table 'Unknown'",
            "bases.py:14:16: error: cannot tell the tier of 'External': its base 'Base' comes from 'mylib.Base', which is not among the sources",
            "bases.py:19:22: error: name 'Sesion' is not defined in module 'bases' (in the definition of 'Lost')",
            "bases.py:22:7: error: duplicate class 'Lost' in module 'bases'",
            "broken.py:7:3: error: unindent does not match any outer indentation level",
            "broken.py:6:18: error: unterminated string literal",
            "broken.py:8:10: error: closing parenthesis ']' does not match opening parenthesis '(' on line 8",
        ]
        for line in expected { #expect(out.contains(line), "missing: \(line)\n\(out)") }
        #expect(program.diagnostics.errorCount == expected.count, "\(out)")
        #expect(out.contains("    definition = \"a: int\n                 ^"), "\(out)")
        // A file with syntax errors is left out; the other file is still read.
        #expect(program.skippedFiles == ["broken.py"])
        #expect(program.tables.map(\.name.description) == ["Lost"])
    }

    @Test func syntaxErrorsInClassHeadersAndDecorators() {
        let text = """
        import datajoint as dj
        schema = dj.Schema('s')

        @schema
        x = 1

        class (dj.Manual):
            pass

        class A(dj.Manual)
            definition = "a: int"

        def f():
        return 1
        """
        let program = readPython([("bad.py", text)])
        let out = printed(program, [("bad.py", text)])
        for line in [
            "bad.py:5:1: error: invalid syntax: a decorator must be followed by a class or function definition",
            "bad.py:7:7: error: invalid syntax: expected a class name after 'class'",
            "bad.py:11:5: error: unexpected indent",
            "bad.py:14:1: error: expected an indented block after 'def' statement on line 13",
        ] { #expect(out.contains(line), "missing: \(line)\n\(out)") }
    }

    // MARK: djflow.yaml with sources

    @Test func yamlEntriesMustAgreeWithPython() {
        let text = Self.header + """
        @schema
        class Session(dj.Manual):
            definition = "s: int"

        @schema
        class Recording(dj.Imported):
            definition = "-> Session"
        """
        let yaml = pipeline("""
            Recording: {tier: computed, workers: 2}
            Sesion: {workers: 1}
            Session: {definition: "x: int"}
            Extra: {tier: manual}
            """, extra: "sources: [pipe.py]")
        let (analysis, out) = analyseWithPython(yaml, [("pipe.py", text)])
        #expect(out.contains("test.yaml:5:3: error: 'Recording' is 'computed' here but 'imported' in the Python source (pipe.py:8:7); remove 'tier:' or make them agree"), "\(out)")
        #expect(out.contains("test.yaml:6:3: error: no table 'Sesion' in the Python sources; did you mean 'Session'?"), "\(out)")
        #expect(out.contains("error: the definition of 'Session' is read from the Python source (pipe.py:4:7); remove it here"), "\(out)")
        #expect(analysis.diagnostics.errorCount == 3, "\(out)")
    }

    @Test func missingSourceFileAndEmptyGlobAreErrorsAtTheirLines() {
        let yaml = pipeline("", extra: "sources: [missing.py, 'none/*.py']")
        let source = SourceFile(path: "test.yaml", text: yaml)
        let analysis = CompilerPipeline.analyse(source) { pattern in
            pattern == "missing.py" ? .failure("cannot read 'missing.py': no such file") : .files([])
        }
        let out = DiagnosticPrinter(files: [source]).format(analysis.diagnostics)
        #expect(out.contains("test.yaml:6:11: error: cannot read 'missing.py': no such file"), "\(out)")
        #expect(out.contains("test.yaml:6:23: error: no Python file matches 'none/*.py'"), "\(out)")
    }

    // MARK: the samples compile alike from YAML and from Python

    @Test(arguments: sampleNames, TargetKind.allCases)
    func pythonSourcedSampleCompilesLikeTheYAMLForm(sample: String, target: TargetKind) throws {
        let folder = packageRoot.appendingPathComponent("Samples/\(sample)")
        let yamlFiles = try compileFiles(try sampleSource(sample), targets: [target])
        let path = "Samples/\(sample)/djflow.python.yaml"
        let source = SourceFile(path: path, text: try String(contentsOf: folder.appendingPathComponent("djflow.python.yaml"), encoding: .utf8))
        let (files, diagnostics) = CompilerPipeline.compile(source, targets: [target], templates: try TemplateLibrary(), sourceName: path) { pattern in
            let url = folder.appendingPathComponent(pattern)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { return .failure("cannot read \(pattern)") }
            return .files([PythonFile(source: SourceFile(path: "Samples/\(sample)/\(pattern)", text: text), module: String(pattern.dropLast(3)))])
        }
        #expect(diagnostics.all.isEmpty, "\(DiagnosticPrinter(files: [source]).format(diagnostics))")
        let pythonFiles = try #require(files)
        #expect(pythonFiles.map(\.path) == yamlFiles.map(\.path))
        // Byte for byte, except the header lines that name the source file (also inside embedded files).
        func withoutHeader(_ text: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.drop { $0 == " " }.hasPrefix("# generated by djflow from ") }.joined(separator: "\n")
        }
        for (a, b) in zip(yamlFiles, pythonFiles) {
            #expect(withoutHeader(a.contents) == withoutHeader(b.contents), "\(a.path) differs")
            #expect(a.executable == b.executable)
            #expect(b.contents.contains("# generated by djflow from \(path), do not edit"), "\(b.path) header")
        }
    }
}
