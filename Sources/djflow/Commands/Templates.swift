// `djflow templates`: lists the embedded templates and prints one.

import ArgumentParser
import DJFlowCore
import DJFlowTemplates

struct Templates: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or print the embedded templates (copy one into a --templates folder to override it).",
        subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List template names.")
        func run() throws { for name in try TemplateLibrary().names { print(name) } }
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
                printError("djflow: error: no template named '\(name)'\(near) (see 'djflow templates list')")
                throw ExitStatus.usage
            }
            print(text, terminator: "")
        }
    }
}
