// The compiler's stages in one place: spec → Python sources → graph → plan → target artifacts → rendered files.

import Foundation
import DJFlowCore
import DJFlowPlan
import DJFlowPython
import DJFlowSpec
import DJFlowTargets
import DJFlowTemplates

/// The compiler's stages in order: load spec → analyse graph → plan → per-target artifacts → render.
/// Nothing here touches the disk; `ArtifactWriter` does that with the result.
public enum CompilerPipeline {
    /// The outcome of analysing a pipeline file.
    public struct Analysis: Sendable {
        public var spec: PipelineSpec?
        public var plan: ExecutionPlan?
        public var diagnostics: Diagnostics
        /// Every file read: the definition, then the Python sources (for the diagnostic printer).
        public var files: [SourceFile]
    }

    /// Loads and plans the pipeline; every problem of the spec and its graph is in `diagnostics`.
    /// - Parameter sources: reads the files of `sources:` (the CLI's file reader); the library does no I/O.
    public static func analyse(_ source: SourceFile, sources: PythonSources.Provider? = nil) -> Analysis {
        var (spec, diagnostics) = SpecLoader.load(source)
        var files = [source]
        if let loaded = spec, !loaded.sources.isEmpty {
            let merged = PythonSources.apply(loaded, provider: sources, diagnostics: &diagnostics)
            spec = merged.spec
            files += merged.files
        }
        var plan: ExecutionPlan?
        if let loaded = spec {
            checkTargetNames(loaded, diagnostics: &diagnostics)
            plan = Planner.plan(loaded, diagnostics: &diagnostics)
            if let planned = plan { SettingsCheck.check(loaded, plan: planned, diagnostics: &diagnostics) }
        }
        if diagnostics.hasErrors { plan = nil }
        return Analysis(spec: spec, plan: plan, diagnostics: diagnostics, files: files)
    }

    /// Checks the options of `targets` too (what `validate` reports), without rendering.
    /// - Parameter targets: the targets to check; nil checks those the spec configures under `targets:`
    ///   (none configured is a warning: only the spec and its graph are checked).
    public static func validate(_ source: SourceFile, targets: [TargetKind]?, sources: PythonSources.Provider? = nil) -> Analysis {
        var analysis = analyse(source, sources: sources)
        if let spec = analysis.spec, let plan = analysis.plan {
            let input = TargetInput(spec: spec, plan: plan, sourceName: source.path)
            let kinds = targets ?? configuredTargets(spec)
            if kinds.isEmpty {
                analysis.diagnostics.warning(
                    "no target is configured under 'targets:', so no target's options were checked",
                    at: SourceLocation(file: source.path, line: 1, column: 1),
                    notes: [chooseTargetHint])
            }
            // The options stage only: nothing is lowered or rendered.
            for kind in kinds { _ = kind.check(input, diagnostics: &analysis.diagnostics) }
        }
        return analysis
    }

    /// How to choose targets, for messages about none being chosen.
    public static let chooseTargetHint =
        "choose with --target (\(TargetKind.allCases.map(\.rawValue).joined(separator: ", ")) or all), or name the targets you use in djflow.yaml, e.g. 'targets: {slurm: {partition: compute}}' (an empty 'slurm: {}' is enough)"

    /// The targets named under `targets:` (pipeline-wide or in any table), sorted.
    public static func configuredTargets(_ spec: PipelineSpec) -> [TargetKind] {
        let names = Set(spec.targetOptions.keys).union(spec.tables.flatMap { $0.targetOptions.keys })
        return names.compactMap(TargetKind.init(rawValue:)).sorted()
    }

    /// Reports target names under `targets:` that djflow does not know (a typo would silently drop options).
    static func checkTargetNames(_ spec: PipelineSpec, diagnostics: inout Diagnostics) {
        let known = TargetKind.allCases.map(\.rawValue)
        let sections = [("'targets'", spec.targetOptions, spec.targetKeyLocations)]
            + spec.tables.map { ("'targets' of table '\($0.name)'", $0.targetOptions, $0.targetKeyLocations) }
        for (context, options, keys) in sections {
            for (name, node) in options.sorted(by: { $0.key < $1.key }) where !known.contains(name) {
                let location = keys[name] ?? node.location
                diagnostics.error("unknown target '\(name)' in \(context)\(Suggestions.hint(for: name, in: known))",
                                  at: location, notes: ["djflow compiles for: \(known.joined(separator: ", "))"])
            }
        }
    }

