// Every module of a pipeline together: names resolved across modules, Elements activated, tables found.

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
    /// References read as tables outside the sources (names supplied at run time, imports from modules
    /// not among the sources): the graph takes them as staged tables when nothing else declares them.
    public var externalReferences: Set<String> = []
    /// For a master: its parts.
    public var parts: [TableName]
    /// Where the class, or a base class in the sources, sets `key_source` itself.
    public var customKeySource: SourceLocation?
}

/// A name in the sources that only run time supplies, as reported to the user and to `djflow import`.
public struct RuntimeName: Sendable {
    public var name: String
    public var module: String
    public var location: SourceLocation
    /// Used as a module (`ephys.Clustering`), so a link names a module.
    public var isModule = false
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
    /// Files left out for their syntax errors (reported), in the order given.
    public private(set) var skippedFiles: [String] = []

    private var modules: [String: PyModule] = [:]
    private var skippedModules: Set<String> = []
    /// The links in the order given, what each leads to, and whether a reference used it.
    private var linkList: [Link] = []
    private var linkTargets: [String: LinkTarget] = [:]
    private var usedLinks: Set<String> = []
    /// Tables declared only in djflow.yaml (a link may name one).
    private var yamlTables: [String] = []
    private var order: [PyModule] = []
    private var packagePrefixes: Set<String> = []
    private var tierMemo: [ObjectIdentifier: TierResult] = [:]
    /// Table classes: class → pipeline name.
    private var tableNames: [ObjectIdentifier: TableName] = [:]

    enum LinkTarget {
        case entity(Entity)
        /// A table declared in djflow.yaml, or a pipeline table name of the sources.
        case tableName(String)
        /// Reported when the links were checked.
        case invalid
    }

    /// Reads and resolves `files` (already read by the caller: the library does no I/O).
    /// - Parameters:
    ///   - links: names only run time supplies, mapped to what they stand for (`links:`).
    ///   - yamlTables: tables declared only in djflow.yaml (with a `tier:`), which a link may name.
    public static func read(_ files: [PythonFile], links: [Link] = [], yamlTables: [String] = []) -> PythonProgram {
        var program = PythonProgram()
        program.linkList = links
        program.yamlTables = yamlTables
        for file in files {
            let (module, diagnostics) = PythonModuleReader.read(file)
            program.diagnostics.append(contentsOf: diagnostics)
            if module.hasSyntaxErrors {
                // An error for that file only: the rest of the sources are still read.
                program.skippedFiles.append(file.source.path)
                program.skippedModules.insert(module.name)
                continue
            }
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
        /// A string built from pieces (a module constant or class attribute), with the module it is written in.
        case expression(PyValue, PyModule, SourceLocation)
        /// A name a module of the sources only receives at run time (`spawn_missing_classes`,
        /// `add_objects=`, `linking_module`): the module, how, and where.
        case runtime(module: String, what: String, SourceLocation)
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
        if modules[path] != nil { return .module(path) }
        if skippedModules.contains(path) { return .external(path, location) }
        if packagePrefixes.contains(path) { return .module(path) }
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
                let target = resolve(path, in: module, depth: depth)
                if case .unbound = target {
                    // `Session = linking_module.Session`: a value the sources do not define.
                    return .value(value, reason: "assigned from '\(path.joined(separator: "."))', which the sources do not define", location)
                }
                return target
            case .none:
                return .value(value, reason: "None here and assigned at run time", location)
            case .string, .concat:
                return .expression(value, module, location)
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
            if modules[sub] != nil || (packagePrefixes.contains(sub) && !skippedModules.contains(sub)) { return .module(sub) }
            if skippedModules.contains(sub) { return .external(sub, SourceLocation(file: path, line: 1, column: 1)) }
            if let module = modules[path], let runtime = module.runtimeNames {
                return .runtime(module: path, what: runtime.what, runtime.location)
            }
            return .unbound
        case .datajoint(let path): return .datajoint(path + [name])
        case .cls(let cls): return classMember(cls, name, depth: depth)
        case .external(let path, let location): return .external(path + "." + name, location)
        case .value, .runtime: return entity
        case .schema, .function, .expression, .unbound: return .unbound
        }
    }

