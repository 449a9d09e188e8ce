// swift-tools-version:6.0
import PackageDescription

// djflow: a compiler from DataJoint pipeline definitions to scheduler-native artifacts.
// Stages (each a module, dependencies point one way):
//   DJFlowCore → DJFlowSpec (load + validate) → DJFlowPython (tables read from Python sources) → DJFlowPlan (graph + plan) → DJFlowTargets (contexts)
//   → DJFlowTemplates (render) → DJFlowKit (pipeline, writer) → djflow (CLI)
let package = Package(
    name: "djflow",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "djflow", targets: ["djflow"]),
        .library(name: "DJFlowKit", targets: ["DJFlowKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        .target(name: "DJFlowCore"),
        .target(
            name: "DJFlowSpec",
            dependencies: ["DJFlowCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "DJFlowPlan", dependencies: ["DJFlowCore", "DJFlowSpec"]),
        .target(name: "DJFlowPython", dependencies: ["DJFlowCore", "DJFlowSpec"]),
        .executableTarget(name: "djflow-embed-templates", path: "Sources/EmbedTemplatesTool"),
        .plugin(name: "EmbedTemplates", capability: .buildTool(), dependencies: ["djflow-embed-templates"]),
        .target(
            name: "DJFlowTemplates",
            dependencies: ["DJFlowCore", .product(name: "Mustache", package: "swift-mustache")],
            plugins: ["EmbedTemplates"]),
        .target(name: "DJFlowTargets", dependencies: ["DJFlowCore", "DJFlowSpec", "DJFlowPlan", "DJFlowTemplates"]),
        .target(name: "DJFlowKit", dependencies: ["DJFlowCore", "DJFlowSpec", "DJFlowPython", "DJFlowPlan", "DJFlowTemplates", "DJFlowTargets"]),
        // Every module a target imports is listed, not only the one that brings the others: SwiftPM
        // recompiles a target when a listed module changes, so a change to, say, ExecutionPlan's layout
        // reaches the CLI even when DJFlowKit's interface stays the same (otherwise an incremental build,
        // e.g. a second scripts/install.sh after a pull, can link stale objects that crash).
        .executableTarget(
            name: "djflow",
            dependencies: ["DJFlowCore", "DJFlowSpec", "DJFlowPython", "DJFlowPlan", "DJFlowTemplates", "DJFlowTargets", "DJFlowKit",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "DJFlowTests",
                    dependencies: ["DJFlowCore", "DJFlowSpec", "DJFlowPython", "DJFlowPlan", "DJFlowTemplates", "DJFlowTargets", "DJFlowKit",
                                   .product(name: "Yams", package: "Yams")],
                    exclude: ["Golden"]),
    ]
)

// Release builds skip the run-time exclusivity checks (measured: a tenth of the CPU time of rendering
// 10,000 tables' Kubernetes manifests, where every append to a node of a template's value tree is checked).
// Debug builds, which the tests run, keep them, so an overlapping access still fails there.
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}

// Fuzz targets (libFuzzer), only when scripts/fuzz.sh builds them: DJFLOW_FUZZ=1, every module with
// -sanitize=address and libFuzzer's coverage, into .build-fuzz; libFuzzer itself is linked into these two
// only (-sanitize=fuzzer on every module would give the build plugin's tool a second main).
// The normal build and CI never see them.
if Context.environment["DJFLOW_FUZZ"] == "1" {
    let fuzzDependencies: [Target.Dependency] = ["FuzzDriver", "DJFlowCore", "DJFlowSpec", "DJFlowPython", "DJFlowPlan", "DJFlowTargets", "DJFlowKit"]
    package.targets.append(.target(name: "FuzzDriver", path: "Fuzz/Sources/FuzzDriver"))
    for (name, folder) in [("djflow-fuzz-spec", "SpecFuzz"), ("djflow-fuzz-python", "PythonFuzz")] {
        package.targets.append(.executableTarget(
            name: name, dependencies: fuzzDependencies, path: "Fuzz/Sources/\(folder)",
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer", "-use-ld=lld"])]))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