    /// Every file that `compile` writes for `targets`, rendered, or nil with diagnostics.
    public static func compile(
        _ source: SourceFile, targets: [TargetKind], templates: TemplateLibrary, sourceName: String,
        sources: PythonSources.Provider? = nil
    ) -> (files: [OutputFile]?, diagnostics: Diagnostics) {
        let result = compile(source, chosen: targets, templates: templates, sourceName: sourceName, sources: sources)
        return (result.files, result.diagnostics)
    }

    /// `compile` for the targets chosen, or (`chosen` nil) for those configured under `targets:`.
    /// - Returns: the files (nil on errors, or when no target is chosen or configured: `targets` is then
    ///   empty), the diagnostics and the targets compiled.
    public static func compile(
        _ source: SourceFile, chosen: [TargetKind]?, templates: TemplateLibrary, sourceName: String,
        sources: PythonSources.Provider? = nil
    ) -> (files: [OutputFile]?, diagnostics: Diagnostics, targets: [TargetKind]) {
        let collected = Collected()
        // Collecting cannot fail, so neither can compiling.
        let result = try! compile(source, chosen: chosen, templates: templates, sourceName: sourceName, sources: sources) { file in
            collected.add(file)
        }
        return (result.compiled ? collected.files.sorted { $0.path < $1.path } : nil, result.diagnostics, result.targets)
    }

    /// `compile`, handing each file to `consume` as soon as it is rendered, on the renderer's threads (files
    /// are independent), and letting it go after: a large pipeline never holds a target's rendered text at
    /// once. Each part of a target (a workflow) is lowered and its files rendered in one task, heaviest parts
    /// first, so a part's contexts go as soon as its files are rendered. `prepare` is told each target before
    /// any of its files, on the calling thread; its files are all under `kind.folder`. Nothing is prepared or
    /// consumed when there are errors: every target's options are checked first.
    /// - Returns: whether every target was compiled, the diagnostics and the targets.
    /// - Throws: the first error `prepare` or `consume` threw (the parts of that target still being rendered
    ///   are finished first; a part stops at its first error).
    public static func compile(
        _ source: SourceFile, chosen: [TargetKind]?, templates: TemplateLibrary, sourceName: String,
        sources: PythonSources.Provider? = nil, prepare: (TargetKind) throws -> Void = { _ in },
        consume: @Sendable (OutputFile) throws -> Void
    ) throws -> (compiled: Bool, diagnostics: Diagnostics, targets: [TargetKind]) {
        var analysis = analyse(source, sources: sources)
        guard let spec = analysis.spec, let plan = analysis.plan, !analysis.diagnostics.hasErrors else {
            return (false, analysis.diagnostics, chosen ?? [])
        }
        let targets = chosen ?? configuredTargets(spec)
        if targets.isEmpty { return (false, analysis.diagnostics, []) }
        let input = TargetInput(spec: spec, plan: plan, sourceName: sourceName)
        // Every target's options are checked before any is lowered, so all problems come at once.
        let checked = targets.sorted().compactMap { kind in kind.check(input, diagnostics: &analysis.diagnostics).map { (kind, $0) } }
        if analysis.diagnostics.hasErrors { return (false, analysis.diagnostics, targets) }
        let renderer = ArtifactRenderer(templates: templates, sourceName: sourceName)
        // One target at a time; its parts on all cores, each lowered and rendered in one task.
        for (kind, target) in checked {
            let parts = target.parts(for: input)
            try prepare(kind)
            // Heaviest first (a stable order: by weight, then as listed), so the cores finish together.
            let order = parts.indices.sorted { (parts[$0].weight, $1) > (parts[$1].weight, $0) }
            let failure = FirstFailure()
            DispatchQueue.concurrentPerform(iterations: order.count) { index in
                for artifact in parts[order[index]].lower() {
                    do { try consume(renderer.render(artifact)) } catch { failure.record(error); return }
                }
            }
            if let error = failure.error { throw error }
        }
        return (true, analysis.diagnostics, targets)
    }
}

