// Loads djflow.yaml into a PipelineSpec, collecting every problem as a diagnostic.

import DJFlowCore
import Yams

/// Loads `djflow.yaml` text into a checked `PipelineSpec`, collecting every problem as a diagnostic.
///
/// Structure and values are checked here (keys, types, tiers, names, resources); the graph (unknown
/// dependencies, cycles, masters of parts) is checked by `DJFlowPlan`.
public struct SpecLoader: Sendable {
    public static let topLevelKeys = ["pipeline", "runner", "database", "defaults", "sources", "links", "tables", "targets"]
    public static let settingsKeys = ["resources", "workers", "max_workers", "pipelining", "throttle", "retries", "priority", "on_error", "max_calls", "processes", "estimate", "pool"]
    public static let tableKeys = ["tier", "definition", "depends_on", "parts", "module", "targets"] + settingsKeys
    public static let resourceKeys = ["cpus", "memory", "gpus", "time", "disk"]

    private var reader = SpecReader()
    private let source: SourceFile
    /// `sources:` is given: tables come from Python, so `tables:` entries may carry only settings.
    private var hasSources = false

    private init(source: SourceFile) { self.source = source }

    /// Parses and checks a pipeline definition.
    /// - Returns: the spec as far as it could be read (nil when the YAML itself is unusable) and every
    ///   diagnostic found. Callers must not compile a spec that came with errors.
    public static func load(_ source: SourceFile) -> (spec: PipelineSpec?, diagnostics: Diagnostics) {
        var loader = SpecLoader(source: source)
        let spec = loader.load()
        // The spec is returned even with errors so the graph can be checked too: all problems at once.
        return (spec, loader.reader.diagnostics)
    }

    private mutating func load() -> PipelineSpec? {
        guard let root = parseYAML() else { return nil }
        guard let top = reader.mapping(root, allowed: Self.topLevelKeys, context: "the pipeline definition") else { return nil }
        let entries = Dictionary(top.map { ($0.key.value, $0) }, uniquingKeysWith: { a, _ in a })
        let start = SourceLocation(file: source.path, line: 1, column: 1)

        var sources: [Located<String>] = []
        if let entry = entries["sources"] {
            sources = reader.stringList(entry.value, context: "'sources'") ?? []
            hasSources = true
            if sources.isEmpty && !reader.diagnostics.hasErrors {
                reader.diagnostics.error("'sources' must list at least one file or glob (like 'pipeline/**/*.py')", at: entry.key.location)
            }
        }
        var links: [(key: Located<String>, value: Located<String>)] = []
        if let entry = entries["links"] {
            links = reader.stringMap(entry.value, context: "'links'") ?? []
            if !hasSources {
                reader.diagnostics.error("'links' maps names in Python sources: it needs 'sources'", at: entry.key.location)
            }
            for link in links where TableName(parsing: link.value.value) == nil && !Self.isPythonModulePath(link.value.value) {
                reader.diagnostics.error("link '\(link.key.value)': '\(link.value.value)' is not a Python path like 'package.module.Class'", at: link.value.location)
            }
        }

        var name = Located("pipeline", at: start)
        if let entry = entries["pipeline"], let value = reader.string(entry.value, context: "'pipeline'") {
            name = value
            checkPipelineName(value)
        } else if entries["pipeline"] == nil {
            reader.diagnostics.error("missing required key 'pipeline' (the name used in job names)", at: root.location)
        }
        var runner = readRunner(entries["runner"]?.value, at: root.location)
        runner.keyLocation = entries["runner"]?.key.location
        var database = readDatabase(entries["database"]?.value, at: root.location)
        database.keyLocation = entries["database"]?.key.location
        let defaults = entries["defaults"].map { readSettings($0.value, context: "'defaults'", allowed: Self.settingsKeys) } ?? TableSettings()
        var tables: [TableSpec] = []
        if let entry = entries["tables"] {
            tables = readTables(entry.value)
            if tables.isEmpty && !hasSources && !reader.diagnostics.hasErrors {
                reader.diagnostics.error("'tables' must list at least one table", at: entry.key.location)
            }
        } else if !hasSources {
            reader.diagnostics.error("missing required key 'tables' (or 'sources' to read the tables from Python)", at: root.location)
        }
        var targetOptions: [String: SpecNode] = [:]
        var targetKeyLocations: [String: SourceLocation] = [:]
        if let entry = entries["targets"], let pairs = reader.openMapping(entry.value, context: "'targets'") {
            for pair in pairs {
                targetOptions[pair.key.value] = pair.value
                targetKeyLocations[pair.key.value] = pair.key.location
            }
        }
        var spec = PipelineSpec(file: source.path, name: name, runner: runner, database: database,
                                defaults: defaults, tables: tables, targetOptions: targetOptions,
                                sources: sources, links: links)
        spec.targetKeyLocations = targetKeyLocations
        return spec
    }

