// Build tool: embeds Templates/ into the DJFlowTemplates module as Swift string literals.

import Foundation

// Usage: djflow-embed-templates OUTPUT.swift TEMPLATES_DIR FILE...
// Writes `EmbeddedTemplates.files`, a dictionary from each file's path relative to TEMPLATES_DIR to its text.
let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: djflow-embed-templates OUTPUT TEMPLATES_DIR FILE...\n".utf8))
    exit(2)
}
let output = arguments[1]
let root = URL(fileURLWithPath: arguments[2]).standardizedFileURL.path + "/"

/// A raw string literal delimiter longer than any run of `#` that follows a quote or backslash in the text.
func delimiter(for text: String) -> String {
    var longest = 0, current = 0, afterQuote = false
    for character in text {
        if character == "#" && afterQuote { current += 1; longest = max(longest, current) }
        else { afterQuote = character == "\"" || character == "\\"; current = 0 }
    }
    return String(repeating: "#", count: longest + 1)
}

var entries: [(String, String)] = []
for path in arguments.dropFirst(3) {
    let full = URL(fileURLWithPath: path).standardizedFileURL.path
    guard full.hasPrefix(root), let text = try? String(contentsOfFile: full, encoding: .utf8) else {
        FileHandle.standardError.write(Data("djflow-embed-templates: cannot read \(path)\n".utf8))
        exit(1)
    }
    entries.append((String(full.dropFirst(root.count)), text))
}
entries.sort { $0.0 < $1.0 }

var swift = "// Generated at build time from Templates/ by djflow-embed-templates. Do not edit.\n\n"
swift += "enum EmbeddedTemplates {\n    static let files: [String: String] = [\n"
for (name, text) in entries {
    let hashes = delimiter(for: text)
    swift += "        \(hashes)\"\(name)\"\(hashes): \(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes),\n"
}
swift += "    ]\n}\n"
do {
    try swift.write(toFile: output, atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("djflow-embed-templates: cannot write \(output): \(error)\n".utf8))
    exit(1)
}
