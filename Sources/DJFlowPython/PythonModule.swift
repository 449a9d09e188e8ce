// One Python module read statically: imports, classes, assignments and calls that define tables.

import DJFlowCore

/// A Python source file with its import path, as the CLI found it.
public struct PythonFile: Sendable {
    public var source: SourceFile
    /// The import path (`element_array_ephys.ephys_acute`, `ephys_pipeline`).
    public var module: String
    /// True for a package's `__init__.py` (relative imports resolve from the package itself).
    public var isPackage: Bool

    public init(source: SourceFile, module: String, isPackage: Bool = false) {
        self.source = source; self.module = module; self.isPackage = isPackage
    }
}

extension PythonFile {
    /// The files with distinct module names: files that would share one (`a/x.py` and `b/x.py`, both `x`)
    /// are named by as much of their folder path as tells them apart (`a.x`, `b.x`), with a warning.
    public static func uniquelyNamed(_ files: [PythonFile], diagnostics: inout Diagnostics) -> [PythonFile] {
        var byModule: [String: [Int]] = [:]
        for (index, file) in files.enumerated() { byModule[file.module, default: []].append(index) }
        var out = files
        for (module, indices) in byModule.sorted(by: { $0.key < $1.key }) where indices.count > 1 {
            let paths = indices.map { index -> [String] in
                var segments = files[index].source.path.split(separator: "/").map(String.init).filter { $0 != "." && $0 != ".." }
                if let last = segments.last { segments[segments.count - 1] = String(last.dropLast(last.hasSuffix(".py") ? 3 : 0)) }
                if segments.last == "__init__" { segments.removeLast() }
                return segments
            }
            let depth = module.split(separator: ".").count
            var length = depth + 1
            let longest = paths.map(\.count).max() ?? 0
            while length < longest && Set(paths.map { $0.suffix(length) }).count < paths.count { length += 1 }
            for (k, index) in indices.enumerated() {
                let name = paths[k].suffix(max(length, depth)).joined(separator: ".")
                out[index].module = name
            }
            let names = indices.map { "'\(out[$0].module)' (\(files[$0].source.path))" }.joined(separator: ", ")
            for index in indices.dropFirst() {
                diagnostics.warning("module name '\(module)' is given by \(indices.count) files: they are named \(names)",
                                    at: SourceLocation(file: files[index].source.path, line: 1, column: 1),
                                    notes: ["a table's runner imports its module by this name; give each folder its own root or package"])
            }
        }
        return out
    }
}

/// One operand of a string built from pieces (`Base.definition + "..."`, `f"-> {self.table}"`).
enum PyPiece {
    case string(PythonLexer.DecodedString)
    /// A dotted name: a module constant, `Base.definition`, `self.userinfo_table`.
    case name([String], SourceLocation)
    /// `super().attribute`.
    case superAttribute(String, SourceLocation)
    /// An f-string field: its dotted path (`UPSTREAM`, `self.table`, `Table.__name__`), nil when it is not
    /// a plain name; the expression as written; the location of its `{`.
    case interpolation([String]?, String, SourceLocation)
}

/// What a right-hand side is, as far as a static reader can tell.
enum PyValue {
    case string(PythonLexer.DecodedString)
    /// A dotted name (`dj.Manual`, `SCHEMA_DEFINITION`).
    case name([String])
    /// A call of a dotted name (`dj.Schema("s")`, `dj.create_virtual_module("m", "s")`).
    case call([String])
    case none
    /// Built at run time: why, and where.
    case runtime(String, SourceLocation)
    /// A string joined from pieces that name other values (`+`, implicit concatenation, f-string fields):
    /// the program resolves the names.
    case concat([PyPiece])
}

