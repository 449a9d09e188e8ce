// The tags of a Mustache template, with where they are and the sections around them: what the override
// check compares against the embedded template of the same name.

/// One tag of a template: `{{name}}`, `{{#name}}`, `{{> partial}}`, ...
struct TemplateTag: Equatable {
    enum Kind: Equatable { case variable, section, inverted, close, partial }
    var kind: Kind
    /// The name as written (`job.name`, `.`); for a transform `f(x)`, the argument `x`.
    var name: String
    /// The names of the sections it sits in, outermost first.
    var sections: [String]
    var line: Int
    var column: Int

    /// The context field it looks up first (`job` for `job.name`); nil for the implicit iterator `.`.
    var field: String? {
        if name == "." { return nil }
        return name.split(separator: ".", maxSplits: 1).first.map(String.init)
    }
}

enum TemplateTags {
    /// The tags of `text`, or nil when the template changes its delimiters (`{{=<% %>=}}`): its tags are then
    /// not read and not checked. Comments, pragmas and inheritance blocks are left out.
    static func scan(_ text: String) -> [TemplateTag]? {
        let chars = Array(text)
        var tags: [TemplateTag] = []
        var sections: [String] = []
        var line = 1, lineStart = 0, i = 0
        func advanceLines(to end: Int) {
            while i < end {
                if chars[i] == "\n" { line += 1; lineStart = i + 1 }
                i += 1
            }
        }
        while i + 1 < chars.count {
            guard chars[i] == "{", chars[i + 1] == "{" else {
                advanceLines(to: i + 1)
                continue
            }
            let (tagLine, tagColumn) = (line, i - lineStart + 1)
            let triple = i + 2 < chars.count && chars[i + 2] == "{"
            let open = i + (triple ? 3 : 2)
            let closer: [Character] = triple ? ["}", "}", "}"] : ["}", "}"]
            guard let close = find(closer, in: chars, from: open) else { return tags }  // the parser reports it
            var body = String(chars[open..<close]).trimmingSpaces
            advanceLines(to: close + closer.count)
            var kind = TemplateTag.Kind.variable
            if let sigil = body.first, !triple {
                switch sigil {
                case "!", "%", "$": continue
                case "=": return nil
                case "#": kind = .section
                case "^": kind = .inverted
                case "/": kind = .close
                case ">", "<": kind = .partial
                case "&": kind = .variable
                default: break
                }
                if "#^/><&".contains(sigil) { body = String(body.dropFirst()).trimmingSpaces }
            }
            if kind != .partial, let paren = body.firstIndex(of: "("), body.hasSuffix(")") {  // transform f(x)
                body = String(body[body.index(after: paren)..<body.index(before: body.endIndex)]).trimmingSpaces
            }
            tags.append(TemplateTag(kind: kind, name: body, sections: sections, line: tagLine, column: tagColumn))
            switch kind {
            case .section, .inverted: sections.append(body)
            case .close: if !sections.isEmpty { sections.removeLast() }
            default: break
            }
        }
        return tags
    }

    /// The fields a template looks up, by the section path they are looked up in (`jobs/retried`).
    static func vocabulary(_ tags: [TemplateTag]) -> Set<String> {
        Set(tags.compactMap { tag in
            guard tag.kind != .close, tag.kind != .partial, let field = tag.field else { return nil }
            return (tag.sections + [field]).joined(separator: "/")
        })
    }

    /// Whether `tag` looks up a field the vocabulary knows where it stands: in its section or in one around it
    /// (Mustache looks a name up through the enclosing contexts).
    static func isKnown(_ tag: TemplateTag, in vocabulary: Set<String>) -> Bool {
        guard let field = tag.field else { return true }
        for depth in stride(from: tag.sections.count, through: 0, by: -1)
        where vocabulary.contains((tag.sections.prefix(depth) + [field]).joined(separator: "/")) {
            return true
        }
        return false
    }

    /// The context field `tag` resolves to in a context schema (`ContextSchema` paths such as `jobs/name`),
    /// the way Mustache looks it up: in the innermost section's value first, then outwards. A section over a
    /// nested struct or a list of them opens a new scope; one over a boolean or a string keeps the scope.
    /// Nil when no field of that name is reachable where the tag stands.
    static func resolve(_ tag: TemplateTag, inSchema paths: Set<String>) -> String? {
        var scopes: [String] = [""]
        func lookup(_ name: String) -> String? {
            for scope in scopes.reversed() {
                let path = scope.isEmpty ? name : scope + "/" + name
                if paths.contains(path) { return path }
            }
            return nil
        }
        for section in tag.sections {
            guard let field = section.split(separator: ".", maxSplits: 1).first.map(String.init), let path = lookup(field) else { continue }
            if paths.contains(where: { $0.hasPrefix(path + "/") }) { scopes.append(path) }
        }
        guard let field = tag.field, let path = lookup(field) else { return tag.field == nil ? scopes.last : nil }
        // A dotted name (`exit.usage`) goes on from the first field through the nested ones.
        let rest = tag.name.split(separator: ".").dropFirst().map(String.init)
        let full = ([path] + rest).joined(separator: "/")
        return paths.contains(full) ? full : nil
    }

    private static func find(_ needle: [Character], in chars: [Character], from start: Int) -> Int? {
        var j = start
        while j + needle.count <= chars.count {
            if chars[j] == needle[0], Array(chars[j..<j + needle.count]) == needle { return j }
            j += 1
        }
        return nil
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks (as Mustache reads a tag's name).
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}
