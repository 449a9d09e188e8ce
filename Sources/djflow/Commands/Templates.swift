// `djflow templates`: lists the embedded templates, prints one, and lists the fields of its context.

import ArgumentParser
import DJFlowCore
import DJFlowTargets
import DJFlowTemplates

struct Templates: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or print the embedded templates (copy one into a --templates folder to override it).",
        subcommands: [List.self, Show.self, Fields.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List template names.")
        func run() throws { for name in try TemplateLibrary().names { print(name) } }
    }

    struct Fields: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the fields an override of a template may use (its typed context).",
            discussion: "One path per line: 'jobs' is a list or a nested value, 'jobs/name' a field of each of its items, "
                + "reached inside {{#jobs}}...{{/jobs}}.")
        @Argument(help: "A Mustache template name from 'djflow templates list'.") var name: String
        func run() throws {
            let plain = name.hasSuffix(".mustache") ? String(name.dropLast(".mustache".count)) : name
            guard let context = TemplateContexts.all.first(where: { $0.template == plain }) else {
                let names = TemplateContexts.all.map { $0.template }.sorted()
                let near = Suggestions.closest(to: plain, in: names).map { "; did you mean '\($0).mustache'?" } ?? ""
                printDiagnostic("no Mustache template named '\(name)'\(near) (see 'djflow templates list')")
                throw ExitStatus.usage
            }
            for path in context.fieldPaths.sorted() { print(path) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one template.")
        @Argument(help: "A name from 'djflow templates list'.") var name: String
        func run() throws {
            let library = try TemplateLibrary()
            guard let text = library.files[name] else {
                // Names are compared without '.mustache', which people leave out.
                let plain = Dictionary(library.names.map { ($0.hasSuffix(".mustache") ? String($0.dropLast(".mustache".count)) : $0, $0) },
                                       uniquingKeysWith: { a, _ in a })
                let near = Suggestions.closest(to: name, in: plain.keys.sorted()).map { "; did you mean '\(plain[$0]!)'?" } ?? ""
                printDiagnostic("no template named '\(name)'\(near) (see 'djflow templates list')")
                throw ExitStatus.usage
            }
            print(text, terminator: "")
        }
    }
}
