import DJFlowCore
import DJFlowSpec

/// A table found in the Python sources.
public struct PythonTable: Sendable {
    public var name: TableName
    public var tier: Tier
    /// The import path of the module that defines the class.
    public var module: String
    /// The class name in the source (`class Recording`).
    public var location: SourceLocation
    /// The definition with every `->` reference rewritten to the pipeline name of the table it means
    /// (`master` stays `master`); nil when it cannot be read statically (see `runtimeDefinition`).
    public var definition: Definition?
    /// Why the definition cannot be read statically, and where.
    public var runtimeDefinition: (reason: String, location: SourceLocation)?
    /// Some `->` references could not be resolved (each reported).
    public var hasUnresolvedReferences = false
    /// For a master: its parts.
    public var parts: [TableName]
}

/// A name in the sources that only run time supplies, as reported to the user and to `djflow import`.
public struct RuntimeName: Sendable {
    public var name: String
    public var module: String
    public var location: SourceLocation
}

/// Every Python source of a pipeline, read statically: modules, names resolved the way Python would,
/// tables with tiers, parts and dependencies.
public struct PythonProgram {
    /// A link: a name written in the sources and the Python path (or pipeline table) it stands for.
    public typealias Link = (key: Located<String>, value: Located<String>)

    public private(set) var tables: [PythonTable] = []
    public private(set) var diagnostics = Diagnostics()
    /// Names supplied at run time that no link states (each also reported as a warning).
    public private(set) var runtimeNames: [RuntimeName] = []

    private var modules: [String: PyModule] = [:]
    private var order: [PyModule] = []
    private var packagePrefixes: Set<String> = []
    private var links: [String: Located<String>] = [:]
    private var tierMemo: [ObjectIdentifier: TierResult] = [:]
    /// Table classes: class → pipeline name.
    private var tableNames: [ObjectIdentifier: TableName] = [:]

    /// Reads and resolves `files` (already read by the caller: the library does no I/O).
    public static func read(_ files: [PythonFile], links: [Link] = []) -> PythonProgram {
        var program = PythonProgram()
        for link in links { program.links[link.key.value] = link.value }
        for file in files {
            let (module, diagnostics) = PythonModuleReader.read(file)
            program.diagnostics.append(contentsOf: diagnostics)
            if let existing = program.modules[module.name] {
                program.diagnostics.error("module '\(module.name)' is read from two files: '\(existing.file.source.path)' and '\(file.source.path)'",
                                          at: SourceLocation(file: file.source.path, line: 1, column: 1))
                continue
            }
            program.modules[module.name] = module
            program.order.append(module)
            var parts = module.name.split(separator: ".").map(String.init)
            while parts.count > 1 { parts.removeLast(); program.packagePrefixes.insert(parts.joined(separator: ".")) }
        }
        program.resolve()
        return program
    }

    // MARK: Entities

    indirect enum Entity {
        case module(String)
        case datajoint([String])
        case cls(PyClass)
        case schema
        /// A module-level value; `reason` says why it is not known statically.
        case value(PyValue, reason: String, SourceLocation)
        case function
        case external(String, SourceLocation)
        case unbound
    }

    enum TierResult {
        case tier(Tier)
        case none
        case unknownBase(String, SourceLocation, suggestion: String?)
        case externalBase(String, from: String, SourceLocation)
    }

    static let tierNames: [String: Tier] = ["Manual": .manual, "Lookup": .lookup, "Imported": .imported, "Computed": .computed, "Part": .part]
    static let builtinBases: Set<String> = ["object", "Exception", "BaseException", "dict", "list", "str", "int", "type", "tuple", "set"]

    private func modulePath(_ path: String, at location: SourceLocation) -> Entity {
        if path == "datajoint" { return .datajoint([]) }
        if path.hasPrefix("datajoint.") { return .datajoint(path.split(separator: ".").dropFirst().map(String.init)) }
        if modules[path] != nil || packagePrefixes.contains(path) { return .module(path) }
        return .external(path, location)
    }

