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

    /// The folder under the output folder that holds this target's files (and nothing else's).
    public var folder: String { rawValue }

    public static func < (lhs: TargetKind, rhs: TargetKind) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The options stage of this target: its options read and checked (and the spec values it writes), with
    /// every problem in `diagnostics`. Nil when the target cannot be lowered.
    public func check(_ input: TargetInput, diagnostics: inout Diagnostics) -> CheckedTarget? {
        switch self {
        case .airflow: return CheckedTarget.check(AirflowTarget(), input, &diagnostics)
        case .htcondor: return CheckedTarget.check(HTCondorTarget(), input, &diagnostics)
        case .kubernetes: return CheckedTarget.check(KubernetesTarget(), input, &diagnostics)
        case .slurm: return CheckedTarget.check(SlurmTarget(), input, &diagnostics)
        }
    }
}

/// A target whose options passed the options stage, ready to lower the plan.
public struct CheckedTarget: Sendable {
    public let kind: TargetKind
    private let lower: @Sendable (TargetInput) -> [LoweringPart]

    /// The target's lowering in independent parts (a workflow each, and the target's other files), each
    /// lowered when asked: layout, quoting and naming of the plan, nothing left to check.
    public func parts(for input: TargetInput) -> [LoweringPart] { lower(input) }

    /// The target's artifacts, every part lowered (on all cores), in part order.
    public func artifacts(for input: TargetInput) -> [Artifact] {
        lower(input).concurrentMap { $0.lower() }.flatMap { $0 }
    }

    static func check<T: SchedulerTarget>(_ target: T, _ input: TargetInput, _ diagnostics: inout Diagnostics) -> CheckedTarget? {
        var own = Diagnostics()
        let options = target.checkedOptions(for: input, diagnostics: &own)
        diagnostics.append(contentsOf: own)
        guard let options, !own.hasErrors else { return nil }
        return CheckedTarget(kind: target.kind, lower: { target.parts(for: $0, options: options) })
    }
}

/// An independent part of a target's lowering (a workflow's files, or the target-wide ones): the compiler
/// lowers it and renders its files in one task, so a part's contexts go as soon as its files are rendered and
/// no target waits for all its parts to be lowered before rendering starts.
public struct LoweringPart: Sendable {
    /// About how much work the part is (its jobs): the heaviest parts start first, so the cores finish together.
    public var weight: Int
    public var lower: @Sendable () -> [Artifact]

    public init(weight: Int, lower: @escaping @Sendable () -> [Artifact]) {
        self.weight = weight; self.lower = lower
    }

    /// Files that need no lowering.
    public static func files(_ artifacts: [Artifact]) -> LoweringPart { LoweringPart(weight: 0) { artifacts } }
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

/// A scheduler back-end in two stages, no I/O in either: the options stage reads and checks everything the
/// target takes from the spec (`validate` runs only this), then lowering lays out the plan.
protocol SchedulerTarget: Sendable {
    /// This target's options, read and checked.
    associatedtype Options: Sendable
    var kind: TargetKind { get }
    /// Reads `targets.<kind>` (pipeline-wide and per table), checks the spec values this target writes, and
    /// warns about settings it ignores. Returns nil (with errors in `diagnostics`) when it cannot lower.
    func checkedOptions(for input: TargetInput, diagnostics: inout Diagnostics) -> Options?
    /// Lowers the plan with checked options, in independent parts: layout, quoting and naming only. What
    /// every part shares (names, values made once per target) is made here; each part lowers when asked.
    func parts(for input: TargetInput, options: Options) -> [LoweringPart]
}