/// A class statement: its bases, decorators, nested classes and `definition`.
final class PyClass {
    let name: String
    let location: SourceLocation
    let module: String
    /// Dotted decorator names; nil for a decorator that is not a plain (dotted) name.
    var decorators: [(path: [String]?, location: SourceLocation)] = []
    /// Dotted base names; nil for bases that are expressions (`Generic[T]`).
    var bases: [(path: [String]?, location: SourceLocation, text: String)] = []
    var nested: [PyClass] = []
    weak var outer: PyClass?
    var definition: (value: PyValue, location: SourceLocation)?
    /// Class attributes (`userinfo_table = UserInfo`) and properties with a readable `return`.
    var attributes: [String: (value: PyValue, location: SourceLocation)] = [:]
    /// For a part inherited from a base class's nested class: that class (its definition and bases are copied).
    var inheritedFrom: PyClass?

    init(name: String, location: SourceLocation, module: String) {
        self.name = name; self.location = location; self.module = module
    }

    var path: [String] { (outer?.path ?? []) + [name] }
}

/// What a module-level name is bound to.
enum PyBinding {
    /// `import a.b as c` binds `c` to `a.b`; `import a.b` binds `a` to `a`.
    case module(String)
    /// `from m import n` (m absolute after resolving dots).
    case from(module: String, name: String)
    case cls(PyClass)
    case value(PyValue)
    case function
    case other
}

/// One parsed module: its bindings, its classes in order, and what the static reader cannot see.
final class PyModule {
    let file: PythonFile
    var name: String { file.module }
    var bindings: [String: (binding: PyBinding, location: SourceLocation)] = [:]
    /// Top-level classes in file order.
    var classes: [PyClass] = []
    /// Modules star-imported (`from m import *`), absolute.
    var starImports: [String] = []
    /// Where the module receives names at run time (`add_objects=`, `linking_module`, `spawn_missing_classes`).
    var runtimeNames: (what: String, location: SourceLocation)?
    var hasSyntaxErrors = false

    init(file: PythonFile) { self.file = file }

    /// The package relative imports start from.
    var package: [String] {
        let parts = name.split(separator: ".").map(String.init)
        return file.isPackage ? parts : Array(parts.dropLast())
    }
}

/// Reads one Python file into a `PyModule`: tokens → statement tree → bindings and classes.
struct PythonModuleReader {
    let lexer: PythonLexer
    let tokens: [PyToken]
    let module: PyModule
    var diagnostics = Diagnostics()
    /// For each opening bracket token, the index of the bracket that closes it (by count, as
    /// `matching` always did), or -1: found once, so nested brackets cost linear time, not quadratic.
    private let closers: [Int]

    init(lexer: PythonLexer, tokens: [PyToken], module: PyModule) {
        self.lexer = lexer
        self.tokens = tokens
        self.module = module
        var closers = [Int](repeating: -1, count: tokens.count)
        var open: [Int] = []
        for (index, token) in tokens.enumerated() where token.kind == .op {
            switch token.text {
            case "(", "[", "{": open.append(index)
            case ")", "]", "}": if let start = open.popLast() { closers[start] = index }
            default: break
            }
        }
        self.closers = closers
    }

    static func read(_ file: PythonFile) -> (PyModule, Diagnostics) {
        var lexer = PythonLexer(file.source)
        lexer.run()
        var parser = PythonParser(lexer: lexer)
        let statements = parser.parseModule()
        var reader = PythonModuleReader(lexer: lexer, tokens: lexer.tokens, module: PyModule(file: file))
        reader.diagnostics.append(contentsOf: lexer.diagnostics)
        reader.diagnostics.append(contentsOf: parser.diagnostics)
        reader.module.hasSyntaxErrors = reader.diagnostics.hasErrors
        for statement in statements { reader.moduleStatement(statement) }
        for token in lexer.tokens where token.kind == .name {
            if ["add_objects", "linking_module", "spawn_missing_classes"].contains(token.text) {
                reader.module.runtimeNames = (token.text, reader.location(token))
                break
            }
        }
        return (reader.module, reader.diagnostics)
    }

