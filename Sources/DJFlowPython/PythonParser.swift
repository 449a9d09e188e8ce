// Logical lines of Python with their indented bodies: the statement structure the module reader walks.

import DJFlowCore

/// A logical line of Python (a simple statement, or a compound statement's header) with its indented body
/// and the decorators written above it.
struct PyStatement {
    /// Token indices, without the NEWLINE.
    var tokens: Range<Int>
    var body: [PyStatement] = []
    var decorators: [Range<Int>] = []
}

/// Builds the statement tree from tokens and reports structural syntax errors: unexpected indents, missing
/// blocks, decorators without a class or function, class headers without a name or colon.
struct PythonParser {
    let tokens: [PyToken]
    let lexer: PythonLexer
    var diagnostics = Diagnostics()
    private var k = 0

    init(lexer: PythonLexer) {
        self.lexer = lexer
        self.tokens = lexer.tokens
    }

    func location(_ index: Int) -> SourceLocation {
        let t = tokens[min(index, tokens.count - 1)]
        return SourceLocation(file: lexer.source.path, line: t.line, column: t.column)
    }

    mutating func parseModule() -> [PyStatement] {
        var statements = block()
        while tokens[k].kind != .end {
            // A stray DEDENT cannot happen (the lexer balances them); skip anything left defensively.
            k += 1
            statements += block()
        }
        return statements
    }

    private mutating func block() -> [PyStatement] {
        var statements: [PyStatement] = []
        var decorators: [Range<Int>] = []
        while tokens[k].kind != .dedent && tokens[k].kind != .end {
            if tokens[k].kind == .indent {
                diagnostics.error("unexpected indent", at: location(k))
                k += 1
                statements += block()
                if tokens[k].kind == .dedent { k += 1 }
                continue
            }
            if tokens[k].kind == .newline { k += 1; continue }
            let start = k
            while tokens[k].kind != .newline && tokens[k].kind != .end && tokens[k].kind != .indent && tokens[k].kind != .dedent { k += 1 }
            let range = start..<k
            if tokens[k].kind == .newline { k += 1 }
            var parts = split(range)
            var body: [PyStatement] = []
            let endsWithColon = tokens[range.upperBound - 1].kind == .op && tokens[range.upperBound - 1].text == ":"
            if tokens[k].kind == .indent {
                if !endsWithColon { diagnostics.error("unexpected indent", at: location(k)) }
                k += 1
                body = block()
                if tokens[k].kind == .dedent { k += 1 }
            } else if endsWithColon {
                diagnostics.error("expected an indented block after '\(tokens[start].text)' statement on line \(tokens[start].line)", at: location(k))
            }
            if tokens[start].kind == .op && tokens[start].text == "@" {
                if start + 1 >= range.upperBound {
                    diagnostics.error("invalid syntax: '@' needs a decorator expression", at: location(start))
                }
                decorators.append(range)
                continue
            }
            let last = parts.count - 1
            parts[last].body = body
            if !decorators.isEmpty {
                let head = tokens[parts[0].tokens.lowerBound]
                let word = head.kind == .name ? head.text : ""
                let isDef = word == "class" || word == "def"
                    || (word == "async" && parts[0].tokens.count > 1 && tokens[parts[0].tokens.lowerBound + 1].text == "def")
                if !isDef {
                    diagnostics.error("invalid syntax: a decorator must be followed by a class or function definition", at: location(parts[0].tokens.lowerBound))
                }
                parts[0].decorators = decorators
                decorators = []
            }
            for part in parts where tokens[part.tokens.lowerBound].kind == .name && tokens[part.tokens.lowerBound].text == "class" {
                checkClassHeader(part.tokens, hasBody: !part.body.isEmpty)
            }
            statements += parts
        }
        if let last = decorators.last {
            diagnostics.error("invalid syntax: a decorator must be followed by a class or function definition", at: location(last.upperBound))
        }
        return statements
    }

    /// Splits a logical line at `;` outside brackets (simple statements on one line).
    private func split(_ range: Range<Int>) -> [PyStatement] {
        var out: [PyStatement] = []
        var depth = 0, start = range.lowerBound
        for j in range {
            let t = tokens[j]
            guard t.kind == .op else { continue }
            switch t.text {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            case ";" where depth == 0:
                if j > start { out.append(PyStatement(tokens: start..<j)) }
                start = j + 1
            default: break
            }
        }
        if range.upperBound > start || out.isEmpty { out.append(PyStatement(tokens: start..<max(start, range.upperBound))) }
        return out
    }

    private mutating func checkClassHeader(_ range: Range<Int>, hasBody: Bool) {
        let nameIndex = range.lowerBound + 1
        guard nameIndex < range.upperBound, tokens[nameIndex].kind == .name else {
            diagnostics.error("invalid syntax: expected a class name after 'class'", at: location(nameIndex))
            return
        }
        if PyStatementReader.colonIndex(in: range, tokens: tokens) == nil {
            diagnostics.error("invalid syntax: expected ':' after the class header", at: location(range.upperBound))
        }
    }
}

/// Helpers over token ranges.
enum PyStatementReader {
    /// The `:` ending a compound statement's header: the first one outside brackets (and not in a lambda).
    static func colonIndex(in range: Range<Int>, tokens: [PyToken]) -> Int? {
        var depth = 0
        var lambdas = 0
        for j in range {
            let t = tokens[j]
            if t.kind == .name && t.text == "lambda" && depth == 0 { lambdas += 1 }
            guard t.kind == .op else { continue }
            switch t.text {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            case ":" where depth == 0:
                if lambdas > 0 { lambdas -= 1 } else { return j }
            default: break
            }
        }
        return nil
    }
}