    // MARK: YAML

    private mutating func parseYAML() -> SpecNode? {
        // Aliases and tags first, from the event stream: an alias bomb must not be expanded.
        let precheck = YAMLPrecheck.check(source)
        reader.diagnostics.append(contentsOf: precheck.diagnostics)
        guard precheck.safeToCompose else { return nil }
        // Plain YAML (nearly every file) is composed straight from libyaml's events; anything else, errors
        // included, goes through Yams, which reports problems with their context.
        if let node = YAMLComposer.compose(source) { return node }
        return composeWithYams()
    }

    /// The document as Yams composes it, for tests that compare it with `YAMLComposer`; nil when it
    /// cannot be read.
    public static func composeWithYams(_ source: SourceFile) -> SpecNode? {
        var loader = SpecLoader(source: source)
        return loader.composeWithYams()
    }

    /// The document composed by Yams, as `SpecNode`s; nil with diagnostics when it cannot be read.
    private mutating func composeWithYams() -> SpecNode? {
        do {
            // No implicit-type rules: djflow reads every scalar as text itself, and Yams' regular
            // expressions (run again for every mapping key it checks for duplicates) were a fifth of `plan`.
            guard let node = try Yams.compose(yaml: source.text, Resolver.basic) else {
                reader.diagnostics.error("the pipeline definition is empty", at: SourceLocation(file: source.path, line: 1, column: 1))
                return nil
            }
            return SpecNode(node, file: source.path)
        } catch let error as YamlError {
            reportYAMLError(error)
            return nil
        } catch {
            reader.diagnostics.error("cannot read YAML: \(error)", at: SourceLocation(file: source.path, line: 1, column: 1))
            return nil
        }
    }