    /// A class's nested class or attribute, its own first, then its bases' (in the sources).
    func classMember(_ cls: PyClass, _ name: String, depth: Int = 0) -> Entity {
        guard depth < 40 else { return .unbound }
        if let nested = cls.nested.first(where: { $0.name == name }) { return .cls(nested) }
        if let attribute = cls.attributes[name], let module = modules[cls.module] {
            return entity(.value(attribute.value), at: attribute.location, in: module, depth: depth + 1)
        }
        for base in baseClasses(cls) {
            let found = classMember(base, name, depth: depth + 1)
            if case .unbound = found { continue }
            return found
        }
        return .unbound
    }

    /// The base classes of `cls` that are classes of the sources, in order.
    func baseClasses(_ cls: PyClass) -> [PyClass] {
        guard let module = modules[cls.module] else { return [] }
        return cls.bases.compactMap { base in
            guard let path = base.path, case .cls(let parent) = resolve(path, in: module), parent !== cls else { return nil }
            return parent
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

    /// What a class decorator is: a DataJoint schema, something that may be one (imported from outside the
    /// sources, the result of a call, assigned at run time), or clearly not one.
    enum DecoratorKind { case schema, maybe, none }

    /// Modules whose decorators are never schemas.
    static let nonSchemaModules: Set<String> = ["dataclasses", "functools", "typing", "typing_extensions", "abc", "enum",
                                                "contextlib", "attr", "attrs", "pydantic", "numba", "six", "warnings",
                                                "deprecated", "deprecation", "builtins", "atexit", "unittest", "pytest"]

    private func decoratorKind(_ cls: PyClass, in module: PyModule) -> DecoratorKind {
        var kind = DecoratorKind.none
        for decorator in cls.decorators {
            guard let path = decorator.path else { continue }
            switch resolve(path, in: module) {
            case .schema: return .schema
            case .external(let from, _):
                let top = String(from.split(separator: ".").first ?? "")
                if !Self.nonSchemaModules.contains(top) { kind = .maybe }
            case .value(.call, _, _), .value(.none, _, _), .runtime: kind = .maybe
            default: break
            }
        }
        return kind
    }

    private mutating func resolve() {
        // 1. Tables: classes with a DataJoint tier decorated with something that is (or may be) a schema;
        //    parts nested in them or inherited from their base classes.
        var found: [Found] = []
        for module in order {
            var seen: [String: PyClass] = [:]
            for cls in module.classes {
                let decorator = decoratorKind(cls, in: module)
                guard decorator != .none else { continue }
                let tier = tier(of: cls)
                if case .tier(let t) = tier, t != .part, decorator == .schema || decorator == .maybe {
                    if let first = seen[cls.name] {
                        diagnostics.error("duplicate class '\(cls.name)' in module '\(module.name)'", at: cls.location,
                                          notes: ["first defined at line \(first.location.line)"])
                        continue
                    }
                    seen[cls.name] = cls
                }
                switch tier {
                case .tier(.part):
                    if decorator == .schema {
                        diagnostics.error("part table '\(cls.name)' must be nested inside its master's class", at: cls.location)
                    }
                case .tier(let masterTier):
                    guard seen[cls.name] === cls else { continue }
                    found.append(Found(cls: cls, tier: masterTier, parts: parts(of: cls)))
                case .none:
                    if decorator == .schema {
                        diagnostics.append(Diagnostic(.note, "'\(cls.name)' is decorated with a schema but has no DataJoint tier among its bases (dj.Manual, dj.Lookup, dj.Imported, dj.Computed): it is not read as a table",
                                                      at: cls.location))
                    }
                case .unknownBase(let text, let location, let suggestion):
                    // A typo of a DataJoint tier is an error whatever the decorator; other unknown bases only
                    // under a decorator that is surely a schema.
                    guard decorator == .schema || suggestion != nil else { continue }
                    let hint = suggestion.map { s in "; did you mean '\(text.split(separator: ".").dropLast().joined(separator: ".") + (text.contains(".") ? "." : ""))\(s)'?" } ?? ""
                    diagnostics.error("unknown base class '\(text)' of table '\(cls.name)': it is neither a DataJoint tier nor a class in the sources\(hint)",
                                      at: location)
                case .externalBase(let text, let from, let location):
                    if decorator == .schema {
                        diagnostics.error("cannot tell the tier of '\(cls.name)': its base '\(text)' comes from '\(from)', which is not among the sources; add that file to 'sources:'",
                                          at: location)
                    } else {
                        diagnostics.warning("'\(cls.name)' is not read as a table: its decorator and its base '\(text)' come from outside the sources ('\(from)'); add those files to 'sources:' if it is one",
                                            at: location)
                    }
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

        checkLinks()

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

        for link in linkList where !usedLinks.contains(link.key.value) {
            if case .invalid = linkTargets[link.key.value] { continue }
            diagnostics.warning("link '\(link.key.value)' is not used: no reference in the sources leaves '\(link.key.value)' to run time",
                                at: link.key.location, notes: ["links apply only to names the sources do not define themselves"])
        }
    }

    /// The parts of a master: its nested `dj.Part` classes, then those of its base classes in the sources
    /// that it does not redefine (DataJoint finds inherited parts too). Inherited ones become copies owned
    /// by this master, so each master has its own.
    private mutating func parts(of cls: PyClass) -> [PyClass] {
        var parts: [PyClass] = []
        for nested in cls.nested {
            switch tier(of: nested) {
            case .tier(.part): parts.append(nested)
            case .unknownBase(let text, let location, let suggestion?):
                diagnostics.error("unknown base class '\(text)' of '\(cls.name).\(nested.name)'; did you mean '\(text.split(separator: ".").dropLast().joined(separator: ".") + (text.contains(".") ? "." : ""))\(suggestion)'?", at: location)
            default: break
            }
        }
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(cls)]
        var queue = baseClasses(cls)
        while !queue.isEmpty {
            let base = queue.removeFirst()
            guard visited.insert(ObjectIdentifier(base)).inserted, visited.count < 40 else { continue }
            for nested in base.nested where !cls.nested.contains(where: { $0.name == nested.name }) {
                guard case .tier(.part) = tier(of: nested) else { continue }
                let copy = PyClass(name: nested.name, location: nested.location, module: nested.module)
                copy.bases = nested.bases
                copy.definition = nested.definition
                copy.attributes = nested.attributes
                copy.nested = nested.nested
                copy.outer = cls
                copy.inheritedFrom = nested
                cls.nested.append(copy)
                parts.append(copy)
            }
            queue += baseClasses(base)
        }
        return parts
    }

    /// Where the class, or the nearest base class in the sources, sets `key_source` (an assignment or a
    /// property).
    private func keySourceLocation(of cls: PyClass, depth: Int = 0) -> SourceLocation? {
        if let written = cls.attributes["key_source"] { return written.location }
        guard depth < 20 else { return nil }
        for parent in baseClasses(cls) {
            if let inherited = keySourceLocation(of: parent, depth: depth + 1) { return inherited }
        }
        return nil
    }

    /// The `definition` of a class, or of the first base class in the sources that has one, with the class
    /// it is written in.
    private func definitionSource(of cls: PyClass, depth: Int = 0) -> (value: PyValue, location: SourceLocation, owner: PyClass)? {
        if let definition = cls.definition { return (definition.value, definition.location, cls) }
        guard depth < 20 else { return nil }
        for parent in baseClasses(cls) {
            if let inherited = definitionSource(of: parent, depth: depth + 1) { return inherited }
        }
        return nil
    }

    // MARK: Definitions built from pieces

    /// A string read statically (with the pipeline names that f-string fields put into it), or why not.
    enum Text {
        case text(PythonLexer.DecodedString, resolved: [String: String])
        case runtime(String, SourceLocation)
    }

    /// Evaluates a string expression written in `module` (inside class `owner`, for `super()`), with
    /// `self` standing for the table class `selfClass`.
    private func evaluate(_ value: PyValue, at location: SourceLocation, module: PyModule, owner: PyClass?, selfClass: PyClass?, depth: Int = 0) -> Text {
        guard depth < 30 else { return .runtime("it is built from itself", location) }
        switch value {
        case .string(let text): return .text(text, resolved: [:])
        case .runtime(let reason, let location): return .runtime(reason, location)
        case .none: return .runtime("it is None", location)
        case .call: return .runtime("the result of a call is known at run time", location)
        case .name(let path):
            return piece(.name(path, location), module: module, owner: owner, selfClass: selfClass, depth: depth)
        case .concat(let pieces):
            var out = PythonLexer.DecodedString()
            var resolved: [String: String] = [:]
            for p in pieces {
                switch piece(p, module: module, owner: owner, selfClass: selfClass, depth: depth) {
                case .runtime(let reason, let location): return .runtime(reason, location)
                case .text(let text, let more):
                    out.scalars += text.scalars
                    out.locations += text.locations
                    resolved.merge(more) { a, _ in a }
                }
            }
            return .text(out, resolved: resolved)
        }
    }

    private func piece(_ piece: PyPiece, module: PyModule, owner: PyClass?, selfClass: PyClass?, depth: Int) -> Text {
        switch piece {
        case .string(let text):
            return .text(text, resolved: [:])
        case .superAttribute(let name, let at):
            guard let owner else { return .runtime("'super()' outside a class", at) }
            for base in baseClasses(owner) {
                if name == "definition", let source = definitionSource(of: base), let written = modules[source.owner.module] {
                    return evaluate(source.value, at: source.location, module: written, owner: source.owner, selfClass: selfClass, depth: depth + 1)
                }
                let found = classMember(base, name)
                if case .unbound = found { continue }
                return text(of: found, named: "super().\(name)", at: at, selfClass: selfClass, depth: depth)
            }
            return .runtime("'super().\(name)' is not found in the base classes in the sources", at)
        case .name(let path, let at):
            if path.count >= 2, path.last == "definition" {
                if case .cls(let cls) = expressionEntity(Array(path.dropLast()), in: module, selfClass: selfClass),
                   let source = definitionSource(of: cls), let written = modules[source.owner.module] {
                    return evaluate(source.value, at: source.location, module: written, owner: source.owner, selfClass: selfClass, depth: depth + 1)
                }
                return .runtime("'\(path.joined(separator: "."))' is not a definition in the sources", at)
            }
            return text(of: expressionEntity(path, in: module, selfClass: selfClass), named: path.joined(separator: "."), at: at, selfClass: selfClass, depth: depth)
        case .interpolation(let path, let expression, let at):
            let why = "an f-string that interpolates values known only at run time"
            guard var path else { return .runtime("\(why) ('{\(expression)}')", at) }
            let nameOf = path.count > 1 && path.last == "__name__"
            if nameOf { path.removeLast() }
            let entity = expressionEntity(path, in: module, selfClass: selfClass)
            if case .cls(let cls) = entity {
                if nameOf { return .text(Self.synthesized(cls.name, at: at), resolved: [:]) }
                if let table = tableNames[ObjectIdentifier(cls)] {
                    return .text(Self.synthesized(table.description, at: at), resolved: [table.description: table.description])
                }
            }
            switch text(of: entity, named: path.joined(separator: "."), at: at, selfClass: selfClass, depth: depth) {
            case .text(let text, let resolved): return .text(text, resolved: resolved)
            case .runtime(let reason, _): return .runtime("\(why) ('{\(expression)}': \(reason))", at)
            }
        }
    }

    /// The string an entity holds, when it is one the sources spell out.
    private func text(of entity: Entity, named name: String, at: SourceLocation, selfClass: PyClass?, depth: Int) -> Text {
        switch entity {
        case .expression(let value, let module, let location):
            return evaluate(value, at: location, module: module, owner: nil, selfClass: selfClass, depth: depth + 1)
        case .value(_, let reason, let location):
            return .runtime("'\(name)' is \(reason) (\(location.file == at.file ? "line \(location.line)" : "\(location)"))", at)
        case .cls:
            return .runtime("'\(name)' is a class, not a string", at)
        case .external(let path, _):
            return .runtime("'\(name)' comes from '\(path)', which is not among the sources", at)
        default:
            return .runtime("'\(name)' is not a string in the sources", at)
        }
    }

    /// A dotted name in an expression: `self`/`cls` are the table class.
    private func expressionEntity(_ path: [String], in module: PyModule, selfClass: PyClass?) -> Entity {
        guard let first = path.first else { return .unbound }
        var entity: Entity
        if (first == "self" || first == "cls"), let selfClass { entity = .cls(selfClass) } else { entity = lookup(first, in: module) }
        for name in path.dropFirst() { entity = member(entity, name) }
        return entity
    }

    /// Text an f-string field puts in, located at its `{`.
    private static func synthesized(_ text: String, at location: SourceLocation) -> PythonLexer.DecodedString {
        let scalars = Array(text.unicodeScalars)
        return PythonLexer.DecodedString(scalars: scalars, locations: Array(repeating: location, count: scalars.count))
    }

    private mutating func makeTable(_ cls: PyClass, name: TableName, tier: Tier, master: PyClass?) -> PythonTable {
        var table = PythonTable(name: name, tier: tier, module: (master ?? cls).module, location: cls.location,
                                definition: nil, runtimeDefinition: nil, hasUnresolvedReferences: false, externalReferences: [], parts: [])
        if master == nil { table.customKeySource = keySourceLocation(of: cls) }
        // DataJoint resolves `->` in the context of the module that declares the table.
        let context = modules[(master ?? cls).module]!
        guard let source = definitionSource(of: cls), let written = modules[source.owner.module] else {
            table.runtimeDefinition = ("the class has no 'definition' attribute", cls.location)
            return table
        }
        switch evaluate(source.value, at: source.location, module: written, owner: source.owner, selfClass: cls) {
        case .text(let text, let resolved):
            var definition = Self.definition(text)
            for diagnostic in definition.diagnostics { diagnostics.append(diagnostic) }
            var unresolved: [Int] = []
            for index in definition.references.indices {
                let reference = definition.references[index].name
                if let known = resolved[reference.value] {
                    definition.references[index].name.value = known
                } else if let result = resolveReference(reference, from: cls, master: master, in: context, table: name) {
                    definition.references[index].name.value = result.name
                    if result.external { table.externalReferences.insert(result.name) }
                } else {
                    unresolved.append(index)  // already reported: keep the graph from reporting it again
                }
            }
            for index in unresolved.reversed() { definition.references.remove(at: index) }
            table.hasUnresolvedReferences = !unresolved.isEmpty || !definition.diagnostics.isEmpty
            table.definition = definition
        case .runtime(let reason, let location):
            table.runtimeDefinition = (reason, location)
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

    // MARK: Links

    /// Checks every link once: it must lead to a module or table class of the sources, or name a table.
    private mutating func checkLinks() {
        var candidates: [String]?
        for link in linkList {
            let value = link.value.value
            let entity = resolveAbsolute(value.split(separator: ".").map(String.init))
            switch entity {
            case .module, .runtime:
                linkTargets[link.key.value] = .entity(entity)
                continue
            case .cls(let target) where tableNames[ObjectIdentifier(target)] != nil:
                linkTargets[link.key.value] = .entity(entity)
                continue
            case .cls(let target):
                diagnostics.error("link '\(link.key.value)': '\(value)' is class '\(target.name)', which is not a table (no DataJoint tier or no schema decorator)",
                                  at: link.value.location)
                linkTargets[link.key.value] = .invalid
                continue
            default: break
            }
            let tableNamesKnown = Set(tableNames.values.map(\.description))
            if TableName(parsing: value) != nil, yamlTables.contains(value) || tableNamesKnown.contains(value) {
                linkTargets[link.key.value] = .tableName(value)
                continue
            }
            if candidates == nil {
                var names = Set(modules.keys).union(packagePrefixes).union(tableNamesKnown).union(yamlTables)
                for (id, name) in tableNames {
                    _ = id
                    names.insert(name.description)
                }
                for module in order {
                    for cls in module.classes where tableNames[ObjectIdentifier(cls)] != nil {
                        names.insert("\(module.name).\(cls.name)")
                        for part in cls.nested where tableNames[ObjectIdentifier(part)] != nil { names.insert("\(module.name).\(cls.name).\(part.name)") }
                    }
                }
                candidates = names.sorted()
            }
            diagnostics.error("link '\(link.key.value)': '\(value)' is neither a module nor a table of the sources, nor a table of djflow.yaml\(Suggestions.hint(for: value, in: candidates!))",
                              at: link.value.location)
            linkTargets[link.key.value] = .invalid
        }
    }

    /// The table a linked reference leads to: `segments[k...]` are looked up in the link's target.
    private mutating func linked(_ key: String, rest: ArraySlice<String>, reference: Located<String>) -> (name: String, external: Bool)?? {
        guard let target = linkTargets[key] else { return .none }
        usedLinks.insert(key)
        switch target {
        case .invalid: return .some(nil)
        case .tableName(let name): return .some(((([name] + rest).joined(separator: ".")), false))
        case .entity(let entity):
            var found = entity
            for name in rest { found = member(found, name) }
            if case .cls(let target) = found, let name = tableNames[ObjectIdentifier(target)] { return .some((name.description, false)) }
            let link = linkList.first { $0.key.value == key }!
            diagnostics.error("'\(reference.value)' does not name a table through link '\(key)': '\(([link.value.value] + rest).joined(separator: "."))' is not a table of the sources",
                              at: reference.location, notes: ["the link is at \(link.value.location)"])
            return .some(nil)
        }
    }

    // MARK: References

    /// The pipeline name a `->` reference means (and whether it is a table outside the sources), or nil
    /// after reporting why it has none. References that only run time can resolve pass through as written
    /// (the graph resolves them against djflow.yaml, or takes them as staged tables outside the pipeline).
    private mutating func resolveReference(_ reference: Located<String>, from cls: PyClass, master: PyClass?, in module: PyModule, table: TableName) -> (name: String, external: Bool)? {
        let segments = reference.value.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var entity: Entity
        var firstUnbound = false
        if let master, segments[0] == "master" || segments[0] == master.name {
            // DataJoint declares a part with `master` and the master's class name in its context.
            entity = .cls(master)
        } else if segments[0] == "master" {
            return (reference.value, false)  // the graph reports '-> master' outside a part
        } else if segments[0] == "self" {
            entity = .cls(cls)  // DataJoint puts the class being declared in the context as `self`
        } else {
            entity = lookup(segments[0], in: module)
            if case .unbound = entity { firstUnbound = true }
        }
        for name in segments.dropFirst() { entity = member(entity, name) }

        if case .cls(let target) = entity {
            if let name = tableNames[ObjectIdentifier(target)] { return (name.description, false) }
            diagnostics.error("'\(reference.value)' in the definition of '\(table)' is not a table: class '\(target.name)' is not decorated with a schema",
                              at: reference.location)
            return nil
        }
        // What only run time knows: a link may state it.
        for k in stride(from: segments.count, through: 1, by: -1) {
            if let result = linked(segments[..<k].joined(separator: "."), rest: segments[k...], reference: reference) { return result }
        }
        let name = segments[0]
        switch entity {
        case .external(let path, let location):
            let from = path.split(separator: ".").dropLast(max(0, segments.count - 1)).joined(separator: ".")
            let why = skippedModules.contains(from) ? "which was skipped for its syntax errors" : "which is not among the sources"
            warnRuntime(reference, module: module,
                        "'\(reference.value)' comes from '\(from)' (imported at line \(location.line)), \(why); read as the pipeline table '\(reference.value)'",
                        table: table)
            return (reference.value, true)
        case .runtime(let owner, let what, let location):
            let here = owner == module.name ? "" : " there"
            warnRuntime(reference, module: module,
                        "'\(reference.value)' is not defined in module '\(owner)': it is supplied\(here) at run time ('\(what)' at \(owner == module.name ? "line \(location.line)" : "\(location)")); read as the pipeline table '\(reference.value)'",
                        table: table)
            return (reference.value, true)
        case .value(_, let reason, let location):
            warnRuntime(reference, module: module,
                        "'\(name)' is \(reason) (line \(location.line)); read '\(reference.value)' as a pipeline table name",
                        table: table)
            return (reference.value, true)
        case .expression(_, _, let location):
            warnRuntime(reference, module: module,
                        "'\(name)' is a string (line \(location.line)); read '\(reference.value)' as a pipeline table name",
                        table: table)
            return (reference.value, true)
        case .unbound where firstUnbound:
            if let runtime = module.runtimeNames {
                warnRuntime(reference, module: module,
                            "'\(name)' is not defined in module '\(module.name)': it is supplied at run time ('\(runtime.what)' at line \(runtime.location.line)); read as the pipeline table '\(reference.value)'",
                            table: table)
                return (reference.value, true)
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
        let qualified = reference.value.contains(".")
        if !runtimeNames.contains(where: { $0.name == name && $0.module == module.name }) {
            runtimeNames.append(RuntimeName(name: name, module: module.name, location: reference.location, isModule: qualified))
        }
        diagnostics.warning(message, at: reference.location,
                            notes: ["state it in djflow.yaml: links: {\(name): package.module\(qualified ? "" : ".\(name)")}, or leave it: it is read as a table outside the pipeline"])
    }
}
