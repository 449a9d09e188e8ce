// `--templates` overrides: a misspelt tag, a wrong partial or a template that does not parse is a located
// error naming the template, the line and the tag (issue 11, item 2), never an empty substitution or a Swift dump.
import DJFlowCore
@testable import DJFlowTemplates
import Foundation
import Testing

@Suite struct TemplateOverrideTests {
    /// A fresh override folder holding `files` (relative path → text).
    func folder(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("djflow-tpl-\(UUID().uuidString)")
        for (name, text) in files {
            let url = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root.path
    }

    func failure(_ files: [String: String]) throws -> TemplateLibrary.LoadFailure {
        let path = try folder(files)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try TemplateLibrary(overrideFolder: path)
        } catch let failure as TemplateLibrary.LoadFailure {
            return failure
        }
        Issue.record("the override folder was accepted")
        return TemplateLibrary.LoadFailure(diagnostics: Diagnostics(), files: [])
    }

    @Test func scannerFindsTagsWithTheirSectionsAndPlaces() throws {
        let tags = try #require(TemplateTags.scan("a {{x}}\n{{#jobs}}\n  {{{name}}} {{& id}}{{! note }}\n{{/jobs}}{{> part}}{{^f(y)}}{{/f(y)}}"))
        #expect(tags.map(\.name) == ["x", "jobs", "name", "id", "jobs", "part", "y", "y"])
        #expect(tags[2].sections == ["jobs"] && tags[2].line == 3 && tags[2].column == 3)
        #expect(tags[0].line == 1 && tags[0].column == 3)
        #expect(tags[5].kind == .partial && tags[6].kind == .inverted)
        #expect(TemplateTags.scan("{{=<% %>=}} <% x %>") == nil, "changed delimiters are not read")
    }

    @Test func namesAreLookedUpThroughTheEnclosingSections() throws {
        let known = try #require(TemplateTags.scan("{{pipeline}}{{#jobs}}{{name}}{{#retried}}{{count}}{{/retried}}{{/jobs}}"))
        let vocabulary = TemplateTags.vocabulary(known)
        let override = try #require(TemplateTags.scan("{{#jobs}}{{pipeline}}{{name.first}}{{.}}{{nmae}}{{/jobs}}{{name}}"))
        #expect(override.map { TemplateTags.isKnown($0, in: vocabulary) } == [true, true, true, true, false, true, false])
    }

    @Test func theEmbeddedTemplatesLoadAndEveryOneOfThemPassesItsOwnCheck() throws {
        let library = try TemplateLibrary()
        for name in library.names where name.hasSuffix(".mustache") {
            var diagnostics = Diagnostics()
            TemplateLibrary.checkTags(of: library.files[name]!, at: name, against: library.files[name]!, schema: nil, named: name, into: &diagnostics)
            #expect(diagnostics.all.isEmpty, "\(name): \(diagnostics.all)")
            #expect(TemplateTags.scan(library.files[name]!)?.isEmpty == false, "\(name) has no tags: the scanner misses them")
        }
    }

    @Test func aMisspeltTagIsALocatedErrorWithASuggestion() throws {
        let original = try TemplateLibrary().files["slurm/job.sbatch.mustache"]!
        let lines = original.split(separator: "\n", omittingEmptySubsequences: false)
        let index = try #require(lines.firstIndex { $0.contains("{{retries}}") })
        let failure = try failure(["slurm/job.sbatch.mustache": original.replacingOccurrences(of: "{{retries}}", with: "{{retrys}}")])
        let first = try #require(failure.diagnostics.sorted.first)
        #expect(first.message.contains("unknown tag 'retrys' in template 'slurm/job.sbatch.mustache'"))
        #expect(first.message.hasSuffix("did you mean 'retries'?"))
        #expect(first.location?.line == index + 1)
        #expect(first.location?.column == lines[index].distance(from: lines[index].startIndex, to: lines[index].range(of: "{{retries}}")!.lowerBound) + 1)
        #expect(failure.description.contains("^\n"), "the printed error shows the line and a caret")
    }

    @Test func everyProblemOfTheFolderIsReportedAtOnce() throws {
        let failure = try failure([
            "slurm/submit.sh.mustache": "#!/bin/bash\n{{#jobs}}\n{{ nmae }}\n{{/job}}\n",
            "slurm/submitt.sh.mustache": "x",
            "airflow/dag.py.mustache": "{{> slurm/nothing}}",
        ])
        let messages = failure.diagnostics.sorted.map(\.message)
        #expect(messages.contains { $0.contains("'slurm/submitt.sh.mustache'") && $0.contains("did you mean 'slurm/submit.sh.mustache'") })
        #expect(messages.contains { $0.contains("unknown tag 'nmae'") && $0.contains("inside 'jobs'") })
        #expect(messages.contains { $0.contains("does not parse: a section is closed with another name") })
        #expect(messages.contains { $0.contains("includes 'slurm/nothing', which is not a djflow template") })
        let parse = try #require(failure.diagnostics.sorted.first { $0.message.contains("does not parse") })
        #expect(parse.location?.line == 4, "located in the override file: \(String(describing: parse.location))")
        #expect(!failure.description.contains("MustacheParserContext"), "never a Swift dump")
    }

    @Test func anOverrideUsingOnlyKnownTagsIsAccepted() throws {
        let original = try TemplateLibrary().files["slurm/submit.sh.mustache"]!
        let path = try folder(["slurm/submit.sh.mustache": original.replacingOccurrences(of: "set -euo pipefail", with: "set -euo pipefail\n# site")])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let library = try TemplateLibrary(overrideFolder: path)
        #expect(library.overridden == ["slurm/submit.sh.mustache"])
    }
}
