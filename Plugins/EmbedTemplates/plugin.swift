import Foundation
import PackagePlugin

/// Embeds every file under the package's `Templates/` folder into the target as Swift string literals,
/// so a copied `djflow` binary works alone.
@main
struct EmbedTemplates: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let templates = context.package.directoryURL.appending(path: "Templates")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: templates, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                // Hidden files and Python caches are not templates.
                if url.pathComponents.contains(where: { $0.hasPrefix(".") || $0 == "__pycache__" }) || url.pathExtension == "pyc" { continue }
                inputs.append(url)
            }
        }
        inputs.sort { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedTemplates.swift")
        return [.buildCommand(
            displayName: "Embedding \(inputs.count) templates",
            executable: try context.tool(named: "djflow-embed-templates").url,
            arguments: [output.path, templates.path] + inputs.map(\.path),
            inputFiles: inputs,
            outputFiles: [output])]
    }
}
