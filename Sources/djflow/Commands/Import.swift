// `djflow import`: reads DataJoint Python modules and prints a starting djflow.yaml or the graph.

import ArgumentParser
import DJFlowCore
import DJFlowPython
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read DataJoint Python modules statically and print a starting djflow.yaml (or the graph as JSON).",
        discussion: """
            SOURCES are Python files, folders (every *.py below them) or globs ('pipeline/**/*.py'), relative \
            to the current directory: run it in the folder where djflow.yaml will live, e.g. \
            'djflow import pipeline/ > djflow.yaml'. Modules are named by their dotted path from the folder \
            given (or the glob's folder, or a file's own folder), starting with the packages that hold it.
            Nothing is imported or executed. Names the sources only receive at run time (linking_module, \
            activate(), spawn_missing_classes, virtual modules) are warnings and listed as 'links:' \
            placeholders; --link states them and is written into 'links:'.
            Problems in the sources are printed with their locations and the graph is still printed: a file \
            with syntax errors is skipped, a class or reference that cannot be read is left out, and a summary \
            line counts them. Exit 0 when the graph is printed; 64 for a bad --link; 74 when a source cannot \
            be read.
            """)

    @Argument(help: "Python files, folders or globs.")
    var sources: [String]

    @Option(name: .long, help: ArgumentHelp("The pipeline name (default: the first module's top package).", valueName: "name"))
    var pipeline: String?

    @Option(name: .long, help: ArgumentHelp("NAME=TARGET: what a run-time name stands for (as in 'links:'). Repeatable.", valueName: "link"))
    var link: [String] = []

    @Option(name: .long, help: "yaml (a starting djflow.yaml) or json (the static graph: tables, tiers, parts, parents).")
    var format: String = "yaml"

    func run() throws {
        guard ["yaml", "json"].contains(format) else { throw ValidationError("--format must be yaml or json") }
        var links: [PythonProgram.Link] = []
        for (index, item) in link.enumerated() {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else { throw ValidationError("--link must be NAME=TARGET, found '\(item)'") }
            let at = SourceLocation(file: "--link", line: index + 1, column: 1)
            links.append((Located(pair[0], at: at), Located(pair[1], at: at)))
        }
        let reader = PythonFileReader(relativeTo: "")
        var files: [PythonFile] = []
        var seen = Set<String>()
        for pattern in sources {
            switch reader.match(pattern) {
            case .failure(let message):
                printDiagnostic(message)
                throw ExitStatus.io
            case .files(let matched):
                if matched.isEmpty { printDiagnostic("no Python file matches '\(pattern)'"); throw ExitStatus.io }
                for file in matched where seen.insert(file.source.path).inserted { files.append(file) }
            }
        }
        var diagnostics = Diagnostics()
        files = PythonFile.uniquelyNamed(files, diagnostics: &diagnostics)
        let program = PythonProgram.read(files, links: links)

        // Problems of --link are problems of the command line.
        var linkProblems: [String] = []
        for diagnostic in program.diagnostics.all {
            if let location = diagnostic.location, location.file == "--link" {
                let text = "djflow: \(diagnostic.severity.rawValue): --link \(link[location.line - 1]): \(diagnostic.message)"
                if diagnostic.severity == .error { linkProblems.append(text) } else { printError(text) }
            } else {
                diagnostics.append(diagnostic)
            }
        }
        for table in program.tables {
            if let why = table.runtimeDefinition { diagnostics.append(PythonSources.runtimeDefinitionWarning(table.name, why)) }
        }
        if !linkProblems.isEmpty {
            for problem in linkProblems { printError(problem) }
            throw ExitStatus.usage
        }
        if !diagnostics.all.isEmpty {
            printError(DiagnosticPrinter(files: files.map(\.source)).format(diagnostics))
        }
        printError(summary(program, files: files.count, diagnostics: diagnostics))
        if format == "json" {
            print(ImportWriter.json(program), terminator: "")
            return
        }
        let first = program.tables.first?.module ?? files.first?.module ?? "pipeline"
        var name = pipeline ?? String(first.split(separator: ".").first ?? "pipeline")
        if pipeline == nil {
            name = String(String.UnicodeScalarView(name.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") ? $0 : "_" }))
            name = String(name.prefix(40))
        }
        print(ImportWriter.yaml(program, sources: sources, pipeline: name, links: links.map { ($0.key.value, $0.value.value) }), terminator: "")
    }

    /// `djflow import: 12 tables from 3 files (1 skipped: syntax errors); 2 errors, 4 warnings`.
    func summary(_ program: PythonProgram, files: Int, diagnostics: Diagnostics) -> String {
        let count = { (n: Int, word: String) in "\(n) \(word)\(n == 1 ? "" : "s")" }
        var line = "djflow import: \(count(program.tables.count, "table")) from \(count(files - program.skippedFiles.count, "file"))"
        if !program.skippedFiles.isEmpty { line += " (\(count(program.skippedFiles.count, "file")) skipped: syntax errors)" }
        let errors = diagnostics.errorCount
        let warnings = diagnostics.all.filter { $0.severity == .warning }.count
        line += "; \(count(errors, "error")), \(count(warnings, "warning"))"
        if errors > 0 { line += " (the graph leaves out what they name; compile refuses these sources until they are fixed)" }
        return line
    }
}
