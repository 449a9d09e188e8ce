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

    /// Job ids come from table names; a Python class name that does not read back as a table name (lower
    /// case first) is lower-cased whole, and a CamelCase one is snake-cased: ids stay what they were.
    @Test func jobIDsOfPythonClassNames() throws {
        let module = Self.header + """
            @schema
            class Subject(dj.Manual):
                definition = 'subject: int'
            @schema
            class mySession(dj.Computed):
                definition = '-> Subject'
            @schema
            class SpikeSortingRun2(dj.Computed):
                definition = '-> Subject'
            """
        let yaml = "pipeline: p\nsources: ['*.py']\nrunner: {module: lab}\n"
        let (analysis, printed) = analyseWithPython(yaml, [("lab.py", module)])
        let plan = try #require(analysis.plan, "\(printed)")
        #expect(plan.jobs.map(\.id) == ["spike_sorting_run2", "mysession"])
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

    // MARK: real code (issue #9): decorators, templates, run-time names, pieces, links

    @Test func decoratorsThatAreNotSchemasNeverMakeTables() {
        let text = """
        import dataclasses
        import functools
        from dataclasses import dataclass
        import datajoint as dj
        from mylib import register, TableBase

        schema = dj.Schema('s')

        def tag(cls):
            return cls

        @dataclass
        class Settings:
            path: str = ""

        @functools.lru_cache
        class Cached(dj.Manual):
            definition = "c: int"

        @dataclasses.dataclass(frozen=True)
        class Frozen(dj.Lookup):
            definition = "f: int"

        @register
        class Plugin:
            name = "x"

        @tag
        class Tagged(dj.Manual):
            definition = "t: int"

        @schema
        class NotATable:
            pass

        @schema
        @dataclass
        class Subject(dj.Manual):
            definition = "subject: int"
        """
        let files = [("pipe.py", text)]
        let program = readPython(files)
        let out = printed(program, files)
        #expect(!program.diagnostics.hasErrors, "\(out)")
        #expect(program.diagnostics.all.filter { $0.severity == .warning }.isEmpty, "\(out)")
        #expect(graph(program) == ["Subject": "manual []"], "\(out)")
        // A class decorated with the schema but without a tier: a note, nothing more.
        #expect(out.contains("pipe.py:33:7: note: 'NotATable' is decorated with a schema but has no DataJoint tier among its bases"), "\(out)")
        #expect(program.diagnostics.all.count == 1, "\(out)")
    }

    @Test func aDecoratorFromOutsideTheSourcesMayBeASchema() {
        // Imported from a module that is not among the sources: with a tier it is read as a table;
        // without one it is simply not a table (before, that was an error that stopped the import).
        let text = """
        import datajoint as dj
        from lab.schemas import schema

        @schema
        class Session(dj.Manual):
            definition = "s: int"

        @schema
        class Helper:
            pass
        """
        let program = readPython([("pipe.py", text)])
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, [("pipe.py", text)]))")
        #expect(graph(program) == ["Session": "manual []"])
    }

    @Test func tierClassesWithoutASchemaDecoratorAreTemplatesNotTables() {
        let templates = """
        import datajoint as dj

        class SessionTemplate(dj.Manual):
            definition = \"\"\"
            session: int
            \"\"\"

        class Mixin:
            def helper(self):
                return 1

        class ScoreTemplate(Mixin, dj.Computed):
            definition = "-> Session\\nscore_id: int"

            class Item(dj.Part):
                definition = "-> master\\nitem: int"
        """
        let pipeline = Self.header + """
        from templates import SessionTemplate, ScoreTemplate

        @schema
        class Session(SessionTemplate):
            pass

        @schema
        class Score(ScoreTemplate):
            pass
        """
        let files = [("templates.py", templates), ("pipeline.py", pipeline)]
        let program = readPython(files)
        #expect(program.diagnostics.all.isEmpty, "\(printed(program, files))")
        // Only the decorated subclasses are tables; the template's part is inherited by Score, and the
        // inherited definition resolves in the module that declares the table (as DataJoint does).
        #expect(graph(program) == [
            "Session": "manual []",
            "Score": "computed [Session] parts Score.Item",
            "Score.Item": "part [Score]",
        ])
    }

    @Test func runtimeNamesOfOtherModulesAreWarningsWhereverUsed() throws {
        let mice = Self.header + "schema.spawn_missing_classes()\n"
        let lab = Self.header + """
        vm = dj.create_virtual_module('vm', 'other_schema')
        archive = dj.VirtualModule('archive', 'archive_schema')

        @schema
        class Housing(dj.Manual):
            definition = "housing: int"
        """
        let pipe = Self.header + """
        import mice
        from mice import Cage
        from lab import vm
        import lab
        Device = linking_module.Device

        @schema
        class Session(dj.Manual):
            definition = \"\"\"
            -> Device
            -> mice.Mice
            -> Cage
            -> vm.Rig
            -> lab.archive.Box
            session: int
            \"\"\"

        @schema
        class Score(dj.Computed):
            definition = "-> Session"
        """
        let files = [("mice.py", mice), ("lab.py", lab), ("pipe.py", pipe)]
        let program = readPython(files)
        let out = printed(program, files)
        #expect(!program.diagnostics.hasErrors, "\(out)")
        for line in [
            "pipe.py:13:8: warning: 'mice.Mice' is not defined in module 'mice': it is supplied there at run time ('spawn_missing_classes' at mice.py:3:8); read as the pipeline table 'mice.Mice'",
            "pipe.py:14:8: warning: 'Cage' is not defined in module 'mice': it is supplied there at run time ('spawn_missing_classes' at mice.py:3:8)",
            "pipe.py:15:8: warning: 'vm' is a virtual module created at run time (line 3); read 'vm.Rig' as a pipeline table name",
            "pipe.py:16:8: warning: 'lab' is a virtual module created at run time",
            "pipe.py:12:8: warning: 'Device' is assigned from 'linking_module.Device', which the sources do not define (line 7); read 'Device' as a pipeline table name",
        ] { #expect(out.contains(line), "missing: \(line)\n\(out)") }
        #expect(program.runtimeNames.map(\.name) == ["Device", "mice", "Cage", "vm", "lab"])

        // In a pipeline they read as staged tables outside it; a link states one of them.
        let yaml = pipeline("Score: {workers: 2}", extra: "sources: ['*.py']\nlinks: {Cage: lab.Housing}")
        let (analysis, printedOut) = analyseWithPython(yaml, files)
        #expect(!analysis.diagnostics.hasErrors, "\(printedOut)")
        let plan = try #require(analysis.plan)
        #expect(plan.tables.first { $0.name == "Session" }?.parents == ["Device", "Housing", "lab.archive.Box", "mice.Mice", "vm.Rig"])
        #expect(plan.tables.first { $0.name == "mice.Mice" }?.role == .staged)
        #expect(plan.jobs.map(\.table) == ["Score"])
    }

    @Test func autoPopulatedTableWithoutForeignKeyFromPythonIsAWarning() {
        let text = Self.header + """
        @schema
        class Session(dj.Manual):
            definition = "s: int"

        @schema
        class Standalone(dj.Computed):
            definition = "x: int"

        @schema
        class Score(dj.Computed):
            definition = "-> Session"
        """
        let (analysis, out) = analyseWithPython(pipeline("", extra: "sources: [pipe.py]"), [("pipe.py", text)])
        #expect(!analysis.diagnostics.hasErrors, "\(out)")
        #expect(out.contains("pipe.py:8:7: warning: computed table 'Standalone' cannot be auto-populated: nothing in its primary key comes from another table; it gets no job"), "\(out)")
        #expect(analysis.plan?.jobs.map(\.table) == ["Score"])
    }

    @Test func definitionsBuiltFromStaticPieces() {
        let base = """
        import datajoint as dj

        COMMON = "-> Subject\\n"

        class ExperimentTemplate(dj.Computed):
            @property
            def definition(self):
                definition = \"\"\"
                -> self.userinfo_table
                exp: int
                \"\"\"
                return definition

            @property
            def userinfo_table(self):
                pass
        """
        let pipe = Self.header + """
        from base import ExperimentTemplate, COMMON
        SUFFIX = "---\\nnote: varchar(8)\\n"  # DataJoint reads "varchar(8)-> X" as a malformed foreign key

        @schema
        class Subject(dj.Manual):
            definition = "subject: int"

        @schema
        class UserInfo(dj.Manual):
            definition = "user: int"

        @schema
        class Experiment(ExperimentTemplate):
            userinfo_table = UserInfo

        @schema
        class Session(dj.Manual):
            definition = COMMON + "session: int\\n" + SUFFIX

        @schema
        class Recording(dj.Imported):
            definition = Session.definition + "-> Experiment\\n"

        class BaseScore(dj.Computed):
            definition = "-> Recording\\n"

        @schema
        class Score(BaseScore):
            definition = super().definition + "-> UserInfo\\n"

        @schema
        class Named(dj.Manual):
            definition = f"-> {Subject.__name__}\\n-> {self.upstream}\\nn: int"
            upstream = Experiment

        @schema
        class Constant(dj.Manual):
            definition = f\"\"\"
            -> {UPSTREAM}
            \"\"\"

        UPSTREAM = "Session"

        @schema
        class Computed(dj.Manual):
            @property
            def definition(self):
                return "-> Session\\n" + self.extra()
        """
        let files = [("base.py", base), ("pipe.py", pipe)]
        let program = readPython(files)
        let out = printed(program, files)
        #expect(!program.diagnostics.hasErrors, "\(out)")
        #expect(graph(program) == [
            "Subject": "manual []",
            "UserInfo": "manual []",
            "Experiment": "computed [UserInfo]",          // -> self.userinfo_table, bound in the subclass
            "Session": "manual [Subject]",                // module constant imported from base + literals
            "Recording": "imported [Experiment, Subject]", // Session.definition + ...
            "Score": "computed [Recording, UserInfo]",    // super().definition + ...
            "Named": "manual [Experiment, Subject]",      // f-string fields: X.__name__, self.attribute
            "Constant": "manual [Session]",               // f-string field naming a module constant
            "Computed": "manual []",
        ], "\(out)")
        // What cannot be resolved stays a warning at its place.
        let computed = program.tables.first { $0.name.className == "Computed" }!
        #expect(computed.runtimeDefinition?.reason == "a property computes it at run time ('.extra()' computes it at run time)")
        #expect(computed.runtimeDefinition?.location.description == "pipe.py:50:38")
        // Locations of references read from a constant point into the file that spells it.
        let session = program.tables.first { $0.name.className == "Session" }!
        #expect(session.definition!.references.map { $0.name.location.description } == ["base.py:3:14"])
        #expect(session.definition!.references.map(\.isPrimary) == [true])
    }

    @Test func everyLinkIsCheckedAtItsLine() {
        let element = Self.header + """
        def activate(linking_module):
            schema.activate('e', add_objects=linking_module.__dict__)

        @schema
        class Recording(dj.Imported):
            definition = "-> Session"
        """
        let lab = Self.header + "@schema\nclass Session(dj.Manual):\n    definition = 's: int'\n"
        let files = [("element.py", element), ("lab.py", lab)]
        let yaml = pipeline("", extra: """
            sources: ['*.py']
            links:
              Session: lab.Sesion
              Subject: lab.Session
              Project: nowhere.Project
            """)
        let (analysis, out) = analyseWithPython(yaml, files)
        #expect(out.contains("test.yaml:8:12: error: link 'Session': 'lab.Sesion' is neither a module nor a table of the sources, nor a table of djflow.yaml; did you mean 'lab.Session'?"), "\(out)")
        #expect(out.contains("test.yaml:10:12: error: link 'Project': 'nowhere.Project' is neither a module nor a table of the sources"), "\(out)")
        #expect(out.contains("test.yaml:9:3: warning: link 'Subject' is not used"), "\(out)")
        #expect(analysis.diagnostics.errorCount == 2, "\(out)")
        // A link may name a table that only djflow.yaml declares.
        let good = pipeline("Session: {tier: manual}", extra: "sources: ['*.py']\nlinks: {Session: Session}")
        let (ok, okOut) = analyseWithPython(good, files)
        #expect(!ok.diagnostics.hasErrors, "\(okOut)")
        #expect(ok.plan?.tables.first { $0.name == "Recording" }?.parents == ["Session"])
    }

    @Test func filesThatWouldShareAModuleNameGetDistinctNames() {
        var diagnostics = Diagnostics()
        let files = [
            PythonFile(source: SourceFile(path: "a/pipeline.py", text: ""), module: "pipeline"),
            PythonFile(source: SourceFile(path: "b/pipeline.py", text: ""), module: "pipeline"),
            PythonFile(source: SourceFile(path: "lab/x.py", text: ""), module: "x"),
        ]
        let named = PythonFile.uniquelyNamed(files, diagnostics: &diagnostics)
        #expect(named.map(\.module) == ["a.pipeline", "b.pipeline", "x"])
        #expect(diagnostics.all.count == 1)
        #expect(diagnostics.all.first?.message.contains("module name 'pipeline' is given by 2 files") == true)
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
        // Airflow says once that it reserves no GPU for Clustering (gpus: 1 without an Airflow pool or queue).
        let expected = diagnostics.all.filter { $0.severity == .warning && $0.message.hasPrefix("the airflow target ignores 'gpus: 1' of table 'Clustering'") }
        #expect(expected.count == (sample == "ephys" && target == .airflow ? 1 : 0))
        #expect(diagnostics.all.count == expected.count, "\(DiagnosticPrinter(files: [source]).format(diagnostics))")
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
