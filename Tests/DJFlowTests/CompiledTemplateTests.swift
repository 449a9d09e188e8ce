// djflow renders its templates with a small built-in Mustache renderer (CompiledTemplate) and leaves
// templates that use more of Mustache to swift-mustache: both must give the same bytes.
import DJFlowCore
import DJFlowKit
import DJFlowTargets
@testable import DJFlowTemplates
import Foundation
import Testing

@Suite struct CompiledTemplateTests {
    func both(_ template: String, _ value: TemplateValue) throws -> (fast: String, mustache: String) {
        let compiled = try #require(CompiledTemplate(template), "\(template.debugDescription) does not compile")
        return (compiled.render(value), try #require(TemplateLibrary.renderWithMustache(text: template, value)))
    }

    @Test func everyEmbeddedTemplateIsCompiled() throws {
        let library = try TemplateLibrary()
        let templates = library.names.filter { $0.hasSuffix(".mustache") }.map { String($0.dropLast(".mustache".count)) }
        #expect(library.compiledNames == templates.sorted())
    }

    @Test(arguments: sampleNames, TargetKind.allCases)
    func samplesRenderTheSameWithBothRenderers(sample: String, target: TargetKind) throws {
        let source = try sampleSource(sample)
        var mustache = try TemplateLibrary()
        mustache.usesCompiledTemplates = false
        let fast = try compileFiles(source, targets: [target])
        let slow = try #require(CompilerPipeline.compile(source, targets: [target], templates: mustache, sourceName: source.path).files)
        #expect(fast == slow)
    }

    @Test func anOptionHeavyPipelineRendersTheSameWithBothRenderers() throws {
        let source = SourceFile(path: "test.yaml", text: pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], workers: 3, throttle: 2, processes: 2, max_calls: 5, on_error: continue, priority: 3, pipelining: false, retries: 0, resources: {gpus: 1, memory: 3G, time: '1:00:00'}}
            B: {tier: computed, depends_on: [A], workers: auto, max_workers: 4, retries: 2}
            G: {tier: manual, depends_on: [B]}
            C: {tier: computed, depends_on: [G]}
            """, extra: """
            targets:
              slurm: {setup: ['module load x', ''], env: {A: "it's $HOME"}, partition: p, extra: ['--exclusive']}
              htcondor: {extra: ['+Fast = True'], image: 'docker://x/y:1', max_jobs: {big: 2}}
              airflow: {pool: p, queue: q, paused_upon_creation: true, gated: assets}
              kubernetes: {namespace: lab, service_account: runner}
            tables:
              A: {targets: {htcondor: {category: big}}}
            """.replacingOccurrences(of: "tables:\n  A: {targets: {htcondor: {category: big}}}", with: "")))
        var mustache = try TemplateLibrary()
        mustache.usesCompiledTemplates = false
        let fast = CompilerPipeline.compile(source, targets: TargetKind.allCases, templates: try TemplateLibrary(), sourceName: source.path)
        let slow = CompilerPipeline.compile(source, targets: TargetKind.allCases, templates: mustache, sourceName: source.path)
        let files = try #require(fast.files, "\(DiagnosticPrinter(files: [source]).format(fast.diagnostics))")
        #expect(files.count > 10)
        #expect(files == slow.files)
    }

    @Test func mustacheSemanticsTheTemplatesRelyOn() throws {
        let value = TemplateValue.object([
            "title": .string("T"), "yes": .bool(true), "no": .bool(false), "empty": .list([]),
            "jobs": .list([.object(["name": .string("a"), "lines": .list([.object(["line": .string("1")])])]),
                           .object(["name": .string("b"), "lines": .list([])])]),
            "words": .list([.string("x"), .string("y")]),
            "nested": .object(["inner": .object(["deep": .string("D")])]),
        ])
        let cases = [
            "{{title}}\n{{#jobs}}\n  {{name}}: {{title}}\n{{#lines}}\n    {{line}}\n{{/lines}}\n{{^lines}}\n    none\n{{/lines}}\n{{/jobs}}\nend",
            "  {{#yes}}  \nY\n  {{/yes}}\n{{#no}}N{{/no}}{{^no}}not{{/no}}{{^empty}}E{{/empty}}{{#empty}}x{{/empty}}\n",
            "{{! a comment }}\n{{#words}}[{{.}}]{{/words}}\n{{nested.inner.deep}} {{nested.missing}} {{missing}}|{{{title}}}|{{& title}}\n",
            "a {{#yes}}inline{{/yes}} b\r\n{{#yes}}\r\ncrlf\r\n{{/yes}}\r\nlast {{#no}}x{{/no}}",
            "{{#nested}}{{#inner}}{{deep}}{{title}}{{/inner}}{{/nested}}\n{{#yes}}{{yes}}{{/yes}}",
        ]
        for template in cases {
            let (fast, mustache) = try both(template, value)
            #expect(fast == mustache, "\(template.debugDescription)\nbuilt-in: \(fast.debugDescription)\nswift-mustache: \(mustache.debugDescription)")
        }
    }

    @Test func templatesUsingMoreOfMustacheAreLeftToSwiftMustache() {
        for text in ["{{> other}}", "{{=<% %>=}}<% x %>", "{{% CONTENT_TYPE: TEXT}}", "{{$block}}x{{/block}}", "{{first(jobs)}}", "{{#a}}", "{{/a}}"] {
            #expect(CompiledTemplate(text) == nil, "\(text)")
        }
        #expect(CompiledTemplate("{{#a}}{{b}}{{/a}}") != nil)
    }
}