/// Files handed over from the renderer's threads, kept in any order.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var files: [OutputFile] = []
    func add(_ file: OutputFile) { lock.lock(); files.append(file); lock.unlock() }
}

/// A rendered file, ready to write: path relative to the output folder.
public struct OutputFile: Equatable, Sendable {
    public var path: String
    public var contents: String
    public var executable: Bool
    /// The template file this one copies verbatim (with the header added), e.g. `runner/djflow_populate.py`;
    /// nil for rendered files. Goldens keep rendered files only and check copies against the template.
    public var copiedFrom: String?

    public init(path: String, contents: String, executable: Bool, copiedFrom: String? = nil) {
        self.path = path; self.contents = contents; self.executable = executable; self.copiedFrom = copiedFrom
    }
}

/// Renders artifacts and applies the rules every generated file follows: a "generated by" header after any
/// shebang, LF line ends, exactly one final newline.
struct ArtifactRenderer: Sendable {
    let templates: TemplateLibrary
    let sourceName: String
    /// Embedded files as encoded text, made once per compile (the runner is embedded in every workflow file).
    private let embeddedTexts = EmbeddedTexts()

    /// `# generated by djflow from <file>, do not edit` (the file name with control characters replaced).
    let header: String

    init(templates: TemplateLibrary, sourceName: String) {
        self.templates = templates; self.sourceName = sourceName
        let printable = String(String.UnicodeScalarView(sourceName.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
        header = "# generated by djflow from \(printable), do not edit"
    }

    func render(_ artifact: Artifact) -> OutputFile {
        var text: String
        var copiedFrom: String?
        switch artifact.content {
        case .template(let context):
            var value = context.templateValue
            if case .object(var fields) = value { fields["header"] = .string(header); value = .object(fields) }
            text = templates.render(type(of: context).template, value) { file in
                embeddedTexts.text(of: file) { file.encode(insertHeader(templates.raw(file.name))) }
            }
        case .file(let name):
            text = insertHeader(templates.raw(name))
            copiedFrom = name
        }
        return OutputFile(path: artifact.path, contents: normalized(text), executable: artifact.executable, copiedFrom: copiedFrom)
    }

    private func insertHeader(_ text: String) -> String {
        if text.hasPrefix("#!"), let end = text.firstIndex(of: "\n") {
            return String(text[...end]) + header + "\n" + text[text.index(after: end)...]
        }
        return header + "\n" + text
    }

    private func normalized(_ text: String) -> String {
        // Foundation's replacing is slow on large texts, and so is a byte-by-byte search; most have no CR
        let hasCR = text.utf8.withContiguousStorageIfAvailable { bytes in bytes.baseAddress.map { memchr($0, 13, bytes.count) != nil } ?? false } ?? text.utf8.contains(13)
        var out = hasCR ? text.replacingOccurrences(of: "\r\n", with: "\n") : text
        // One final newline: most texts already end so and are returned without a copy.
        let newline = UInt8(ascii: "\n")
        var trailing = 0
        for byte in out.utf8.reversed() { if byte == newline { trailing += 1 } else { break } }
        if trailing == 1 { return out }
        if trailing > 1 { out.removeLast(trailing - 1) } else { out += "\n" }
        return out
    }
}

/// Encoded embedded files by file and encoding, shared by the renderer's threads.
private final class EmbeddedTexts: @unchecked Sendable {
    private var texts: [EmbeddedFile: String] = [:]
    private let lock = NSLock()

    func text(of file: EmbeddedFile, make: () -> String) -> String {
        lock.lock()
        if let text = texts[file] { lock.unlock(); return text }
        lock.unlock()
        let text = make()
        lock.lock(); texts[file] = text; lock.unlock()
        return text
    }
}