    func lookup(_ name: String, in module: PyModule, depth: Int = 0) -> Entity {
        guard depth < 40 else { return .unbound }
        if let (binding, location) = module.bindings[name] {
            return entity(binding, at: location, in: module, depth: depth + 1)
        }
        for star in module.starImports {
            let source = modulePath(star, at: SourceLocation(file: module.file.source.path, line: 1, column: 1))
            let found = member(source, name, depth: depth + 1)
            if case .unbound = found { continue }
            return found
        }
        if module.file.isPackage, modules["\(module.name).\(name)"] != nil { return .module("\(module.name).\(name)") }
        return .unbound
    }

    private func entity(_ binding: PyBinding, at location: SourceLocation, in module: PyModule, depth: Int) -> Entity {
        switch binding {
        case .module(let path): return modulePath(path, at: location)
        case .from(let source, let name): return member(modulePath(source, at: location), name, depth: depth)
        case .cls(let cls): return .cls(cls)
        case .function: return .function
        case .other: return .value(.none, reason: "assigned at run time", location)
        case .value(let value):
            switch value {
            case .call(let path):
                let callee = resolve(path, in: module, depth: depth)
                if case .datajoint(let attribute) = callee {
                    if attribute == ["schema"] || attribute == ["Schema"] { return .schema }
                    if ["create_virtual_module", "VirtualModule", "virtual_schema"].contains(attribute.last ?? "") {
                        return .value(value, reason: "a virtual module created at run time", location)
                    }
                }
                if case .external(let path, _) = callee { return .external(path + "()", location) }
                return .value(value, reason: "the result of a call at run time", location)
            case .name(let path):
                return resolve(path, in: module, depth: depth)
            case .none:
                return .value(value, reason: "None here and assigned at run time", location)
            case .string:
                return .value(value, reason: "a string", location)
            case .runtime:
                return .value(value, reason: "computed at run time", location)
            }
        }
    }

    func member(_ entity: Entity, _ name: String, depth: Int = 0) -> Entity {
        switch entity {
        case .module(let path):
            if let module = modules[path] {
                let found = lookup(name, in: module, depth: depth + 1)
                if case .unbound = found {} else { return found }
            }
            let sub = path + "." + name
            if modules[sub] != nil || packagePrefixes.contains(sub) { return .module(sub) }
            return .unbound
        case .datajoint(let path): return .datajoint(path + [name])
        case .cls(let cls): return cls.nested.first { $0.name == name }.map { .cls($0) } ?? .unbound
        case .external(let path, let location): return .external(path + "." + name, location)
        case .value: return entity
        case .schema, .function, .unbound: return .unbound
        }
    }

    func resolve(_ path: [String], in module: PyModule, depth: Int = 0) -> Entity {
        var entity = lookup(path[0], in: module, depth: depth)
        for name in path.dropFirst() { entity = member(entity, name, depth: depth) }
        return entity
    }

    /// Resolves an absolute dotted path (a link's value): the longest prefix naming a module, then attributes.
    private func resolveAbsolute(_ path: [String]) -> Entity {
        for k in stride(from: path.count, through: 1, by: -1) {
            let prefix = path[..<k].joined(separator: ".")
            if modules[prefix] != nil || packagePrefixes.contains(prefix) {
                var entity = Entity.module(prefix)
                for name in path[k...] { entity = member(entity, name) }
                return entity
            }
        }
        return .unbound
    }

    // MARK: Tiers

