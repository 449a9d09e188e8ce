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

    public enum LoadError: Error, CustomStringConvertible {
        case unknownTemplate(String, folder: String, suggestion: String?)
        case unreadable(String)
        case parse(String, String)

        public var description: String {
            switch self {
            case let .unknownTemplate(name, folder, suggestion):
                return "template override '\(name)' in '\(folder)' does not match any djflow template" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
            case let .unreadable(path): return "cannot read template '\(path)'"
            case let .parse(name, message): return "template '\(name)' does not parse: \(message)"
            }
        }
    }

    /// The embedded templates, overridden by files in `overrideFolder` when given.
    public init(overrideFolder: String? = nil) throws {
        files = EmbeddedTemplates.files
        if let folder = overrideFolder {
            let root = URL(fileURLWithPath: folder).standardizedFileURL
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
                throw LoadError.unreadable(folder)
            }
            for case let url as URL in walker where !url.hasDirectoryPath {
                let name = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
                guard files[name] != nil else {
                    throw LoadError.unknownTemplate(name, folder: folder, suggestion: Suggestions.closest(to: name, in: files.keys))
                }
                guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw LoadError.unreadable(url.path) }
                files[name] = text
                overridden.append(name)
            }
            overridden.sort()
        }
        for (name, text) in files where name.hasSuffix(".mustache") {
            do {
                try library.register(MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text), named: String(name.dropLast(".mustache".count)))
            } catch {
                throw LoadError.parse(name, "\(error)")
            }
        }
    }

    /// Every template name (relative path), sorted.
    public var names: [String] { files.keys.sorted() }

    /// Renders `template` (a name without `.mustache`, e.g. `slurm/job.sbatch`) with `context`.
    /// - Precondition: the template exists (targets only name embedded templates).
    public func render(_ template: String, _ context: Any) -> String {
        guard let text = library.render(context, withTemplate: template) else {
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
