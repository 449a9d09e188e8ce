// libFuzzer target for the Python reader: any bytes, read as DataJoint Python modules, must give
// diagnostics or a graph and a plan, never a crash, a hang or a sanitizer report. A line "#%% file"
// starts a second module (`other.py`; the first is `lab.py`), so imports between modules are reached too. Built only by
// scripts/fuzz.sh (DJFLOW_FUZZ=1, -sanitize=fuzzer,address); see docs/FUZZING.md.
import DJFlowCore
import FuzzDriver
import DJFlowKit
import DJFlowPlan
import DJFlowPython
import DJFlowTargets
import Foundation

func fuzzPython(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var files: [PythonFile] = []
    var pieces = [Substring(text)]
    if let marker = text.firstRange(of: "\n#%% file\n") { pieces = [text[..<marker.lowerBound], text[marker.upperBound...]] }
    for (index, piece) in pieces.enumerated() {
        let module = index == 0 ? "lab" : "other"
        files.append(PythonFile(source: SourceFile(path: "\(module).py", text: String(piece)), module: module, isPackage: false))
    }
    // As the CLI reads `sources:`: the reader's graph merged, planned, every diagnostic printed.
    let spec = SourceFile(path: "djflow.yaml", text: "pipeline: fuzz\nsources: ['*.py']\n")
    let analysis = CompilerPipeline.validate(spec, targets: [.slurm]) { _ in .files(files) }
    _ = DiagnosticPrinter(files: analysis.files).format(analysis.diagnostics)
    if let plan = analysis.plan {
        _ = PlanRenderer.render(plan, as: .json)
    } else {
        precondition(analysis.diagnostics.hasErrors, "no plan and no error")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzPython(data, size) })
