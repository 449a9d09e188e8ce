import ArgumentParser
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
            guard let text = library.files[name] else { throw ValidationError("no template named '\(name)'") }
            print(text, terminator: "")
        }
    }
}
