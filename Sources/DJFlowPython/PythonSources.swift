// `sources:` of djflow.yaml: reads the Python modules and merges their tables with `tables:`.

import DJFlowCore
import DJFlowSpec

/// Reads a pipeline's `sources:` and merges the tables found there with the `tables:` entries of
/// djflow.yaml, which keep only what Python does not say (resources, workers, retries, target options).
public enum PythonSources {
    /// What the caller found for one `sources:` pattern.
    public enum Match: Sendable {
        case files([PythonFile])
        case failure(String)
    }

    /// Expands one pattern (relative to the definition's folder) into read files. Only the CLI reads files.
    public typealias Provider = (_ pattern: String) -> Match

    /// The spec with the tables of its Python sources merged in, and every Python file read (for the
    /// diagnostic printer). A spec without `sources:` is returned unchanged.
    public static func apply(_ spec: PipelineSpec, provider: Provider?, diagnostics: inout Diagnostics) -> (spec: PipelineSpec, files: [SourceFile]) {
        guard !spec.sources.isEmpty else { return (spec, []) }
        guard let provider else {
            diagnostics.error("this pipeline reads its tables from Python sources, but no source reader was given", at: spec.sources[0].location)
            return (spec, [])
        }
        var files: [PythonFile] = []
        var seen = Set<String>()
        // A source that cannot be read is one error: the tables it would have defined are not reported
        // again one by one (they are named in a note).
        var unread: [(message: String, location: SourceLocation)] = []
        for pattern in spec.sources {
            switch provider(pattern.value) {
            case .failure(let message):
                unread.append((message, pattern.location))
            case .files(let matched):
                if matched.isEmpty {
                    unread.append(("no Python file matches '\(pattern.value)' (patterns are relative to the folder of \(spec.file))", pattern.location))
                }
                for file in matched where seen.insert(file.source.path).inserted { files.append(file) }
            }
        }
        files = PythonFile.uniquelyNamed(files, diagnostics: &diagnostics)
        let yamlTables = spec.tables.filter { $0.tierWritten }.map(\.name.description)
        let program = PythonProgram.read(files, links: spec.links, yamlTables: yamlTables)
        diagnostics.append(contentsOf: program.diagnostics)
        let (merged, missing) = merge(spec, program: program, diagnostics: &diagnostics, collectMissing: !unread.isEmpty)
        for (index, failure) in unread.enumerated() {
            var notes: [String] = []
            if index == 0 && !missing.isEmpty {
                let names = missing.prefix(5).map { "'\($0)'" }.joined(separator: ", ") + (missing.count > 5 ? ", …" : "")
                notes.append("\(missing.count) table\(missing.count == 1 ? "" : "s") of 'tables:' not found in the sources read (\(names)) \(missing.count == 1 ? "is" : "are") not reported until every source can be read")
            }
            diagnostics.error(failure.message, at: failure.location, notes: notes)
        }
        return (merged, files.map(\.source))
    }

    /// The warning for a definition only run time builds, with how to state it in YAML.
    public static func runtimeDefinitionWarning(_ name: TableName, _ why: (reason: String, location: SourceLocation)) -> Diagnostic {
        Diagnostic(.warning, "the definition of '\(name)' cannot be read statically: \(why.reason)", at: why.location,
                   notes: ["state its dependencies in djflow.yaml: tables: {\(name): {depends_on: [...]}} (or give its 'definition:')"])
    }

