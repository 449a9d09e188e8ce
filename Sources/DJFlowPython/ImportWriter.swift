// `djflow import` output: a starting djflow.yaml, or the static graph as JSON.

import DJFlowCore
import DJFlowSpec

/// Writes what `djflow import` prints: a starting djflow.yaml for Python sources, or the static graph as JSON.
public enum ImportWriter {
    /// A starting djflow.yaml: `sources:` as given, `links:` placeholders for names only run time supplies,
    /// defaults, and one settings entry per job (imported and computed tables).
    /// - Parameter links: the links given on the command line (`--link NAME=TARGET`), written as they are.
    public static func yaml(_ program: PythonProgram, sources: [String], pipeline: String, links: [(String, String)] = []) -> String {
        var modules: [String] = []
        for table in program.tables where !modules.contains(table.module) { modules.append(table.module) }
        var out: [String] = []
        out.append("# Written by 'djflow import'. Tables, tiers, parts and dependencies are read from the Python")
        out.append("# sources on every compile; this file keeps what Python does not say (resources, workers, retries,")
        out.append("# target options). Source paths are relative to this file's folder.")
        out.append("pipeline: \(quoted(pipeline))")
        out.append("runner:")
        out.append(modules.count == 1 ? "  module: \(quoted(modules[0]))" : "  module: [\(modules.map(quoted).joined(separator: ", "))]")
        out.append("  python: python3")
        out.append("database:")
        out.append("  backend: mysql")
        out.append("  secret: {user_env: DJ_USER, password_env: DJ_PASS}")
        out.append("sources:")
        for source in sources { out.append("  - \(quoted(source))") }
        if !program.runtimeNames.isEmpty || !links.isEmpty {
            out.append("links:")
            for (name, target) in links { out.append("  \(quoted(name)): \(quoted(target))") }
            var seen = Set(links.map(\.0))
            let unstated = program.runtimeNames.filter { seen.insert($0.name).inserted }
            if !unstated.isEmpty {
                out.append("  # names the sources receive at run time, read as tables outside the pipeline until a link")
                out.append("  # maps them to a module or table class of the sources (or to a table of this file):")
                for name in unstated {
                    let target = name.isModule ? "package.module" : "package.module.\(name.name)"
                    out.append("  # \(name.name): \(target)    # used in \(name.module) (\(name.location))")
                }
            }
        }
        out.append("defaults:")
        out.append("  resources: {cpus: 1, memory: 4G, time: \"1:00:00\"}")
        out.append("  workers: 1")
        out.append("  retries: 0")
        // Jobs: auto-populated tables with a table upstream in their key (or whose definition is not read).
        let jobs = program.tables.filter { table in
            table.tier.isAutoPopulated && (table.definition == nil || table.hasUnresolvedReferences
                || table.definition!.references.contains { $0.isPrimary && $0.name.value != "master" })
        }
        out.append(jobs.isEmpty ? "tables: {}" : "tables:")
        for table in jobs {
            let parents = parentNames(table, in: program)
            var comment = "\(table.tier.rawValue)"
            if !parents.isEmpty { comment += ", reads \(parents.joined(separator: ", "))" }
            if !table.parts.isEmpty { comment += "; parts \(table.parts.compactMap(\.part).joined(separator: ", "))" }
            out.append("  \(table.name): {}    # \(comment)")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The static graph: every table with module, class, tier, parts and parents (pipeline names).
    public static func json(_ program: PythonProgram) -> String {
        var entries: [String] = []
        for table in program.tables {
            let fields = [
                "\"name\": \(string(table.name.description))",
                "\"module\": \(string(table.module))",
                "\"class\": \(string(table.name.classPath))",
                "\"tier\": \(string(table.tier.rawValue))",
                "\"parts\": [\(table.parts.map { string($0.description) }.joined(separator: ", "))]",
                "\"parents\": [\(parentNames(table, in: program).map(string).joined(separator: ", "))]",
                "\"static\": \(table.runtimeDefinition == nil ? "true" : "false")",
            ]
            entries.append("    {" + fields.joined(separator: ", ") + "}")
        }
        let runtime = program.runtimeNames.map { "{\"name\": \(string($0.name)), \"module\": \(string($0.module))}" }
        return "{\n  \"tables\": [\n" + entries.joined(separator: ",\n") + "\n  ],\n  \"runtime_names\": [" + runtime.joined(separator: ", ") + "]\n}\n"
    }

    /// Parents as pipeline names, without the table's own master, sorted and unique.
    static func parentNames(_ table: PythonTable, in program: PythonProgram) -> [String] {
        var names = Set<String>()
        for reference in table.definition?.references ?? [] where reference.name.value != "master" {
            if table.name.isPart && reference.name.value == table.name.master.description { continue }
            names.insert(reference.name.value)
        }
        return names.sorted()
    }

    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-/*".unicodeScalars.contains($0)) }
            && !text.hasPrefix("*") && !text.hasPrefix("-")
        return plain ? text : string(text)
    }

    /// A JSON (and YAML double-quoted) string.
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