    func location(_ token: PyToken) -> SourceLocation {
        SourceLocation(file: lexer.source.path, line: token.line, column: token.column)
    }
    func location(at index: Int) -> SourceLocation { location(tokens[min(index, tokens.count - 1)]) }

    private func isName(_ index: Int, _ word: String) -> Bool {
        tokens[index].kind == .name && tokens[index].text == word
    }
    private func isOp(_ index: Int, _ text: String) -> Bool {
        tokens[index].kind == .op && tokens[index].text == text
    }

    // MARK: Statements

    private mutating func moduleStatement(_ statement: PyStatement) {
        let range = statement.tokens
        guard !range.isEmpty else { return }
        let head = tokens[range.lowerBound]
        guard head.kind == .name else { return }
        switch head.text {
        case "import": importStatement(range)
        case "from": fromImport(range)
        case "class":
            if let cls = classStatement(statement, outer: nil) {
                module.classes.append(cls)
                bind(cls.name, .cls(cls), at: cls.location)
            }
        case "def", "async":
            let nameIndex = range.lowerBound + (head.text == "async" ? 2 : 1)
            if nameIndex < range.upperBound, tokens[nameIndex].kind == .name {
                bind(tokens[nameIndex].text, .function, at: location(at: nameIndex))
            }
        case "if", "elif", "else", "try", "except", "finally", "with", "for", "while":
            // Names bound in module-level blocks are module names too.
            for inner in statement.body { moduleStatement(inner) }
        default:
            assignment(range)
        }
    }

    private mutating func bind(_ name: String, _ binding: PyBinding, at location: SourceLocation) {
        module.bindings[name] = (binding, location)
    }

    /// `import a.b.c`, `import a.b as c, d`.
    private mutating func importStatement(_ range: Range<Int>) {
        for item in commaSeparated(range.lowerBound + 1..<range.upperBound) {
            var j = item.lowerBound
            var path: [String] = []
            while j < item.upperBound, tokens[j].kind == .name, tokens[j].text != "as" {
                path.append(tokens[j].text)
                j += 1
                if j < item.upperBound, isOp(j, ".") { j += 1 } else { break }
            }
            guard !path.isEmpty else {
                diagnostics.error("invalid syntax: expected a module name after 'import'", at: location(at: item.lowerBound))
                continue
            }
            if j < item.upperBound, isName(j, "as") {
                guard j + 1 < item.upperBound, tokens[j + 1].kind == .name else {
                    diagnostics.error("invalid syntax: expected a name after 'as'", at: location(at: j + 1))
                    continue
                }
                bind(tokens[j + 1].text, .module(path.joined(separator: ".")), at: location(at: j + 1))
            } else {
                bind(path[0], .module(path[0]), at: location(at: item.lowerBound))
            }
        }
    }

    /// `from m import a as b, c`, `from . import x`, `from ..pkg import (y, z)`, `from m import *`.
    private mutating func fromImport(_ range: Range<Int>) {
        var j = range.lowerBound + 1
        var dots = 0
        while j < range.upperBound, tokens[j].kind == .op, tokens[j].text == "." || tokens[j].text == "..." {
            dots += tokens[j].text.count
            j += 1
        }
        var path: [String] = []
        while j < range.upperBound, tokens[j].kind == .name, tokens[j].text != "import" {
            path.append(tokens[j].text)
            j += 1
            if j < range.upperBound, isOp(j, ".") { j += 1 } else { break }
        }
        guard j < range.upperBound, isName(j, "import"), dots > 0 || !path.isEmpty else {
            diagnostics.error("invalid syntax: expected 'from MODULE import NAMES'", at: location(at: min(j, range.upperBound)))
            return
        }
        var base: [String]
        if dots > 0 {
            base = module.package
            if dots > 1 {
                guard base.count >= dots - 1 else {
                    diagnostics.error("attempted relative import beyond the top-level package", at: location(at: range.lowerBound + 1))
                    return
                }
                base.removeLast(dots - 1)
            }
            base += path
        } else {
            base = path
        }
        let source = base.joined(separator: ".")
        var names = j + 1..<range.upperBound
        if !names.isEmpty, isOp(names.lowerBound, "("), isOp(names.upperBound - 1, ")") {
            names = names.lowerBound + 1..<names.upperBound - 1
        }
        if names.count == 1, isOp(names.lowerBound, "*") {
            module.starImports.append(source)
            return
        }
        for item in commaSeparated(names) where !item.isEmpty {
            guard tokens[item.lowerBound].kind == .name else {
                diagnostics.error("invalid syntax: expected a name to import", at: location(at: item.lowerBound))
                continue
            }
            let name = tokens[item.lowerBound].text
            var alias = name, aliasIndex = item.lowerBound
            if item.count >= 3, isName(item.lowerBound + 1, "as"), tokens[item.lowerBound + 2].kind == .name {
                alias = tokens[item.lowerBound + 2].text
                aliasIndex = item.lowerBound + 2
            } else if item.count != 1 {
                diagnostics.error("invalid syntax in import list", at: location(at: item.lowerBound + 1))
                continue
            }
            bind(alias, .from(module: source, name: name), at: location(at: aliasIndex))
        }
    }