    private mutating func reportYAMLError(_ error: YamlError) {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: source.path, line: mark.line, column: mark.column) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let note = context.map { ["\($0.text) at line \($0.mark.line), column \($0.mark.column)"] } ?? []
            if let tab = Self.indentationTab(in: source, before: mark.line) {
                reader.diagnostics.error("a tab in the indentation: YAML indents with spaces only; replace the tab with spaces", at: tab,
                                         notes: ["libyaml: \(problem)" + (note.first.map { " (\($0))" } ?? "")])
                return
            }
            reader.diagnostics.error("invalid YAML: \(problem)", at: at(mark), notes: note)
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams reports the first occurrence; point at the repeated key when it can be found.
            for key in duplicates {
                let first = source.locate("\(key):", from: context.mark.line) ?? at(context.mark)
                let again = source.locate("\(key):", from: first.line + 1).flatMap { $0.column == first.column ? $0 : nil }
                reader.diagnostics.error(
                    "duplicate key '\(key)'", at: again ?? first,
                    notes: ["first defined at line \(first.line)"])
            }
        case let .reader(problem, _, _, _):
            reader.diagnostics.error("cannot read the file as UTF-8 YAML: \(problem)", at: SourceLocation(file: source.path, line: 1, column: 1))
        default:
            reader.diagnostics.error("invalid YAML: \(error)", at: SourceLocation(file: source.path, line: 1, column: 1))
        }
    }

    /// The first tab in the leading whitespace of line `line` or of the few lines above it: libyaml reports
    /// such a tab as "found character that cannot start any token" (or a later structure error).
    static func indentationTab(in source: SourceFile, before line: Int) -> SourceLocation? {
        for number in stride(from: line, through: max(1, line - 3), by: -1) {
            guard let text = source.line(number) else { continue }
            let indentation = text.prefix { $0 == " " || $0 == "\t" }
            if let tab = indentation.firstIndex(of: "\t") {
                return SourceLocation(file: source.path, line: number, column: indentation.distance(from: indentation.startIndex, to: tab) + 1)
            }
        }
        return nil
    }

    // MARK: Sections

    private mutating func checkPipelineName(_ name: Located<String>) {
        let ok = name.value.count <= 40 && name.value.first.map { $0.isASCII && $0.isLetter } == true
            && name.value.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") }
        if !ok {
            reader.diagnostics.error(
                "pipeline name '\(name.value)' must start with a letter and use only letters, digits, '_' and '-' (at most 40 characters): it is part of every job name",
                at: name.location)
        }
    }

    private mutating func readRunner(_ node: SpecNode?, at fallback: SourceLocation) -> RunnerSpec {
        var runner = RunnerSpec(modules: [], python: Located("python3", at: fallback), image: nil, environment: [])
        guard let node else {
            if !hasSources {
                reader.diagnostics.error("missing required key 'runner' (runner.module names the Python module that defines the tables)", at: fallback)
            }
            return runner
        }
        guard let pairs = reader.mapping(node, allowed: ["module", "python", "image", "env"], context: "'runner'") else { return runner }
        for (key, value) in pairs {
            switch key.value {
            case "module": runner.modules = reader.stringList(value, context: "'runner.module'") ?? []
                for module in runner.modules where !Self.isPythonModulePath(module.value) {
                    reader.diagnostics.error("'\(module.value)' is not a Python import path (like 'ephys_pipeline' or 'lab.ephys')", at: module.location)
                }
            case "python": if let python = reader.string(value, context: "'runner.python'") { runner.python = python }
            case "image": runner.image = reader.string(value, context: "'runner.image'")
            case "env": runner.environment = readEnvironment(value, context: "'runner.env'")
            default: break
            }
        }
        if runner.modules.isEmpty && !pairs.contains(where: { $0.key.value == "module" }) && !hasSources {
            reader.diagnostics.error("missing required key 'runner.module'", at: node.location)
        }
        return runner
    }

    /// Environment variables written into job scripts: names must be valid, values are any text.
    public mutating func readEnvironment(_ node: SpecNode, context: String) -> [(key: Located<String>, value: Located<String>)] {
        let pairs = reader.stringMap(node, context: context) ?? []
        for pair in pairs where !Self.isEnvironmentName(pair.key.value) {
            reader.diagnostics.error("'\(pair.key.value)' is not a valid environment variable name", at: pair.key.location)
        }
        return pairs
    }

    private mutating func readDatabase(_ node: SpecNode?, at fallback: SourceLocation) -> DatabaseSpec {
        var database = DatabaseSpec(host: nil, backend: .mysql, userEnv: Located("DJ_USER", at: fallback),
                                    passwordEnv: Located("DJ_PASS", at: fallback), secretName: nil)
        guard let node, let pairs = reader.mapping(node, allowed: ["host", "backend", "secret"], context: "'database'") else {
            return database
        }
        for (key, value) in pairs {
            switch key.value {
            case "host": database.host = reader.string(value, context: "'database.host'")
            case "backend": if let backend = reader.choice(value, as: DatabaseSpec.Backend.self, context: "database backend") { database.backend = backend.value }
            case "secret":
                database.secretKeyLocation = key.location
                guard let secret = reader.mapping(value, allowed: ["user_env", "password_env", "name", "password"], context: "'database.secret'") else { continue }
                for (secretKey, secretValue) in secret {
                    switch secretKey.value {
                    case "user_env", "password_env":
                        guard let name = reader.string(secretValue, context: "'database.secret.\(secretKey.value)'") else { continue }
                        if !Self.isEnvironmentName(name.value) {
                            reader.diagnostics.error("'\(name.value)' is not a valid environment variable name", at: name.location)
                        }
                        if secretKey.value == "user_env" { database.userEnv = name } else { database.passwordEnv = name }
                    case "name": database.secretName = reader.string(secretValue, context: "'database.secret.name'")
                    default:
                        reader.diagnostics.error(
                            "passwords are never written into djflow.yaml: name the environment variable that holds it with 'password_env'",
                            at: secretKey.location)
                    }
                }
            default: break
            }
        }
        return database
    }

    // MARK: Tables

    private mutating func readTables(_ node: SpecNode) -> [TableSpec] {
        guard let pairs = reader.openMapping(node, context: "'tables'") else { return [] }
        // Each entry is read on its own: large pipelines are read in chunks on all cores, each chunk with
        // its own diagnostics, joined in order (the same tables and diagnostics as one pass).
        let chunks = pairs.count >= 2_048 ? 4 : 1
        guard chunks > 1 else { return readTables(pairs[...]) }
        var fresh = self
        fresh.reader = SpecReader()
        let blank = fresh
        let read = concurrentIndices(chunks, grain: 1) { chunk in
            var loader = blank
            let tables = loader.readTables(pairs[chunkRange(chunk, of: chunks, count: pairs.count)])
            return (tables, loader.reader.diagnostics)
        }
        var tables: [TableSpec] = []
        tables.reserveCapacity(read.reduce(0) { $0 + $1.0.count })
        for (chunk, diagnostics) in read {
            tables += chunk
            reader.diagnostics.append(contentsOf: diagnostics)
        }
        return tables
    }

    private mutating func readTables(_ pairs: ArraySlice<(key: Located<String>, value: SpecNode)>) -> [TableSpec] {
        var tables: [TableSpec] = []
        tables.reserveCapacity(pairs.count)
        for (key, value) in pairs {
            guard let name = TableName(parsing: key.value) else {
                reader.diagnostics.error(
                    "'\(key.value)' is not a table name: use a CamelCase class, optionally module-qualified or Master.Part ('Session', 'ephys.Clustering', 'Recording.Channel')",
                    at: key.location)
                continue
            }
            readTable(name, at: key.location, value, into: &tables)
        }
        return tables
    }

    /// One table entry and the parts it lists under `parts:`, appended to `tables` (a large struct: copying
    /// it through arrays of one was a tenth of loading 10,000 tables).
    private mutating func readTable(_ name: TableName, at location: SourceLocation, _ node: SpecNode, into tables: inout [TableSpec]) {
        var table = TableSpec(name: name, location: location, tier: name.isPart ? .part : .manual, definition: nil,
                              dependsOn: [], parts: [], settings: TableSettings(), module: nil, targetOptions: [:])
        guard let pairs = reader.mapping(node, allowed: Self.tableKeys, context: "table '\(name)'") else { tables.append(table); return }
        var tierSeen = false
        var partEntries: [Located<String>] = []
        for (key, value) in pairs {
            switch key.value {
            case "tier":
                tierSeen = true
                if let tier = reader.choice(value, as: Tier.self, context: "tier") { table.tier = tier.value }
            case "definition":
                guard case .scalar(let scalar) = value, !scalar.isNull else {
                    reader.diagnostics.error("the definition of '\(name)' must be a string", at: value.location)
                    continue
                }
                let definition = Definition(text: scalar.text) { line, offset in self.locate(scalar, line: line, offset: offset) }
                for diagnostic in definition.diagnostics { reader.diagnostics.append(diagnostic) }
                if !definition.diagnostics.isEmpty { table.hasUnresolvedReferences = true }
                table.definition = definition
            case "depends_on": table.dependsOn = reader.stringList(value, context: "'depends_on'") ?? []
            case "parts": partEntries = reader.stringList(value, context: "'parts'") ?? []
            case "module":
                table.module = reader.string(value, context: "'module'")
                if let module = table.module, !Self.isPythonModulePath(module.value) {
                    reader.diagnostics.error("'\(module.value)' is not a Python import path", at: module.location)
                }
            case "targets":
                if let targets = reader.openMapping(value, context: "'targets' of '\(name)'") {
                    for pair in targets {
                        table.targetOptions[pair.key.value] = pair.value
                        table.targetKeyLocations[pair.key.value] = pair.key.location
                    }
                }
            default: break
            }
        }
        table.settings = readSettings(node, context: "table '\(name)'", allowed: Self.tableKeys, reportUnknown: false)
        if let targets = pairs.first(where: { $0.key.value == "targets" }) { table.settings.locations["targets"] = targets.key.location }
        table.tierWritten = tierSeen
        if !tierSeen && !name.isPart && !hasSources {
            reader.diagnostics.error("table '\(name)' needs a 'tier' (manual, lookup, imported, computed or part)", at: location)
        }
        if name.isPart && table.tier != .part {
            reader.diagnostics.error("'\(name)' is named Master.Part, so its tier must be 'part', not '\(table.tier.rawValue)'", at: location)
        }
        var parts: [TableSpec] = []
        parts.reserveCapacity(partEntries.count)
        for entry in partEntries {
            guard let partName = TableName(parsing: entry.value), !partName.isPart, partName.module.isEmpty, !name.isPart else {
                reader.diagnostics.error("'\(entry.value)' is not a part name: list the part's CamelCase class, e.g. 'Channel'", at: entry.location)
                continue
            }
            let qualified = TableName(module: name.module, className: name.className, part: partName.className)
            table.parts.append(qualified)
            parts.append(TableSpec(name: qualified, location: entry.location, tier: .part, definition: nil, dependsOn: [],
                                   parts: [], settings: TableSettings(), module: nil, targetOptions: [:], isListedPart: true))
        }
        tables.append(table)
        tables.append(contentsOf: parts)
    }

    /// Settings shared by `defaults:` and tables.
    private mutating func readSettings(_ node: SpecNode, context: String, allowed: [String], reportUnknown: Bool = true) -> TableSettings {
        var settings = TableSettings()
        let pairs: [(key: Located<String>, value: SpecNode)]
        if reportUnknown {
            pairs = reader.mapping(node, allowed: allowed, context: context) ?? []
        } else if case .mapping(let all, _) = node {
            pairs = all
        } else {
            pairs = []
        }
        for (key, value) in pairs {
            if Self.settingsKeys.contains(key.value) { settings.locations[key.value] = key.location }
            switch key.value {
            case "resources": settings.resources = readResources(value, context: "'resources' of \(context)", locations: &settings.locations)
            case "workers":
                if case .scalar(let scalar) = value, scalar.text == "auto" {
                    settings.autoWorkers = true
                } else if case .scalar(let scalar) = value, !scalar.isNull, Int(scalar.text.trimming(" ")) == nil {
                    reader.diagnostics.error("'workers' must be a whole number or auto, found '\(scalar.text)'", at: value.location)
                } else {
                    settings.workers = reader.integer(value, context: "'workers'", range: 1...100_000)?.value
                    if settings.workers != nil { settings.autoWorkers = false }
                }
            case "max_workers": settings.maxWorkers = reader.integer(value, context: "'max_workers'", range: 1...100_000)?.value
            case "pipelining": settings.pipelining = reader.boolean(value, context: "'pipelining'")?.value
            case "throttle": settings.throttle = reader.integer(value, context: "'throttle'", range: 1...100_000)?.value
            case "retries": settings.retries = reader.integer(value, context: "'retries'", range: 0...100)?.value
            case "priority": settings.priority = reader.integer(value, context: "'priority'", range: 0...255)?.value
            case "on_error": settings.onError = reader.choice(value, as: ErrorPolicy.self, context: "on_error policy")?.value
            case "max_calls": settings.maxCalls = reader.integer(value, context: "'max_calls'", range: 1...Int.max)?.value
            case "processes": settings.processes = reader.integer(value, context: "'processes'", range: 1...1024)?.value
            case "estimate": settings.estimate = readTime(value, context: "'estimate'")
            case "pool": readPool(value, into: &settings, inDefaults: context == "'defaults'")
            default: break
            }
        }
        return settings
    }

    /// `pool:` under `defaults:` is `true`, `false` or the number of worker slots of each workflow's pool;
    /// under a table only `true` or `false` (the slots belong to the workflow's pool).
    private mutating func readPool(_ node: SpecNode, into settings: inout TableSettings, inDefaults: Bool) {
        if inDefaults, case .scalar(let scalar) = node, !scalar.isQuoted, Int(scalar.text.trimming(" ")) != nil {
            settings.poolSlots = reader.integer(node, context: "'pool'", range: 1...1024)?.value
            if settings.poolSlots != nil { settings.pool = true }
            return
        }
        if !inDefaults, case .scalar(let scalar) = node, !scalar.isQuoted, Int(scalar.text.trimming(" ")) != nil {
            reader.diagnostics.error("a table's 'pool' is true or false, found '\(scalar.text)'", at: node.location,
                                     notes: ["the number of worker slots belongs to each workflow's pool: set it under defaults (pool: 8)"])
            return
        }
        settings.pool = reader.boolean(node, context: "'pool'" + (inDefaults ? " (true, false or a number of worker slots)" : ""))?.value
    }

    private mutating func readResources(_ node: SpecNode, context: String, locations: inout [String: SourceLocation]) -> Resources {
        var resources = Resources()
        for (key, value) in reader.mapping(node, allowed: Self.resourceKeys, context: context) ?? [] {
            locations["resources." + key.value] = key.location
            switch key.value {
            case "cpus": resources.cpus = reader.integer(value, context: "'cpus'", range: 1...10_000)?.value
            case "gpus": resources.gpus = reader.integer(value, context: "'gpus'", range: 0...64)?.value
            case "memory": resources.memory = readMemory(value, context: "'memory'")
            case "disk": resources.disk = readMemory(value, context: "'disk'")
            case "time": resources.time = readTime(value, context: "'time'")
            default: break
            }
        }
        return resources
    }

    private mutating func readMemory(_ node: SpecNode, context: String) -> MemoryAmount? {
        guard let text = reader.string(node, context: context) else { return nil }
        guard let amount = MemoryAmount(parsing: text.value) else {
            if let whole = MemoryAmount.wholeSuggestion(for: text.value) {
                reader.diagnostics.error("\(context) must be a whole number of a unit, found '\(text.value)'; write '\(whole)'", at: text.location,
                                         notes: ["SLURM and HTCondor take whole amounts: '\(text.value)' is '\(whole)' (units are binary: 1G = 1024M)"])
            } else {
                reader.diagnostics.error("\(context) must be a positive amount like '4G', '512M' or '2T', found '\(text.value)'", at: text.location)
            }
            return nil
        }
        return amount
    }

    private mutating func readTime(_ node: SpecNode, context: String) -> WallTime? {
        guard let text = reader.string(node, context: context) else { return nil }
        guard let time = WallTime(parsing: text.value) else {
            reader.diagnostics.error(
                "\(context) must be a positive time as SLURM writes it, '[D-]HH:MM:SS' (like '1:00:00' or '2-12:00:00'), found '\(text.value)'",
                at: text.location)
            return nil
        }
        if time.seconds < 300 && WallTime.isMinutesSeconds(text.value) {
            // Short limits written as MM:SS are most often hours and minutes meant as H:MM.
            let written = text.value.trimming(" ")
            var notes = ["to keep \(time.spokenText) without this warning, write '\(time.slurmText)'"]
            if let meant = WallTime(parsing: written + ":00") {
                notes.insert("for \(meant.spokenText), write '\(written):00'", at: 0)
            }
            let key = context.filter { $0 != "'" }
            reader.diagnostics.warning("'\(key): \(written)' is \(time.spokenText): SLURM reads two numbers as MM:SS", at: text.location, notes: notes)
        }
        return time
    }

    // MARK: Helpers

    /// Maps a position inside a scalar's text to the file: block scalars start on the next line.
    private func locate(_ scalar: SpecNode.Scalar, line: Int, offset: Int) -> SourceLocation {
        if scalar.isBlock {
            let fileLine = scalar.location.line + 1 + line
            let text = source.line(fileLine) ?? ""
            let indent = text.prefix { $0 == " " }.count
            return SourceLocation(file: source.path, line: fileLine, column: indent + offset + 1)
        }
        if line > 0 {
            // A quoted scalar with `\n` escapes: find that line's text as written, on the scalar's lines.
            let lines = scalar.text.split(separator: "\n", omittingEmptySubsequences: false)
            if line < lines.count, !lines[line].isEmpty,
               let found = source.locate(String(lines[line]), from: scalar.location.line, within: 20) {
                return found.advanced(by: offset)
            }
        }
        return scalar.location.advanced(by: (scalar.isQuoted ? 1 : 0) + offset)
    }

    public static func isPythonModulePath(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
            return part.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) }
        }
    }

    public static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) }
    }
}
