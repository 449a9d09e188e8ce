// The template library: embedded templates, checked `--templates` overrides, rendering.

import DJFlowCore
import Foundation
import Mustache

/// The templates compile renders: the ones embedded from `Templates/` at build time, each of which a
/// user may override by name with a file of the same relative path in a `--templates` folder.
///
/// Templates are logic-less Mustache with the TEXT content type (no HTML escaping): they loop and print
/// values that Swift already escaped for the output language.
public struct TemplateLibrary: Sendable {
    /// Template text by relative path (`slurm/job.sbatch.mustache`, `runner/djflow_populate.py`).
    public private(set) var files: [String: String]
    /// Paths taken from the override folder.
    public private(set) var overridden: [String] = []
    private var library = MustacheLibrary()
    /// Templates the built-in renderer takes, by name without `.mustache`.
    private var compiled: [String: CompiledTemplate] = [:]
    /// False renders every template with swift-mustache: what the tests compare the built-in renderer with.
    public var usesCompiledTemplates = true
    /// The templates the built-in renderer takes (the others are rendered by swift-mustache).
    public var compiledNames: [String] { compiled.keys.sorted() }

    /// Why the templates could not be loaded: every problem of the override folder at once, located in the
    /// override files (`files`, for the caret printer).
    public struct LoadFailure: Error, CustomStringConvertible {
        public var diagnostics: Diagnostics
        public var files: [SourceFile]
        public var description: String { DiagnosticPrinter(files: files).format(diagnostics) }
    }

