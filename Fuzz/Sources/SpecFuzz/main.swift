// libFuzzer target for the spec reader: any bytes, read as djflow.yaml, must give diagnostics (printed as
// the CLI prints them) or a plan, never a crash, a hang or a sanitizer report; and a `tables:` block cut in
// two (what large files get) must compose to the whole file's tree or not at all. Built only by
// scripts/fuzz.sh (DJFLOW_FUZZ=1, -sanitize=fuzzer,address); see docs/FUZZING.md.
import DJFlowCore
import FuzzDriver
import DJFlowKit
import DJFlowPlan
import DJFlowPython
import DJFlowSpec
import DJFlowTargets
import Foundation

func fuzzSpec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let source = SourceFile(path: "fuzz.yaml", text: text)
    if YAMLTablesSplit.cutLine(of: text) != nil {
        let cut = YAMLComposer.compose(source, splitAbove: 0), whole = YAMLComposer.compose(source, splitAbove: .max)
        precondition(cut == nil || same(cut, whole), "the cut tables: block composed differently from the whole file")
    }
    // `sources:` is served one small Python module, so a spec that reads Python goes on too.
    let python = PythonFile(source: SourceFile(path: "lab.py", text: FuzzSeeds.module), module: "lab", isPackage: false)
    let analysis = CompilerPipeline.validate(source, targets: TargetKind.allCases) { _ in .files([python]) }
    let printed = DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
    if let plan = analysis.plan {
        // A plan may still come with target errors (a missing image): every format must render.
        for format in PlanFormat.allCases { _ = PlanRenderer.render(plan, as: format) }
    } else {
        precondition(analysis.diagnostics.hasErrors, "no plan and no error:\n\(printed)")
    }
    return 0
}

/// The same tree: kinds, texts, locations and scalar styles.
func same(_ a: SpecNode?, _ b: SpecNode?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case let (.scalar(x)?, .scalar(y)?):
        return x.text == y.text && x.location == y.location && x.isNull == y.isNull && x.isBlock == y.isBlock && x.isQuoted == y.isQuoted
    case let (.sequence(x, l)?, .sequence(y, m)?):
        return l == m && x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case let (.mapping(x, l)?, .mapping(y, m)?):
        return l == m && x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && same($0.value, $1.value) }
    default: return false
    }
}

enum FuzzSeeds {
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
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzSpec(data, size) })
