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

    func match(_ pattern: String) -> PythonSources.Match {
        let full = pattern.hasPrefix("/") || folder.isEmpty ? pattern : folder + "/" + pattern
        var paths = Glob.expand(full)
        paths = paths.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        if paths.isEmpty && !Glob.hasWildcards(pattern) {
            return .failure("cannot read '\(pattern)': no such file (patterns are relative to the folder of the pipeline definition)")
        }
        var files: [PythonFile] = []
        for path in paths.sorted() {
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
            let (module, isPackage) = Self.moduleName(of: path)
            files.append(PythonFile(source: source, module: module, isPackage: isPackage))
        }
        return .files(files)
    }

    /// `pkg/sub/mod.py` → `pkg.sub.mod` while the folders hold `__init__.py`; `pkg/__init__.py` → `pkg`.
    static func moduleName(of path: String) -> (String, Bool) {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var stem = url.deletingPathExtension().lastPathComponent
        var folder = url.deletingLastPathComponent()
        var parts: [String] = []
        let isPackage = stem == "__init__"
        if !isPackage { parts.append(stem) }
        stem = ""
        while FileManager.default.fileExists(atPath: folder.appendingPathComponent("__init__.py").path), folder.path != "/" {
            parts.insert(folder.lastPathComponent, at: 0)
            folder = folder.deletingLastPathComponent()
        }
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

    private static func isDirectory(_ path: String) -> Bool {
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