    /// `x = value`, `x: T = value`, `a = b = value`; other statements bind nothing we need.
    private mutating func assignment(_ range: Range<Int>) {
        var equals: [Int] = []
        var depth = 0
        for j in range where tokens[j].kind == .op {
            switch tokens[j].text {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            case "=" where depth == 0: equals.append(j)
            default: break
            }
        }
        guard let last = equals.last else { return }
        let value = classify(last + 1..<range.upperBound)
        var start = range.lowerBound
        for eq in equals {
            let target = start..<eq
            start = eq + 1
            guard let first = target.first, tokens[first].kind == .name else { continue }
            // `x = v` or `x: annotation = v`; tuple targets bind opaque values.
            if target.count == 1 || isOp(first + 1, ":") {
                bind(tokens[first].text, .value(value), at: location(at: first))
            } else if target.contains(where: { isOp($0, ",") }) {
                for j in target where tokens[j].kind == .name { bind(tokens[j].text, .other, at: location(at: j)) }
            }
        }
    }

    /// Splits a token range at commas outside brackets.
    private func commaSeparated(_ range: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var depth = 0, start = range.lowerBound
        for j in range where tokens[j].kind == .op {
            switch tokens[j].text {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            case "," where depth == 0:
                out.append(start..<j)
                start = j + 1
            default: break
            }
        }
        if start < range.upperBound { out.append(start..<range.upperBound) }
        return out
    }

    /// A dotted name filling the whole range (`dj.Manual`), or nil.
    private func dottedName(_ range: Range<Int>) -> [String]? {
        guard !range.isEmpty else { return nil }
        var path: [String] = []
        var j = range.lowerBound
        while j < range.upperBound {
            guard tokens[j].kind == .name else { return nil }
            path.append(tokens[j].text)
            j += 1
            if j == range.upperBound { return path }
            guard isOp(j, ".") else { return nil }
            j += 1
        }
        return nil
    }

    /// The index of the bracket closing the one at `open`, if it comes before `end`.
    private func matching(_ open: Int, before end: Int) -> Int? {
        let close = closers[open]
        return close > open && close < end ? close : nil
    }

    /// Classifies a right-hand side.
    func classify(_ full: Range<Int>, depth: Int = 0) -> PyValue {
        // CPython refuses more than 200 nested brackets (the lexer reports it); never recurse deeper.
        guard depth <= PythonLexer.maxBracketDepth else {
            return .runtime("an expression nested more than \(PythonLexer.maxBracketDepth) levels deep", location(at: full.lowerBound))
        }
        var range = full
        while range.count >= 2, isOp(range.lowerBound, "("), matching(range.lowerBound, before: range.upperBound) == range.upperBound - 1 {
            range = range.lowerBound + 1..<range.upperBound - 1
        }
        guard let first = range.first else { return .runtime("an empty expression", location(at: full.lowerBound)) }
        if let path = dottedName(range) {
            if path == ["None"] { return .none }
            return .name(path)
        }
        if tokens[first].kind == .name, let open = (range.lowerBound..<range.upperBound).first(where: { isOp($0, "(") }),
           let path = dottedName(range.lowerBound..<open), path != ["super"], matching(open, before: range.upperBound) == range.upperBound - 1 {
            return .call(path)
        }
        return stringExpression(range, depth: depth)
    }