    mutating func tier(of cls: PyClass, depth: Int = 0) -> TierResult {
        if let known = tierMemo[ObjectIdentifier(cls)] { return known }
        guard depth < 40, let module = modules[cls.module] else { return .none }
        var result = TierResult.none
        for base in cls.bases {
            guard let path = base.path else { continue }
            switch resolve(path, in: module) {
            case .datajoint(let attribute):
                if let tier = Self.tierNames[attribute.last ?? ""] { result = .tier(tier) }
                else if case .none = result {
                    result = .unknownBase(base.text, base.location, suggestion: Suggestions.closest(to: attribute.last ?? "", in: Self.tierNames.keys))
                }
            case .cls(let parent):
                let inherited = tier(of: parent, depth: depth + 1)
                if case .tier = inherited { result = inherited }
                else if case .none = result { result = inherited }
            case .external(let from, _):
                if case .none = result { result = .externalBase(base.text, from: from, base.location) }
            case .unbound:
                if path.count == 1 && Self.builtinBases.contains(path[0]) { continue }
                if case .none = result { result = .unknownBase(base.text, base.location, suggestion: nil) }
            default:
                if case .none = result { result = .unknownBase(base.text, base.location, suggestion: nil) }
            }
            if case .tier = result { break }
        }
        tierMemo[ObjectIdentifier(cls)] = result
        return result
    }

    // MARK: Tables

    private struct Found {
        var cls: PyClass
        var tier: Tier
        var parts: [PyClass]
    }

    private mutating func resolve() {
        // 1. Tables: classes decorated with a schema, with a tier; parts nested in them.
        var found: [Found] = []
        for module in order {
            var seen: [String: PyClass] = [:]
            for cls in module.classes {
                guard isSchemaDecorated(cls, in: module) else { continue }
                if let first = seen[cls.name] {
                    diagnostics.error("duplicate class '\(cls.name)' in module '\(module.name)'", at: cls.location,
                                      notes: ["first defined at line \(first.location.line)"])
                    continue
                }
                seen[cls.name] = cls
                switch tier(of: cls) {
                case .tier(.part):
                    diagnostics.error("part table '\(cls.name)' must be nested inside its master's class", at: cls.location)
                case .tier(let masterTier):
                    var parts: [PyClass] = []
                    for nested in cls.nested {
                        switch tier(of: nested) {
                        case .tier(.part): parts.append(nested)
                        case .unknownBase(let text, let location, let suggestion?):
                            diagnostics.error("unknown base class '\(text)' of '\(cls.name).\(nested.name)'; did you mean '\(text.split(separator: ".").dropLast().joined(separator: ".") + (text.contains(".") ? "." : ""))\(suggestion)'?", at: location)
                        default: break
                        }
                    }
                    found.append(Found(cls: cls, tier: masterTier, parts: parts))
                case .none:
                    diagnostics.error("'\(cls.name)' is decorated with a schema but has no DataJoint tier among its bases (dj.Manual, dj.Lookup, dj.Imported, dj.Computed)",
                                      at: cls.location)
                case .unknownBase(let text, let location, let suggestion):
                    let hint = suggestion.map { s in "; did you mean '\(text.split(separator: ".").dropLast().joined(separator: ".") + (text.contains(".") ? "." : ""))\(s)'?" } ?? ""
                    diagnostics.error("unknown base class '\(text)' of table '\(cls.name)': it is neither a DataJoint tier nor a class in the sources\(hint)",
                                      at: location)
                case .externalBase(let text, let from, let location):
                    diagnostics.error("cannot tell the tier of '\(cls.name)': its base '\(text)' comes from '\(from)', which is not among the sources; add that file to 'sources:'",
                                      at: location)
                }
            }
        }

        // 2. Pipeline names: the class name, qualified by its module where two modules define the same one.
        var byName: [String: [Found]] = [:]
        for table in found { byName[table.cls.name, default: []].append(table) }
        for table in found {
            var module = ""
            let colliding = byName[table.cls.name]!
            if colliding.count > 1 {
                let segments = colliding.map { $0.cls.module.split(separator: ".").map(String.init) }
                let mine = table.cls.module.split(separator: ".").map(String.init)
                for length in 1...max(1, mine.count) {
                    let suffix = mine.suffix(length)
                    let same = segments.filter { Array($0.suffix(length)) == Array(suffix) }.count
                    module = suffix.joined(separator: ".")
                    if same == 1 { break }
                }
            }
            let master = TableName(module: module, className: table.cls.name)
            tableNames[ObjectIdentifier(table.cls)] = master
            for part in table.parts {
                tableNames[ObjectIdentifier(part)] = TableName(module: module, className: table.cls.name, part: part.name)
            }
        }

        // 3. Definitions: references resolved like Python names, rewritten to pipeline names.
        for table in found {
            let master = tableNames[ObjectIdentifier(table.cls)]!
            var entry = makeTable(table.cls, name: master, tier: table.tier, master: nil)
            entry.parts = table.parts.map { tableNames[ObjectIdentifier($0)]! }
            tables.append(entry)
            for part in table.parts {
                tables.append(makeTable(part, name: tableNames[ObjectIdentifier(part)]!, tier: .part, master: table.cls))
            }
        }
    }