    /// Python tables first (in source order), with the settings of their `tables:` entries; then the tables
    /// declared only in YAML (entries with a `tier:`).
    /// - Parameter collectMissing: some source could not be read: the `tables:` entries not found in the
    ///   sources are returned in `missing` instead of being reported.
    static func merge(_ spec: PipelineSpec, program: PythonProgram, diagnostics: inout Diagnostics,
                      collectMissing: Bool) -> (spec: PipelineSpec, missing: [TableName]) {
        var out = spec
        var missing: [TableName] = []
        var python = program.tables.map { table in
            var spec = TableSpec(name: table.name, location: table.location, tier: table.tier, definition: table.definition, parts: table.parts)
            spec.hasUnresolvedReferences = table.hasUnresolvedReferences
            spec.externalReferences = table.externalReferences
            spec.customKeySource = table.customKeySource
            return spec
        }
        var runtime = program.tables.map(\.runtimeDefinition)
        var matchedBy: [Int: SourceLocation] = [:]
        var yamlOnly: [TableSpec] = []

        func match(_ name: TableName) -> [Int] {
            let candidates = python.indices.filter { python[$0].name.classPath == name.classPath }
            if name.module.isEmpty { return candidates }
            return candidates.filter { i in
                let module = program.tables[i].module
                return python[i].name.module == name.module || module == name.module || module.hasSuffix("." + name.module)
            }
        }

        for entry in spec.tables {
            let found = match(entry.name)
            if found.count > 1 {
                diagnostics.error("'\(entry.name)' is ambiguous: it could be \(found.map { "'\(python[$0].name)'" }.joined(separator: " or ")); qualify it with its module",
                                  at: entry.location)
                continue
            }
            guard let index = found.first else {
                let masterIsPython = entry.name.isPart && !match(entry.name.master).isEmpty
                if entry.isListedPart && masterIsPython {
                    diagnostics.error("'\(entry.name.master)' has no part '\(entry.name.part!)' in the Python sources", at: entry.location)
                } else if entry.tierWritten && !masterIsPython {
                    yamlOnly.append(entry)
                } else if collectMissing {
                    missing.append(entry.name)
                } else {
                    let names = python.map(\.name.description)
                    diagnostics.error("no table '\(entry.name)' in the Python sources\(Suggestions.hint(for: entry.name.description, in: names))",
                                      at: entry.location,
                                      notes: names.isEmpty ? [] : ["a table only in djflow.yaml needs a 'tier:'"])
                }
                continue
            }
            if entry.isListedPart { continue }
            if let first = matchedBy[index] {
                diagnostics.error("duplicate entry for table '\(python[index].name)'", at: entry.location, notes: ["first given at line \(first.line)"])
                continue
            }
            matchedBy[index] = entry.location
            let source = program.tables[index]
            if entry.tierWritten && entry.tier != source.tier {
                diagnostics.error("'\(entry.name)' is '\(entry.tier.rawValue)' here but '\(source.tier.rawValue)' in the Python source (\(source.location)); remove 'tier:' or make them agree",
                                  at: entry.location)
            }
            if let definition = entry.definition {
                if python[index].definition != nil {
                    diagnostics.error("the definition of '\(python[index].name)' is read from the Python source (\(source.location)); remove it here",
                                      at: definition.references.first?.name.location ?? entry.location)
                } else {
                    python[index].definition = definition
                    runtime[index] = nil
                }
            }
            if !entry.dependsOn.isEmpty {
                python[index].dependsOn = entry.dependsOn
                runtime[index] = nil
            }
            python[index].settings = entry.settings
            python[index].targetOptions = entry.targetOptions
            python[index].targetKeyLocations = entry.targetKeyLocations
            python[index].module = entry.module
        }

        for (index, why) in runtime.enumerated() {
            guard let why else { continue }
            diagnostics.append(runtimeDefinitionWarning(python[index].name, why))
        }

        if out.runner.modules.isEmpty {
            var modules: [String] = []
            for table in program.tables where !modules.contains(table.module) { modules.append(table.module) }
            let at = spec.sources.first?.location ?? SourceLocation(file: spec.file, line: 1, column: 1)
            out.runner.modules = modules.map { Located($0, at: at) }
        }
        // Where each table is defined: jobs import the runner modules, then resolve the table there.
        for index in python.indices where python[index].module == nil {
            python[index].module = Located(program.tables[index].module, at: python[index].location)
        }
        out.tables = python + yamlOnly
        return (out, missing)
    }
}
