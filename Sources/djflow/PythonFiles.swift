// Reads the Python files of `sources:` from disk for the library (which does no I/O).

import DJFlowCore
import DJFlowPython
import Foundation

/// Reads the Python files of `sources:` for the library (which does no I/O): glob expansion relative to
/// the pipeline's folder, module import paths from `__init__.py` packages, UTF-8 text.
final class PythonFileReader {
    /// Folder the patterns are relative to, as displayed ("" for the current directory).
    let folder: String
    /// Every file read, for the diagnostic printer.
    private(set) var read: [SourceFile] = []

    init(relativeTo folder: String) { self.folder = folder }

    /// The provider handed to the library.
    var provider: PythonSources.Provider { { [self] pattern in self.match(pattern) } }

    /// The files of one `sources:` entry or `djflow import` argument: a file, a folder (every `*.py` below
    /// it, hidden folders and `__pycache__` left out) or a glob (folders it matches are read like folders).
    /// Modules are named by their dotted path from the root the user gave: the folder, the glob's folder
    /// before its first wildcard, or a file's own folder; a root inside packages (`__init__.py`) starts
    /// with their names.
    func match(_ pattern: String) -> PythonSources.Match {
        let full = pattern.hasPrefix("/") || folder.isEmpty ? pattern : folder + "/" + pattern
        var found: [(path: String, root: String)] = []
        if Glob.hasWildcards(pattern) {
            let segments = full.split(separator: "/", omittingEmptySubsequences: true)
            let literal = segments.prefix { !Glob.hasWildcards(String($0)) }
            let root = (full.hasPrefix("/") ? "/" : "") + literal.joined(separator: "/")
            for path in Glob.expand(full) {
                if Glob.isDirectory(path) {
                    found += Self.pythonFiles(under: path).map { ($0, root.isEmpty ? "." : root) }
                } else if path.hasSuffix(".py") || !pattern.hasSuffix("*") {
                    found.append((path, root.isEmpty ? "." : root))
                }
            }
        } else if Glob.isDirectory(full) {
            let root = Glob.normalized(full)
            found = Self.pythonFiles(under: root).map { ($0, root.isEmpty ? "." : root) }
        } else if FileManager.default.fileExists(atPath: full) {
            let parent = (Glob.normalized(full) as NSString).deletingLastPathComponent
            found = [(full, parent.isEmpty ? "." : parent)]
        } else {
            let parent = (full as NSString).deletingLastPathComponent
            let siblings = ((try? FileManager.default.contentsOfDirectory(atPath: parent.isEmpty ? "." : parent)) ?? [])
                .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".py") || Glob.isDirectory(parent.isEmpty ? $0 : parent + "/" + $0)) }
            let near = Suggestions.closest(to: (pattern as NSString).lastPathComponent, in: siblings).map { "; did you mean '\(((pattern as NSString).deletingLastPathComponent as NSString).appendingPathComponent($0))'?" } ?? ""
            return .failure("cannot read '\(pattern)': no such file or folder (paths are relative to the folder of the pipeline definition)\(near)")
        }
        var files: [PythonFile] = []
        for (path, root) in found.sorted(by: { $0.path < $1.path }) {
            guard let data = FileManager.default.contents(atPath: path) else {
                return .failure("cannot read '\(path)'")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                return .failure("'\(path)' is not UTF-8 text")
            }
            var display = Glob.normalized(path)
            let cwd = FileManager.default.currentDirectoryPath
            if display.hasPrefix(cwd + "/") { display.removeFirst(cwd.count + 1) }
            let source = SourceFile(path: display, text: text)
            read.append(source)
            let (module, isPackage) = Self.moduleName(of: path, root: root)
            files.append(PythonFile(source: source, module: module, isPackage: isPackage))
        }
        return .files(files)
    }

    /// Every `*.py` below `folder`, sorted; hidden folders and `__pycache__` are skipped.
    static func pythonFiles(under folder: String) -> [String] {
        var out: [String] = []
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        for entry in entries where !entry.hasPrefix(".") {
            let path = folder.hasSuffix("/") ? folder + entry : folder + "/" + entry
            if Glob.isDirectory(path) {
                if entry != "__pycache__" { out += pythonFiles(under: path) }
            } else if entry.hasSuffix(".py") {
                out.append(path)
            }
        }
        return out
    }

    /// The import path of `path` read from `root`: the packages holding `root` (folders with
    /// `__init__.py`, outermost first), then the folders from `root` to the file, then its stem;
    /// `pkg/__init__.py` is the package `pkg` itself.
    static func moduleName(of path: String, root: String) -> (String, Bool) {
        let file = URL(fileURLWithPath: path).standardizedFileURL
        var base = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
        let stem = file.deletingPathExtension().lastPathComponent
        let isPackage = stem == "__init__"
        var folders = file.deletingLastPathComponent().pathComponents
        let rootComponents = base.pathComponents
        if folders.count >= rootComponents.count && Array(folders.prefix(rootComponents.count)) == rootComponents {
            folders.removeFirst(rootComponents.count)
        } else {
            // Not below the root (cannot happen for matched files): name it from its own folder.
            folders = []
            base = file.deletingLastPathComponent()
        }
        var prefix: [String] = []
        while FileManager.default.fileExists(atPath: base.appendingPathComponent("__init__.py").path), base.path != "/" {
            prefix.insert(base.lastPathComponent, at: 0)
            base = base.deletingLastPathComponent()
        }
        let parts = prefix + folders + (isPackage ? [] : [stem])
        return (parts.joined(separator: "."), isPackage)
    }
}