    /// Operands joined by `+` (string literals, adjacent ones concatenated; dotted names; `super().x`;
    /// parenthesized operands), or why it is not one.
    private func stringExpression(_ range: Range<Int>, depth: Int) -> PyValue {
        var pieces: [PyPiece] = []
        var j = range.lowerBound
        var expectOperand = true
        while j < range.upperBound {
            let t = tokens[j]
            if expectOperand {
                expectOperand = false
                if t.kind == .string {
                    while j < range.upperBound, tokens[j].kind == .string {
                        if tokens[j].text.contains("b") {
                            return .runtime("a bytes literal (a definition must be a str)", location(at: j))
                        }
                        var decoded = PythonLexer.DecodedString()
                        let fields = lexer.decode(tokens[j], into: &decoded)
                        pieces += split(decoded, at: fields)
                        j += 1
                    }
                    continue
                }
                if t.kind == .name {
                    if t.text == "super", j + 4 < range.upperBound, isOp(j + 1, "("), isOp(j + 2, ")"), isOp(j + 3, "."), tokens[j + 4].kind == .name {
                        pieces.append(.superAttribute(tokens[j + 4].text, location(at: j + 4)))
                        j += 5
                        continue
                    }
                    var path = [t.text]
                    let nameStart = j
                    var last = j
                    j += 1
                    while j + 1 < range.upperBound, isOp(j, "."), tokens[j + 1].kind == .name {
                        path.append(tokens[j + 1].text)
                        last = j + 1
                        j += 2
                    }
                    if j < range.upperBound, isOp(j, "(") {
                        if path.count > 1 { return Self.methodValue(path.last!, location(at: last)) }
                        return .runtime("the result of a call is known at run time", location(at: last))
                    }
                    pieces.append(.name(path, location(at: nameStart)))
                    continue
                }
                if isOp(j, "("), let close = matching(j, before: range.upperBound) {
                    switch classify(j..<close + 1, depth: depth + 1) {
                    case .string(let text): pieces.append(.string(text))
                    case .concat(let inner): pieces += inner
                    case .name(let path): pieces.append(.name(path, location(at: j + 1)))
                    case .runtime(let reason, let at): return .runtime(reason, at)
                    default: return .runtime("an expression evaluated at run time", location(at: j))
                    }
                    j = close + 1
                    continue
                }
                return .runtime("an expression evaluated at run time", location(t))
            }
            if isOp(j, "+") { expectOperand = true; j += 1; continue }
            if isOp(j, "."), j + 1 < range.upperBound, tokens[j + 1].kind == .name {
                return Self.methodValue(tokens[j + 1].text, location(at: j + 1))
            }
            if isOp(j, "%") { return .runtime("'%' formatting fills it in at run time", location(t)) }
            return .runtime("an expression evaluated at run time", location(t))
        }
        if expectOperand { return .runtime("an expression evaluated at run time", location(at: max(range.lowerBound, range.upperBound - 1))) }
        var literal = PythonLexer.DecodedString()
        for piece in pieces {
            guard case .string(let text) = piece else { return .concat(pieces) }
            literal.scalars += text.scalars
            literal.locations += text.locations
        }
        return .string(literal)
    }

    private static func methodValue(_ method: String, _ at: SourceLocation) -> PyValue {
        .runtime(method == "format" ? "'.format()' fills it in at run time" : "'.\(method)()' computes it at run time", at)
    }

