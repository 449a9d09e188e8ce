// What every target implements and returns: the target registry, TargetInput, Artifact, SchedulerTarget.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

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

/// The typed context of every template under `Templates/` (one each): what `--templates` overrides are
/// checked against, and what the tag test compares every embedded template with.
public enum TemplateContexts {
    public static let all: [any TemplateContext.Type] = [
        AirflowDagContext.self, AirflowIgnoreContext.self,
        HTCondorDagContext.self, HTCondorLogsReadmeContext.self, HTCondorSubmitContext.self,
        KubernetesWorkflowContext.self,
        SlurmJobContext.self, SlurmSubmitContext.self,
    ]
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

/// One file a target wants written, before rendering.
public struct Artifact: Sendable {
    public enum Content: Sendable {
        /// A Mustache template filled with its typed context (the type names the template).
        case template(any TemplateContext)
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
