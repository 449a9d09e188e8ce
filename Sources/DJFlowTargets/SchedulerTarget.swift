// What every target implements and returns: the target registry, TargetInput, Artifact, SchedulerTarget.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec

/// The schedulers djflow compiles for. The registry below maps each to its implementation.
public enum TargetKind: String, CaseIterable, Sendable, Comparable {
    case airflow
    case htcondor
    case kubernetes
    case slurm

    public static func < (lhs: TargetKind, rhs: TargetKind) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The implementation for this kind.
    public var target: any SchedulerTarget {
        switch self {
        case .airflow: return AirflowTarget()
        case .htcondor: return HTCondorTarget()
        case .kubernetes: return KubernetesTarget()
        case .slurm: return SlurmTarget()
        }
    }
}

/// What every target lowers: the checked spec, its plan, and how to name the source in headers.
public struct TargetInput: Sendable {
    public var spec: PipelineSpec
    public var plan: ExecutionPlan
    /// The pipeline file as printed in generated headers (relative, never absolute).
    public var sourceName: String

    public init(spec: PipelineSpec, plan: ExecutionPlan, sourceName: String) {
        self.spec = spec; self.plan = plan; self.sourceName = sourceName
    }
}

/// A context value that the renderer replaces with a template file's text (the runner), with the generated
/// header added, passed through `encode` (e.g. a YAML block scalar). Resolved in nested contexts too.
public struct EmbeddedFile: Sendable {
    public var name: String
    public var encode: @Sendable (String) -> String

    public init(_ name: String, encode: @escaping @Sendable (String) -> String) {
        self.name = name; self.encode = encode
    }
}

/// One file a target wants written, before rendering.
public struct Artifact: Sendable {
    public enum Content: Sendable {
        /// A Mustache template (name without `.mustache`) and its context of already-escaped values.
        case template(String, context: [String: any Sendable])
        /// A template file copied verbatim (the populate runner).
        case file(String)
    }

    /// Path relative to the output folder (`slurm/w0-recording/submit.sh`).
    public var path: String
    public var content: Content
    public var executable: Bool

    public init(path: String, content: Content, executable: Bool = false) {
        self.path = path; self.content = content; self.executable = executable
    }
}

/// A scheduler back-end: reads its options and lowers the plan to artifacts. No I/O.
public protocol SchedulerTarget: Sendable {
    var kind: TargetKind { get }
    /// Checks this target's options in the spec and lowers the plan.
    /// - Returns: the artifacts, or nil when options had errors (appended to `diagnostics`).
    func artifacts(for input: TargetInput, diagnostics: inout Diagnostics) -> [Artifact]?
}
