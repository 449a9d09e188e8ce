// Kubernetes: `targets.kubernetes` options, read and checked.

import DJFlowCore
import DJFlowSpec
import DJFlowTemplates

/// `targets.kubernetes` (pipeline-wide) and `tables.<T>.targets.kubernetes` (per table).
struct KubernetesOptions {
    static let pipelineKeys = ["namespace", "image_pull_secrets", "node_selector", "tolerations", "service_account",
                               "ttl_seconds_after_finished", "wait_image", "wait_timeout", "create_timeout", "wait_interval",
                               "restrictions", "env"]
    static let tableKeys = ["image", "node_selector", "tolerations"]

    struct Toleration: Equatable {
        var key: String?
        var `operator`: String?
        var value: String?
        var effect: String?
        var seconds: Int?
    }

    /// Options that a table may set or extend.
    struct Placement {
        var image: String?
        var nodeSelector: [(String, String)] = []
        var tolerations: [Toleration] = []
    }

    var namespace: String?
    var imagePullSecrets: [String] = []
    var placement = Placement()
    var serviceAccount: String?
    var ttlSecondsAfterFinished = 604_800
    var waitImage: String?
    var waitTimeout = 86_400
    var createTimeout = 600
    var waitInterval = 10
    /// Workflow id → key restriction (JSON text) written into that workflow's ConfigMap.
    var restrictions: [String: String] = [:]
    var environment: [(String, String)] = []
    var tablePlacement: [String: Placement] = [:]

    /// The image every container runs (`runner.image`); nil only after a diagnostic.
    var image: String = ""