    private func isSchemaDecorated(_ cls: PyClass, in module: PyModule) -> Bool {
        cls.decorators.contains { decorator in
            guard let path = decorator.path else { return false }
            switch resolve(path, in: module) {
            case .schema, .external: return true
            case .value(.call, _, _): return true
            default: return false
            }
        }
    }

    /// The `definition` of a class, or of the first base class in the sources that has one.
    private func definitionSource(of cls: PyClass, depth: Int = 0) -> (value: PyValue, location: SourceLocation)? {
        if let definition = cls.definition { return definition }
        guard depth < 20, let module = modules[cls.module] else { return nil }
        for base in cls.bases {
            guard let path = base.path, case .cls(let parent) = resolve(path, in: module) else { continue }
            if let inherited = definitionSource(of: parent, depth: depth + 1) { return inherited }
        }
        return nil
    }

    private mutating func makeTable(_ cls: PyClass, name: TableName, tier: Tier, master: PyClass?) -> PythonTable {
        var table = PythonTable(name: name, tier: tier, module: cls.module, location: cls.location,
                                definition: nil, runtimeDefinition: nil, hasUnresolvedReferences: false, parts: [])
        let module = modules[cls.module]!
        guard let source = definitionSource(of: cls) else {
            table.runtimeDefinition = ("the class has no 'definition' attribute", cls.location)
            return table
        }
        var value = source.value
        if case .name(let path) = value {
            if case .value(.string(let text), _, _) = resolve(path, in: module) { value = .string(text) }
            else { value = .runtime("'\(path.joined(separator: "."))' is not a string literal in the sources", source.location) }
        }
        switch value {
        case .string(let text):
            var definition = Self.definition(text)
            var unresolved: [Int] = []
            for index in definition.references.indices {
                let reference = definition.references[index].name
                if let resolved = resolveReference(reference, from: cls, master: master, in: module, table: name) {
                    definition.references[index].name.value = resolved
                } else {
                    unresolved.append(index)  // already reported: keep the graph from reporting it again
                }
            }
            for index in unresolved.reversed() { definition.references.remove(at: index) }
            table.hasUnresolvedReferences = !unresolved.isEmpty
            table.definition = definition
        case .runtime(let reason, let location):
            table.runtimeDefinition = (reason, location)
        case .none, .call, .name:
            table.runtimeDefinition = ("it is not a string literal", source.location)
        }
        return table
    }

    /// Parses a decoded Python string with the `->` parser of YAML definitions; locations point into the file.
    static func definition(_ text: PythonLexer.DecodedString) -> Definition {
        var lineStarts = [0]
        for (k, c) in text.scalars.enumerated() where c == "\n" { lineStarts.append(k + 1) }
        return Definition(text: text.text) { line, offset in
            let k = (line < lineStarts.count ? lineStarts[line] : text.scalars.count) + offset
            if k < text.locations.count { return text.locations[k] }
            return text.locations.last ?? SourceLocation(file: "", line: 1, column: 1)
        }
    }

