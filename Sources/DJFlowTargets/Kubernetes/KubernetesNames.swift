// Kubernetes: name and label syntax checks, and stable fitting to length limits.

import DJFlowCore
import DJFlowPlan

/// Kubernetes names and label values: syntax checks and stable fitting.
///
/// Job names are at most 47 characters so that `<job>-refresh` (55) and the pod host name the Job controller
/// derives for an Indexed Job, `<job>-<index>` (index < 100000), stay DNS-1123 labels (at most 63).
enum KubernetesNames {
    static let labelLimit = 63
    static let jobNameLimit = 47

    private static func isLowerAlnum(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("0"..."9").contains(s) }
    private static func isAlnum(_ s: Unicode.Scalar) -> Bool { isLowerAlnum(s) || ("A"..."Z").contains(s) }

    /// DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
    static func isLabel(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last, scalars.count <= labelLimit else { return false }
        return isLowerAlnum(first) && isLowerAlnum(last) && scalars.allSatisfy { isLowerAlnum($0) || $0 == "-" }
    }

    /// DNS-1123 subdomain: labels joined by `.`, at most 253.
    static func isSubdomain(_ text: String) -> Bool {
        text.count <= 253 && !text.isEmpty && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }

    /// Label value: empty, or at most 63 of `[A-Za-z0-9._-]` with alphanumerics at both ends.
    static func isLabelValue(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last else { return true }
        return scalars.count <= labelLimit && isAlnum(first) && isAlnum(last)
            && scalars.allSatisfy { isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// Label key: `[prefix/]name`, prefix a DNS subdomain, name a non-empty label value.
    static func isQualifiedName(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: return !parts[0].isEmpty && isLabelValue(parts[0])
        case 2: return isSubdomain(parts[0]) && !parts[1].isEmpty && isLabelValue(parts[1])
        default: return false
        }
    }

    /// Any text as a DNS-1123 label of at most `limit` characters (lower-cased, other characters → `-`,
    /// a stable hash suffix when shortened).
    static func label(_ text: String, limit: Int = labelLimit) -> String {
        let raw = NameFitting.sanitize(text.lowercased(), allowed: { isLowerAlnum($0) })
        let name = raw.isEmpty ? "x" + StableHash.hex(text) : raw
        return NameFitting.fit(name, limit: limit)
    }

    /// Any text as a label value (at most 63, alphanumerics at both ends, stable hash when shortened).
    static func labelValue(_ text: String) -> String {
        var raw = NameFitting.sanitize(text, allowed: { isAlnum($0) || $0 == "." || $0 == "_" })
        while let last = raw.unicodeScalars.last, !isAlnum(last) { raw.unicodeScalars.removeLast() }
        while let first = raw.unicodeScalars.first, !isAlnum(first) { raw.unicodeScalars.removeFirst() }
        let fitted = NameFitting.fit(raw, limit: labelLimit)
        return fitted.isEmpty ? StableHash.hex(text) : fitted
    }
}

/// The object names of one compiled pipeline: unique, stable, valid.
struct KubernetesObjectNames {
    private var jobs: [String: String] = [:]
    let pipeline: String

    init(plan: ExecutionPlan) {
        pipeline = plan.pipeline
        var used = Set<String>()
        for job in plan.jobs {
            var name = KubernetesNames.label("\(plan.pipeline)-\(job.id)", limit: KubernetesNames.jobNameLimit)
            if used.contains(name) {
                name = KubernetesNames.label("\(plan.pipeline)-\(job.id)-\(StableHash.hex(job.id))", limit: KubernetesNames.jobNameLimit)
            }
            used.insert(name)
            jobs[job.id] = name
        }
    }

    /// The Job that runs the table's workers.
    func job(_ id: String) -> String { jobs[id]! }
    /// The one-pod Job that refreshes the table's job queue before a multi-worker Job.
    func refreshJob(_ id: String) -> String { jobs[id]! + "-refresh" }
    /// The ConfigMap of a workflow: runner, helper and key restriction.
    func configMap(_ workflow: String) -> String { KubernetesNames.label("\(pipeline)-\(workflow)") }
    /// ServiceAccount, Role and RoleBinding of a workflow's waits.
    func waiter(_ workflow: String) -> String { KubernetesNames.label("\(pipeline)-\(workflow)", limit: KubernetesNames.labelLimit - 5) + "-wait" }
}
