import ArgumentParser
import DJFlowCore
import DJFlowPython
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read DataJoint Python modules statically and print a starting djflow.yaml (or the graph as JSON).",
        discussion: """
            SOURCES are Python files or globs ('pipeline/**/*.py'), relative to the current directory: run it \
            in the folder where djflow.yaml will live, e.g. 'djflow import pipeline/*.py > djflow.yaml'.
            Nothing is imported or executed. Names the sources only receive at run time (linking_module, \
            activate(), virtual modules) are listed as 'links:' to fill in; --link states them here.
            """)

    @Argument(help: "Python files or globs.")
    var sources: [String]

    @Option(name: .long, help: ArgumentHelp("The pipeline name (default: the first module's top package).", valueName: "name"))
    var pipeline: String?

    @Option(name: .long, help: ArgumentHelp("NAME=TARGET: what a run-time name stands for (as in 'links:'). Repeatable.", valueName: "link"))
    var link: [String] = []

    @Option(name: .long, help: "yaml (a starting djflow.yaml) or json (the static graph: tables, tiers, parts, parents).")
    var format: String = "yaml"

    func run() throws {
        guard ["yaml", "json"].contains(format) else { throw ValidationError("--format must be yaml or json") }
        let reader = PythonFileReader(relativeTo: "")
        var files: [PythonFile] = []
        var seen = Set<String>()
        for pattern in sources {
            switch reader.match(pattern) {
            case .failure(let message):
                printError("djflow: error: \(message)")
                throw ExitStatus.io
            case .files(let matched):
                if matched.isEmpty { printError("djflow: error: no Python file matches '\(pattern)'"); throw ExitStatus.io }
                for file in matched where seen.insert(file.source.path).inserted { files.append(file) }
            }
        }
        let at = SourceLocation(file: "--link", line: 1, column: 1)
        var links: [PythonProgram.Link] = []
        for item in link {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else { throw ValidationError("--link must be NAME=TARGET, found '\(item)'") }
            links.append((Located(pair[0], at: at), Located(pair[1], at: at)))
        }
        let program = PythonProgram.read(files, links: links)
        var diagnostics = program.diagnostics
        for table in program.tables {
            if let why = table.runtimeDefinition { diagnostics.append(PythonSources.runtimeDefinitionWarning(table.name, why)) }
        }
        try report(diagnostics, files: files.map(\.source))
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
        print(ImportWriter.yaml(program, sources: sources, pipeline: name), terminator: "")
    }
}