    /// The embedded templates, overridden by files in `overrideFolder` when given.
    ///
    /// An override must name an embedded template, be UTF-8, parse, and use only fields of the template's
    /// context where they can be reached (`contexts`: the typed context of each template; for a template
    /// without one, the tags the embedded template uses, in the same sections or sections around them): a
    /// misspelt tag would otherwise render as nothing.
    public init(overrideFolder: String? = nil, contexts: [any TemplateContext.Type] = []) throws {
        files = EmbeddedTemplates.files
        var diagnostics = Diagnostics()
        var sources: [SourceFile] = []
        var overridePaths: [String: String] = [:]
        if let folder = overrideFolder {
            let root = URL(fileURLWithPath: folder).standardizedFileURL
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
                diagnostics.error("cannot read the template folder '\(folder)'", at: nil)
                throw LoadFailure(diagnostics: diagnostics, files: [])
            }
            var shown: [(name: String, path: String)] = []
            for case let url as URL in walker where !url.hasDirectoryPath {
                let name = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
                shown.append((name, folder.hasSuffix("/") ? folder + name : folder + "/" + name))
            }
            for (name, path) in shown.sorted(by: { $0.name < $1.name }) {
                guard files[name] != nil else {
                    diagnostics.error("template override '\(name)' in '\(folder)' does not match any djflow template"
                                      + Suggestions.hint(for: name, in: files.keys), at: nil,
                                      notes: ["'djflow templates list' prints the names"])
                    continue
                }
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    diagnostics.error("cannot read template override '\(path)' as UTF-8 text", at: nil)
                    continue
                }
                if name.hasSuffix(".mustache") {
                    sources.append(SourceFile(path: path, text: text))
                    let schema = contexts.first { $0.template + ".mustache" == name }?.fieldPaths
                    Self.checkTags(of: text, at: path, against: files[name]!, schema: schema, named: name, into: &diagnostics)
                }
                files[name] = text
                overridden.append(name)
                overridePaths[name] = path
            }
            overridden.sort()
        }
        for (name, text) in files.sorted(by: { $0.key < $1.key }) where name.hasSuffix(".mustache") {
            do {
                try library.register(MustacheTemplate(string: Self.pragma + text), named: String(name.dropLast(".mustache".count)))
                compiled[String(name.dropLast(".mustache".count))] = CompiledTemplate(text)
            } catch let error as MustacheTemplate.ParserError {
                let path = overridePaths[name] ?? "Templates/" + name
                // the context counts the pragma line the library prepends: same line, columns shifted on line 1
                let column = error.context.lineNumber == 1 ? max(1, error.context.columnNumber - Self.pragma.count) : error.context.columnNumber
                diagnostics.error("template '\(name)' does not parse: \(Self.describe(error.error))",
                                  at: SourceLocation(file: path, line: error.context.lineNumber, column: column))
            } catch {
                diagnostics.error("template '\(name)' does not parse: \(error)", at: nil)
            }
        }
        if diagnostics.hasErrors { throw LoadFailure(diagnostics: diagnostics, files: sources) }
    }

    /// Errors for the tags of an override that the embedded template does not use where they stand.
    static func checkTags(of text: String, at path: String, against embedded: String, schema: Set<String>?, named name: String,
                          into diagnostics: inout Diagnostics) {
        guard let tags = TemplateTags.scan(text), let known = TemplateTags.scan(embedded) else { return }
        let vocabulary = TemplateTags.vocabulary(known)
        let fields = schema.map { Set($0.map { String($0.split(separator: "/").last!) }) } ?? Set(known.compactMap(\.field))
        func isKnown(_ tag: TemplateTag) -> Bool {
            if let schema { return tag.field == nil || TemplateTags.resolve(tag, inSchema: schema) != nil }
            return TemplateTags.isKnown(tag, in: vocabulary)
        }
        var noted = false
        for tag in tags where tag.kind != .close {
            let location = SourceLocation(file: path, line: tag.line, column: tag.column)
            if tag.kind == .partial {
                if !EmbeddedTemplates.files.keys.contains(tag.name + ".mustache") {
                    diagnostics.error("template '\(name)' includes '\(tag.name)', which is not a djflow template", at: location)
                }
                continue
            }
            guard !isKnown(tag) else { continue }
            let whereText = tag.sections.isEmpty ? "at the top level" : "inside '\(tag.sections.joined(separator: "/"))'"
            diagnostics.error(
                "unknown tag '\(tag.name)' in template '\(name)' \(whereText)" + Suggestions.hint(for: tag.field ?? tag.name, in: fields),
                at: location,
                notes: noted ? [] : [schema == nil
                    ? "an override may use the tags of the embedded template ('djflow templates show \(name)'), in the same sections; any other renders as nothing"
                    : "an override may use the fields of the template's context where they can be reached ('djflow templates fields \(name)' lists them); any other renders as nothing"])
            noted = true
        }
    }

    private static func describe(_ error: Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect: return "a section is closed with another name than it was opened with"
        case .unfinishedName: return "a tag is not closed"
        case .expectedSectionEnd: return "a section is not closed"
        case .invalidSetDelimiter: return "a set-delimiter tag is malformed"
        case .invalidConfigVariableSyntax, .unrecognisedConfigVariable: return "a pragma tag ({{% ...}}) is malformed"
        case .some: return "\(error)"
        case nil: return "\(error)"
        }
    }

    /// Prepended to every template: no HTML escaping.
    private static let pragma = "{{% CONTENT_TYPE: TEXT}}"

    /// Every template name (relative path), sorted.
    public var names: [String] { files.keys.sorted() }

    /// Renders `template` (a name without `.mustache`, e.g. `slurm/job.sbatch`) with `value`: compiled
    /// templates directly, any other (an override using partials, pragmas, ...) with swift-mustache.
    /// - Precondition: the template exists (targets only name embedded templates).
    /// `embedded` gives the text of each `EmbeddedFile` in the value.
    public func render(_ template: String, _ value: TemplateValue, embedded: (EmbeddedFile) -> String = { _ in "" }) -> String {
        if usesCompiledTemplates, let compiled = compiled[template] { return compiled.render(value, embedded: embedded) }
        return renderWithMustache(template, value.resolvingEmbedded(embedded))
    }

    /// Renders template text with swift-mustache as the library does (TEXT content type), or nil when it
    /// does not parse: what the built-in renderer is compared with.
    static func renderWithMustache(text: String, _ value: TemplateValue) -> String? {
        guard let template = try? MustacheTemplate(string: pragma + text) else { return nil }
        return template.render(value.plain)
    }

    /// Renders with swift-mustache, whatever the template uses.
    func renderWithMustache(_ template: String, _ value: TemplateValue) -> String {
        guard let text = library.render(value.plain, withTemplate: template) else {
            preconditionFailure("djflow has no template '\(template)'")
        }
        return text
    }

    /// A file copied verbatim (the populate runner).
    public func raw(_ name: String) -> String {
        guard let text = files[name] else { preconditionFailure("djflow has no template file '\(name)'") }
        return text
    }
}