/// Shell-style globs: `*`, `?`, `[abc]` within a path segment, `**` across folders.
enum Glob {
    static func hasWildcards(_ text: String) -> Bool { text.contains { "*?[".contains($0) } }

    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            parts.append(part)
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    static func expand(_ pattern: String) -> [String] {
        let absolute = pattern.hasPrefix("/")
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var results = Set<String>()
        walk(absolute ? "/" : "", segments[...], into: &results)
        return results.sorted()
    }

    private static func join(_ base: String, _ name: String) -> String {
        base.isEmpty ? name : base.hasSuffix("/") ? base + name : base + "/" + name
    }

    private static func walk(_ base: String, _ rest: ArraySlice<String>, into results: inout Set<String>) {
        guard let segment = rest.first else {
            if !base.isEmpty { results.insert(base) }
            return
        }
        let remaining = rest.dropFirst()
        if segment == "**" {
            walk(base, remaining, into: &results)
            for entry in entries(base) where isDirectory(join(base, entry)) && !entry.hasPrefix(".") && entry != "__pycache__" {
                walk(join(base, entry), rest, into: &results)
            }
            return
        }
        if !hasWildcards(segment) {
            let next = join(base, segment)
            if remaining.isEmpty ? FileManager.default.fileExists(atPath: next) : isDirectory(next) {
                walk(next, remaining, into: &results)
            }
            return
        }
        for entry in entries(base) where matches(Array(entry.unicodeScalars)[...], Array(segment.unicodeScalars)[...]) {
            if entry.hasPrefix(".") && !segment.hasPrefix(".") { continue }
            let next = join(base, entry)
            if remaining.isEmpty || isDirectory(next) { walk(next, remaining, into: &results) }
        }
    }

    private static func entries(_ base: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: base.isEmpty ? "." : base)) ?? []
    }

    static func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path.isEmpty ? "." : path, isDirectory: &flag) && flag.boolValue
    }

    /// fnmatch over one segment.
    static func matches(_ name: ArraySlice<Unicode.Scalar>, _ pattern: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let p = pattern.first else { return name.isEmpty }
        switch p {
        case "*":
            var rest = name
            while true {
                if matches(rest, pattern.dropFirst()) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case "?":
            return !name.isEmpty && matches(name.dropFirst(), pattern.dropFirst())
        case "[":
            guard let c = name.first, let close = pattern.dropFirst().firstIndex(of: "]") else {
                return name.first == "[" && matches(name.dropFirst(), pattern.dropFirst())
            }
            var set = pattern[pattern.index(after: pattern.startIndex)..<close]
            let negate = set.first == "!" || set.first == "^"
            if negate { set = set.dropFirst() }
            var found = false
            var k = set.startIndex
            while k < set.endIndex {
                let a = set[k]
                if k + 2 < set.endIndex, set[k + 1] == "-" {
                    if a.value <= c.value && c.value <= set[k + 2].value { found = true }
                    k += 3
                } else {
                    if a == c { found = true }
                    k += 1
                }
            }
            return found != negate && matches(name.dropFirst(), pattern[pattern.index(after: close)...])
        default:
            return name.first == p && matches(name.dropFirst(), pattern.dropFirst())
        }
    }
}
