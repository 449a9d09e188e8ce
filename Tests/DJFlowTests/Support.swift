import DJFlowCore
import DJFlowKit
import DJFlowPlan
import DJFlowTargets
import DJFlowTemplates
import Foundation
import Testing

/// The package root (tests run from anywhere).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every sample pipeline: each folder under `Samples/` that holds a `djflow.yaml`, by folder name.
let sampleNames: [String] = {
    let samples = packageRoot.appendingPathComponent("Samples")
    let folders = (try? FileManager.default.contentsOfDirectory(atPath: samples.path)) ?? []
    return folders.filter { FileManager.default.fileExists(atPath: samples.appendingPathComponent("\($0)/djflow.yaml").path) }.sorted()
}()

func sampleSource(_ name: String) throws -> SourceFile {
    let text = try String(contentsOf: packageRoot.appendingPathComponent("Samples/\(name)/djflow.yaml"), encoding: .utf8)
    return SourceFile(path: "Samples/\(name)/djflow.yaml", text: text)
}

/// Analyses YAML text given inline as `test.yaml`.
func analyse(_ yaml: String) -> CompilerPipeline.Analysis {
    CompilerPipeline.validate(SourceFile(path: "test.yaml", text: yaml), targets: TargetKind.allCases)
}

/// The printed diagnostics of YAML text, as the CLI shows them.
func printedDiagnostics(_ yaml: String) -> String {
    let source = SourceFile(path: "test.yaml", text: yaml)
    return DiagnosticPrinter(files: [source]).format(analyse(yaml).diagnostics)
}

/// Compiles a source for targets with the embedded templates.
func compileFiles(_ source: SourceFile, targets: [TargetKind] = TargetKind.allCases) throws -> [OutputFile] {
    let (files, diagnostics) = CompilerPipeline.compile(source, targets: targets, templates: try TemplateLibrary(), sourceName: source.path)
    #expect(!diagnostics.hasErrors, "\(DiagnosticPrinter(files: [source]).format(diagnostics))")
    return try #require(files)
}

/// A minimal valid pipeline with `tables` spliced in (indented by 2); valid for every target (the container
/// targets need an image and a named Secret).
func pipeline(_ tables: String, extra: String = "") -> String {
    """
    pipeline: test
    runner: {module: test_pipeline, image: 'registry.example/test:1'}
    database: {host: localhost, backend: mysql, secret: {name: test-db}}
    tables:
    \(tables.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
    \(extra)
    """
}

/// Runs a program and returns (status, stdout).
@discardableResult
func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