    static func read(_ spec: PipelineSpec, workflows: [String], diagnostics: inout Diagnostics) -> KubernetesOptions {
        var reader = SpecReader()
        var options = KubernetesOptions()
        // A missing setting is reported where it belongs: in its section, or at the top level without one.
        let top = SourceLocation(file: spec.name.location.file, line: spec.name.location.line, column: 1)
        let configured = spec.targetOptions["kubernetes"] != nil || spec.tables.contains { $0.targetOptions["kubernetes"] != nil }
        var missing: [Diagnostic] = []
        let chosenNote = configured ? [] : ["kubernetes is not named under 'targets:': it is checked because --target asked for it ('all' means all four targets); choose the targets you use with --target, or under 'targets:'"]
        if let image = spec.runner.image {
            if checkImage(image, reader: &reader) { options.image = image.value }
        } else {
            let at = spec.runner.keyLocation ?? top
            missing.append(Diagnostic(.error,
                "the kubernetes target needs 'runner.image': the container image holding Python, DataJoint and the pipeline module(s)",
                at: at, notes: [spec.runner.keyLocation == nil ? "add 'runner: {image: ghcr.io/lab/ephys:1.2}'" : "add it under runner:, e.g. 'image: ghcr.io/lab/ephys:1.2'"]))
        }
        if let name = spec.database.secretName {
            if !KubernetesNames.isSubdomain(name.value) {
                reader.diagnostics.error("Secret name '\(name.value)' must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters", at: name.location)
            }
        } else {
            let name = "\(spec.name.value.lowercased())-db"
            let (at, how): (SourceLocation, String)
            if let secret = spec.database.secretKeyLocation {
                (at, how) = (secret, "add it under secret:, e.g. 'name: \(name)'")
            } else if let database = spec.database.keyLocation {
                (at, how) = (database, "add it under database:, e.g. 'secret: {name: \(name)}'")
            } else {
                (at, how) = (top, "add 'database: {secret: {name: \(name)}}'")
            }
            missing.append(Diagnostic(.error,
                "the kubernetes target needs 'database.secret.name': the Secret (created by you, never by djflow) holding keys '\(spec.database.userEnv.value)' and '\(spec.database.passwordEnv.value)'",
                at: at, notes: [how]))
        }
        // The first in file order says why kubernetes is checked at all when the pipeline does not name it.
        missing.sort { ($0.location ?? top) < ($1.location ?? top) }
        for (index, var diagnostic) in missing.enumerated() {
            if index == 0 { diagnostic.notes += chosenNote }
            reader.diagnostics.append(diagnostic)
        }
        if let node = spec.targetOptions["kubernetes"] {
            for (key, value) in reader.mapping(node, allowed: pipelineKeys, context: "'targets.kubernetes'") ?? [] {
                switch key.value {
                case "namespace":
                    if let text = reader.string(value, context: "'namespace'") {
                        if KubernetesNames.isLabel(text.value) { options.namespace = text.value }
                        else { reader.diagnostics.error("namespace '\(text.value)' must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", at: text.location) }
                    }
                case "image_pull_secrets":
                    for name in reader.stringList(value, context: "'image_pull_secrets'") ?? [] {
                        if KubernetesNames.isSubdomain(name.value) { options.imagePullSecrets.append(name.value) }
                        else { reader.diagnostics.error("image pull Secret '\(name.value)' must be a DNS-1123 subdomain", at: name.location) }
                    }
                case "service_account":
                    if let text = reader.string(value, context: "'service_account'") {
                        if KubernetesNames.isSubdomain(text.value) { options.serviceAccount = text.value }
                        else { reader.diagnostics.error("service account '\(text.value)' must be a DNS-1123 subdomain", at: text.location) }
                    }
                case "ttl_seconds_after_finished":
                    options.ttlSecondsAfterFinished = reader.integer(value, context: "'ttl_seconds_after_finished'", range: 0...31_536_000)?.value ?? options.ttlSecondsAfterFinished
                case "wait_image":
                    if let text = reader.string(value, context: "'wait_image'"), checkImage(text, reader: &reader) { options.waitImage = text.value }
                case "wait_timeout": options.waitTimeout = reader.integer(value, context: "'wait_timeout' (seconds)", range: 1...31_536_000)?.value ?? options.waitTimeout
                case "create_timeout": options.createTimeout = reader.integer(value, context: "'create_timeout' (seconds)", range: 1...86_400)?.value ?? options.createTimeout
                case "wait_interval": options.waitInterval = reader.integer(value, context: "'wait_interval' (seconds)", range: 1...3_600)?.value ?? options.waitInterval
                case "restrictions":
                    for pair in reader.stringMap(value, context: "'targets.kubernetes.restrictions'") ?? [] {
                        if workflows.contains(pair.key.value) { options.restrictions[pair.key.value] = pair.value.value }
                        else {
                            reader.diagnostics.error("unknown workflow '\(pair.key.value)' in 'targets.kubernetes.restrictions'\(Suggestions.hint(for: pair.key.value, in: workflows))",
                                                     at: pair.key.location, notes: ["workflows: \(workflows.joined(separator: ", ")) (see 'djflow plan')"])
                        }
                    }
                case "env": options.environment = reader.targetEnvironment(value, target: "kubernetes")
                default: break
                }
            }
            options.placement = readPlacement(node, reader: &reader, keys: ["node_selector", "tolerations"])
        }
        for entry in reader.tableTargetOptions(spec, target: "kubernetes", allowed: tableKeys) {
            options.tablePlacement[entry.table] = readPlacement(entry.node, reader: &reader, keys: tableKeys)
        }
        diagnostics.append(contentsOf: reader.diagnostics)
        return options
    }

    /// The placement of a table: its own image, node selector entries over the pipeline's, tolerations added.
    func placement(of table: String) -> Placement {
        guard let own = tablePlacement[table] else { return placement }
        var merged = placement
        if let image = own.image { merged.image = image }
        for (key, value) in own.nodeSelector {
            merged.nodeSelector.removeAll { $0.0 == key }
            merged.nodeSelector.append((key, value))
        }
        merged.tolerations += own.tolerations.filter { !merged.tolerations.contains($0) }
        return merged
    }

