import DJFlowKit
import DJFlowTargets
import Foundation
import Testing

/// Generated output of every sample and target, compared byte for byte with `Tests/DJFlowTests/Golden/`.
///
/// To accept a change on purpose: `DJFLOW_RECORD_GOLDENS=1 swift test --filter GoldenTests`. Recording
/// rewrites the goldens and then fails, so a recording run can never pass CI by accident.
@Suite struct GoldenTests {
    static let recording = ProcessInfo.processInfo.environment["DJFLOW_RECORD_GOLDENS"] == "1"

    @Test(arguments: sampleNames, TargetKind.allCases)
    func sampleMatchesGolden(sample: String, target: TargetKind) throws {
        let files = try compileFiles(try sampleSource(sample), targets: [target])
        let folder = packageRoot.appendingPathComponent("Tests/DJFlowTests/Golden/\(sample)")
        let writer = ArtifactWriter(outputFolder: folder.path)
        if Self.recording {
            try writer.write(files)
            Issue.record("recorded goldens for \(sample)/\(target.rawValue); rerun without DJFLOW_RECORD_GOLDENS")
            return
        }
        let drift = writer.check(files)
        #expect(drift.isEmpty, "golden drift for \(sample)/\(target.rawValue): \(drift); inspect with 'djflow compile Samples/\(sample)/djflow.yaml --target \(target.rawValue) --out Tests/DJFlowTests/Golden/\(sample)' and git diff")
    }

    @Test(arguments: sampleNames)
    func templatesLeaveNoUnrenderedTags(sample: String) throws {
        for file in try compileFiles(try sampleSource(sample)) where !file.path.hasSuffix(".py") {
            #expect(!file.contents.contains("{{"), "\(file.path) has an unrendered tag")
            #expect(!file.contents.contains("\u{0}"), "\(file.path) has a NUL")
        }
    }
}