    /// A decoded f-string cut at its fields: literal pieces and field pieces in order.
    private func split(_ decoded: PythonLexer.DecodedString, at fields: [PythonLexer.Interpolation]) -> [PyPiece] {
        guard !fields.isEmpty else { return [.string(decoded)] }
        var pieces: [PyPiece] = []
        var start = 0
        for field in fields {
            if field.position > start {
                pieces.append(.string(PythonLexer.DecodedString(scalars: Array(decoded.scalars[start..<field.position]),
                                                               locations: Array(decoded.locations[start..<field.position]))))
            }
            start = field.position
            var text = field.expression.trimmingSpaces
            if text.hasSuffix("!s") { text = String(text.dropLast(2)).trimmingSpaces }
            let segments = text.split(separator: ".", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
            let plain = !segments.isEmpty && segments.allSatisfy { segment in
                guard let c = segment.unicodeScalars.first, PythonLexer.isNameStart(c) else { return false }
                return segment.unicodeScalars.allSatisfy(PythonLexer.isNameContinue)
            }
            pieces.append(.interpolation(plain ? segments : nil, field.expression, lexer.location(field.offset)))
        }
        if start < decoded.scalars.count {
            pieces.append(.string(PythonLexer.DecodedString(scalars: Array(decoded.scalars[start...]), locations: Array(decoded.locations[start...]))))
        }
        return pieces
    }

    // MARK: Classes

    private mutating func classStatement(_ statement: PyStatement, outer: PyClass?) -> PyClass? {
        let range = statement.tokens
        let nameIndex = range.lowerBound + 1
        guard nameIndex < range.upperBound, tokens[nameIndex].kind == .name else { return nil }
        let cls = PyClass(name: tokens[nameIndex].text, location: location(at: nameIndex), module: module.name)
        cls.outer = outer
        for decorator in statement.decorators {
            let expression = decorator.lowerBound + 1..<decorator.upperBound
            cls.decorators.append((dottedName(expression), location(at: expression.lowerBound)))
        }
        let colon = PyStatementReader.colonIndex(in: range, tokens: tokens) ?? range.upperBound
        if nameIndex + 1 < colon, isOp(nameIndex + 1, "("), let close = matching(nameIndex + 1, before: colon + 1) {
            for argument in commaSeparated(nameIndex + 2..<close) where !argument.isEmpty {
                if argument.count >= 2, tokens[argument.lowerBound].kind == .name, isOp(argument.lowerBound + 1, "=") { continue }
                let text = lexer.scalars[tokens[argument.lowerBound].start..<tokens[argument.upperBound - 1].end]
                cls.bases.append((dottedName(argument), location(at: argument.lowerBound), String(String.UnicodeScalarView(text))))
            }
        }
        // A one-line body after the colon: `class Channel(dj.Part): definition = "-> master"`.
        if colon + 1 < range.upperBound {
            classBodyStatement(PyStatement(tokens: colon + 1..<range.upperBound), in: cls)
        }
        for inner in statement.body { classBodyStatement(inner, in: cls) }
        return cls
    }

    private mutating func classBodyStatement(_ statement: PyStatement, in cls: PyClass) {
        let range = statement.tokens
        guard let first = range.first, tokens[first].kind == .name else { return }
        switch tokens[first].text {
        case "class":
            if let nested = classStatement(statement, outer: cls) {
                if let previous = cls.nested.first(where: { $0.name == nested.name }) {
                    diagnostics.error("duplicate class '\(cls.name).\(nested.name)'", at: nested.location,
                                      notes: ["first defined at line \(previous.location.line)"])
                }
                cls.nested.append(nested)
            }
        case "def", "async":
            let nameIndex = first + (tokens[first].text == "async" ? 2 : 1)
            guard nameIndex < range.upperBound, tokens[nameIndex].kind == .name else { return }
            let name = tokens[nameIndex].text
            let isProperty = statement.decorators.contains { decorator in
                decorator.contains { tokens[$0].kind == .name && (tokens[$0].text == "property" || tokens[$0].text == "cached_property") }
            }
            if name == "definition" {
                let value = isProperty ? propertyValue(statement, at: location(at: nameIndex)) : .runtime("a method computes it at run time", location(at: nameIndex))
                cls.definition = (value, location(at: nameIndex))
            } else if isProperty {
                cls.attributes[name] = (propertyValue(statement, at: location(at: nameIndex)), location(at: nameIndex))
            }
        case "if", "elif", "else", "try", "except", "finally", "with", "for", "while":
            for inner in statement.body { classBodyStatement(inner, in: cls) }
        default:
            guard let (name, value) = simpleAssignment(range) else { return }
            if name == "definition" {
                cls.definition = (classify(value), location(at: first))
            } else {
                cls.attributes[name] = (classify(value), location(at: first))
            }
        }
    }

    /// `name = value` or `name: annotation = value` (the last `=` of a chain): the name and the value's range.
    private func simpleAssignment(_ range: Range<Int>) -> (String, Range<Int>)? {
        guard let first = range.first, tokens[first].kind == .name, first + 1 < range.upperBound else { return nil }
        var j = first + 1
        if isOp(j, ":") {
            while j < range.upperBound, !isOp(j, "=") { j += 1 }
        }
        guard j < range.upperBound, isOp(j, "=") else { return nil }
        var value = j + 1..<range.upperBound
        // `a = b = value`: the value is after the last top-level `=`.
        var depth = 0
        for k in value where tokens[k].kind == .op {
            switch tokens[k].text {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            case "=" where depth == 0: value = k + 1..<range.upperBound
            default: break
            }
        }
        return (tokens[first].text, value)
    }

    /// What a property returns, when its body is assignments to local names and one `return` at its top
    /// level (`definition = """..."""; return definition`); why not otherwise.
    private func propertyValue(_ statement: PyStatement, at: SourceLocation) -> PyValue {
        func why(_ reason: String, _ location: SourceLocation) -> PyValue {
            .runtime("a property computes it at run time (\(reason))", location)
        }
        var locals: [String: PyValue] = [:]
        var result: PyValue?
        func containsReturn(_ statements: [PyStatement]) -> Bool {
            statements.contains { s in
                (s.tokens.first.map { tokens[$0].kind == .name && tokens[$0].text == "return" } ?? false) || containsReturn(s.body)
            }
        }
        for inner in statement.body {
            guard let head = inner.tokens.first else { continue }
            if tokens[head].kind == .name && tokens[head].text == "return" {
                if result != nil { return why("it returns in more than one place", location(at: head)) }
                let expression = head + 1..<inner.tokens.upperBound
                var value = classify(expression)
                if case .name(let path) = value, path.count == 1, let local = locals[path[0]] { value = local }
                if case .concat(let pieces) = value {
                    // Pieces naming local variables take their values.
                    var substituted: [PyPiece] = []
                    for piece in pieces {
                        if case .name(let path, _) = piece, path.count == 1, let local = locals[path[0]] {
                            switch local {
                            case .string(let text): substituted.append(.string(text))
                            case .concat(let more): substituted += more
                            default: substituted.append(piece)
                            }
                        } else {
                            substituted.append(piece)
                        }
                    }
                    value = .concat(substituted)
                }
                if case .runtime(let reason, let location) = value { return why(reason, location) }
                result = value
            } else if tokens[head].kind == .name && ["if", "for", "while", "try", "with"].contains(tokens[head].text) {
                if containsReturn(inner.body) { return why("it returns from inside '\(tokens[head].text)'", location(at: head)) }
            } else if let (name, value) = simpleAssignment(inner.tokens) {
                locals[name] = classify(value)
            }
        }
        guard let result else { return .runtime("a property computes it at run time", at) }
        return result
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var view = Substring(self)
        while let c = view.first, c == " " || c == "\t" { view.removeFirst() }
        while let c = view.last, c == " " || c == "\t" { view.removeLast() }
        return String(view)
    }
}