    private static func readPlacement(_ node: SpecNode, reader: inout SpecReader, keys: [String]) -> Placement {
        var placement = Placement()
        guard case .mapping(let pairs, _) = node else { return placement }
        for (key, value) in pairs where keys.contains(key.value) {
            switch key.value {
            case "image":
                if let text = reader.string(value, context: "'image'"), checkImage(text, reader: &reader) { placement.image = text.value }
            case "node_selector":
                for pair in reader.stringMap(value, context: "'node_selector'") ?? [] {
                    var ok = true
                    if !KubernetesNames.isQualifiedName(pair.key.value) {
                        reader.diagnostics.error("node selector key '\(pair.key.value)' is not a Kubernetes label key ([prefix/]name, name at most 63 characters of letters, digits, '-', '_', '.')", at: pair.key.location)
                        ok = false
                    }
                    if !KubernetesNames.isLabelValue(pair.value.value) {
                        reader.diagnostics.error("node selector value '\(pair.value.value)' is not a Kubernetes label value (at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit)", at: pair.value.location)
                        ok = false
                    }
                    if ok { placement.nodeSelector.append((pair.key.value, pair.value.value)) }
                }
            case "tolerations":
                guard case .sequence(let items, _) = value else {
                    reader.diagnostics.error("'tolerations' must be a list of {key, operator, value, effect, toleration_seconds}", at: value.location)
                    continue
                }
                for item in items {
                    if let toleration = readToleration(item, reader: &reader) { placement.tolerations.append(toleration) }
                }
            default: break
            }
        }
        return placement
    }

    private static func readToleration(_ node: SpecNode, reader: inout SpecReader) -> Toleration? {
        guard let pairs = reader.mapping(node, allowed: ["key", "operator", "value", "effect", "toleration_seconds"], context: "a toleration") else { return nil }
        var toleration = Toleration()
        let before = reader.diagnostics.all.count
        for (key, value) in pairs {
            switch key.value {
            case "key":
                if let text = reader.string(value, context: "toleration 'key'") {
                    if KubernetesNames.isQualifiedName(text.value) { toleration.key = text.value }
                    else { reader.diagnostics.error("toleration key '\(text.value)' is not a Kubernetes label key", at: text.location) }
                }
            case "operator":
                if let text = reader.string(value, context: "toleration 'operator'") {
                    if ["Exists", "Equal"].contains(text.value) { toleration.operator = text.value }
                    else { reader.diagnostics.error("unknown toleration operator '\(text.value)'\(Suggestions.hint(for: text.value, in: ["Exists", "Equal"]))", at: text.location, notes: ["expected one of: Exists, Equal"]) }
                }
            case "value":
                if let text = reader.string(value, context: "toleration 'value'") {
                    if KubernetesNames.isLabelValue(text.value) { toleration.value = text.value }
                    else { reader.diagnostics.error("toleration value '\(text.value)' is not a Kubernetes label value", at: text.location) }
                }
            case "effect":
                let effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
                if let text = reader.string(value, context: "toleration 'effect'") {
                    if effects.contains(text.value) { toleration.effect = text.value }
                    else { reader.diagnostics.error("unknown toleration effect '\(text.value)'\(Suggestions.hint(for: text.value, in: effects))", at: text.location, notes: ["expected one of: \(effects.joined(separator: ", "))"]) }
                }
            case "toleration_seconds":
                toleration.seconds = reader.integer(value, context: "'toleration_seconds'", range: 0...31_536_000)?.value
            default: break
            }
        }
        if toleration.operator == "Exists" && toleration.value != nil {
            reader.diagnostics.error("a toleration with operator 'Exists' must not have a 'value'", at: node.location)
        }
        if toleration.key == nil && toleration.operator != "Exists" && reader.diagnostics.all.count == before {
            reader.diagnostics.error("a toleration without 'key' must have operator 'Exists' (it then tolerates every taint)", at: node.location)
        }
        if toleration.seconds != nil && toleration.effect != "NoExecute" {
            reader.diagnostics.error("'toleration_seconds' applies only to effect 'NoExecute'", at: node.location)
        }
        return reader.diagnostics.all.count == before ? toleration : nil
    }

    /// An image reference: no whitespace or control characters, not empty (the registry checks the rest).
    private static func checkImage(_ image: Located<String>, reader: inout SpecReader) -> Bool {
        let ok = !image.value.isEmpty && image.value.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }
        if !ok {
            reader.diagnostics.error("image '\(image.value)' is not a container image reference (like 'ghcr.io/lab/ephys:1.2': no spaces or control characters)", at: image.location)
        }
        return ok
    }
}