    /// The pipeline name a `->` reference means, or nil after reporting why it has none. References that
    /// only run time can resolve pass through as written (the graph resolves them against djflow.yaml).
    private mutating func resolveReference(_ reference: Located<String>, from cls: PyClass, master: PyClass?, in module: PyModule, table: TableName) -> String? {
        let segments = reference.value.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var entity: Entity
        var firstUnbound = false
        if let master, segments[0] == "master" || segments[0] == master.name {
            // DataJoint declares a part with `master` and the master's class name in its context.
            entity = .cls(master)
        } else if segments[0] == "master" {
            return reference.value  // the graph reports '-> master' outside a part
        } else {
            entity = lookup(segments[0], in: module)
            if case .unbound = entity { firstUnbound = true }
        }
        for name in segments.dropFirst() { entity = member(entity, name) }

        if case .cls(let target) = entity {
            if let name = tableNames[ObjectIdentifier(target)] { return name.description }
            diagnostics.error("'\(reference.value)' in the definition of '\(table)' is not a table: class '\(target.name)' is not decorated with a schema",
                              at: reference.location)
            return nil
        }
        // What only run time knows: a link may state it.
        for k in stride(from: segments.count, through: 1, by: -1) {
            let key = segments[..<k].joined(separator: ".")
            guard let link = links[key] else { continue }
            var linked = resolveAbsolute(link.value.split(separator: ".").map(String.init))
            for name in segments[k...] { linked = member(linked, name) }
            if case .cls(let target) = linked, let name = tableNames[ObjectIdentifier(target)] { return name.description }
            if case .cls(let target) = linked {
                diagnostics.error("link '\(key)' leads to class '\(target.name)', which is not a table", at: link.location)
                return nil
            }
            if case .unbound = linked, TableName(parsing: link.value) != nil {
                // A pipeline table declared in djflow.yaml.
                return ([link.value] + segments[k...]).joined(separator: ".")
            }
            diagnostics.error("link '\(key)': '\(link.value)' is neither a table in the sources nor a table name", at: link.location)
            return nil
        }
        let name = segments[0]
        switch entity {
        case .external(let path, let location):
            let from = path.split(separator: ".").dropLast(max(0, segments.count - 1)).joined(separator: ".")
            warnRuntime(reference, module: module,
                        "'\(reference.value)' comes from '\(from)' (imported at line \(location.line)), which is not among the sources; read as the pipeline table '\(reference.value)'",
                        table: table)
            return reference.value
        case .value(_, let reason, let location):
            warnRuntime(reference, module: module,
                        "'\(name)' is \(reason) (line \(location.line)); read '\(reference.value)' as a pipeline table name",
                        table: table)
            return reference.value
        case .unbound where firstUnbound:
            if let runtime = module.runtimeNames {
                warnRuntime(reference, module: module,
                            "'\(name)' is not defined in module '\(module.name)': it is supplied at run time ('\(runtime.what)' at line \(runtime.location.line)); read as the pipeline table '\(reference.value)'",
                            table: table)
                return reference.value
            }
            let candidates = Array(module.bindings.keys) + tableNames.values.map(\.description)
            diagnostics.error("name '\(name)' is not defined in module '\(module.name)' (in the definition of '\(table)')\(Suggestions.hint(for: reference.value, in: candidates))",
                              at: reference.location,
                              notes: ["if run time supplies it, map it under 'links:' (e.g. \(name): package.module.\(name))"])
            return nil
        case .unbound:
            let owner = segments.dropLast().joined(separator: ".")
            diagnostics.error("'\(reference.value)' in the definition of '\(table)' does not name a table: '\(owner)' has no '\(segments.last!)'",
                              at: reference.location)
            return nil
        default:
            diagnostics.error("'\(reference.value)' in the definition of '\(table)' is not a table", at: reference.location)
            return nil
        }
    }

    private mutating func warnRuntime(_ reference: Located<String>, module: PyModule, _ message: String, table: TableName) {
        let name = reference.value.split(separator: ".").first.map(String.init) ?? reference.value
        if !runtimeNames.contains(where: { $0.name == name && $0.module == module.name }) {
            runtimeNames.append(RuntimeName(name: name, module: module.name, location: reference.location))
        }
        diagnostics.warning(message, at: reference.location,
                            notes: ["state it in djflow.yaml: links: {\(name): package.module\(reference.value.contains(".") ? "" : ".\(name)")}"])
    }
}
