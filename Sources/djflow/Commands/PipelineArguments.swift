// The pipeline file argument shared by every command, and reading it with its Python sources.

import ArgumentParser
import DJFlowCore
import DJFlowKit
import Foundation

/// The pipeline file argument shared by every command.
struct PipelineArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The pipeline definition, or a folder holding djflow.yaml.", valueName: "pipeline"), completion: .file(extensions: ["yaml", "yml"]))
    var given: String = "djflow.yaml"

    /// The definition's path: `given`, or `given/djflow.yaml` when `given` is a folder.
    var pipeline: String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: given, isDirectory: &isFolder), isFolder.boolValue else { return given }
        return (given.hasSuffix("/") ? given : given + "/") + "djflow.yaml"
    }

    /// Reads the file; exits 74 with a message when it cannot.
    func source() throws -> SourceFile {
        let name = displayName
        let path = pipeline
        var isFolder: ObjCBool = false
        if path != given && !FileManager.default.fileExists(atPath: path) {
            let yamls = ((try? FileManager.default.contentsOfDirectory(atPath: given)) ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            let hint = yamls.isEmpty ? "" : " (it holds \(yamls.prefix(5).map { "'\($0)'" }.joined(separator: ", ")): give the file)"
            printDiagnostic("'\(given)' is a folder without a djflow.yaml\(hint)")
            throw ExitStatus.io
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            printDiagnostic("cannot read '\(path)': it is a folder")
            throw ExitStatus.io
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            printDiagnostic("cannot read '\(path)'\(FileManager.default.fileExists(atPath: path) ? "" : ": no such file")")
            throw ExitStatus.io
        }
        guard let text = String(data: data, encoding: .utf8) else {
            printDiagnostic("the file is not UTF-8 text", at: SourceLocation(file: name, line: 1, column: 1))
            throw ExitStatus.invalidPipeline
        }
        return SourceFile(path: name, text: text)
    }

    /// A reader for the pipeline's `sources:`, relative to the definition's folder.
    func pythonReader() -> PythonFileReader {
        PythonFileReader(relativeTo: (pipeline as NSString).deletingLastPathComponent)
    }

    /// The path as printed in diagnostics and headers: relative as given, never absolute.
    var displayName: String {
        var path = pipeline
        while path.hasPrefix("./") { path.removeFirst(2) }
        guard path.hasPrefix("/") else { return path }
        let cwd = FileManager.default.currentDirectoryPath
        if path.hasPrefix(cwd + "/") { return String(path.dropFirst(cwd.count + 1)) }
        return URL(fileURLWithPath: path).lastPathComponent
    }
}

/// Writes text to stderr (a final newline added when missing). Problems go through `printDiagnostic` or
/// `report`, so every error the CLI prints has the diagnostics engine's form.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Prints one problem of the command line or the environment (a file that cannot be read or written, an
/// unknown name) through the diagnostics engine: `djflow: error: message`, or `file:line:col: error:` when
/// located, then its notes.
func printDiagnostic(_ message: String, at location: SourceLocation? = nil, notes: [String] = [], severity: Diagnostic.Severity = .error) {
    printError(DiagnosticPrinter(files: []).format(Diagnostic(severity, message, at: location, notes: notes)))
}

/// Prints diagnostics to stderr; exits 2 when any is an error.
func report(_ diagnostics: Diagnostics, files: [SourceFile]) throws {
    guard !diagnostics.all.isEmpty else { return }
    printError(DiagnosticPrinter(files: files).format(diagnostics))
    if diagnostics.hasErrors { throw ExitStatus.invalidPipeline }
}
