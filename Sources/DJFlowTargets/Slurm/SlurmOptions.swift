import DJFlowCore
import DJFlowSpec

/// `targets.slurm` (pipeline-wide) and `tables.<T>.targets.slurm` (per table).
struct SlurmOptions {
    static let pipelineKeys = ["partition", "account", "qos", "constraint", "log_dir", "max_array_size", "requeue",
                               "signal_seconds", "kill_on_invalid_dep", "retry_delay", "apptainer", "setup", "env", "extra"]
    static let tableKeys = ["partition", "account", "qos", "constraint", "extra"]

    /// Options that may also be set per table.
    struct Placement {
        var partition: String?
        var account: String?
        var qos: String?
        var constraint: String?
        var extra: [String] = []

        func over(_ base: Placement) -> Placement {
            Placement(partition: partition ?? base.partition, account: account ?? base.account, qos: qos ?? base.qos,
                      constraint: constraint ?? base.constraint, extra: base.extra + extra)
        }
    }

    struct Apptainer {
        var image: String
        var binds: [String]
        var options: [String]
    }

    var placement = Placement()
    var logDir = "logs"
    var maxArraySize = 1001
    var requeue = true
    var signalSeconds = 60
    var killOnInvalidDependency = true
    var retryDelaySeconds = 30
    var apptainer: Apptainer?
    var setup: [String] = []
    var environment: [(String, String)] = []
    var tablePlacement: [String: Placement] = [:]

    /// Reads and checks every SLURM option of the spec.
    static func read(_ spec: PipelineSpec, diagnostics: inout Diagnostics) -> SlurmOptions {
        var reader = SpecReader()
        var options = SlurmOptions()
        if let node = spec.targetOptions["slurm"] {
            for (key, value) in reader.mapping(node, allowed: pipelineKeys, context: "'targets.slurm'") ?? [] {
                switch key.value {
                case "log_dir":
                    if let dir = reader.string(value, context: "'log_dir'") {
                        if dir.value.isEmpty || !dir.value.unicodeScalars.allSatisfy(isPathCharacter) {
                            reader.diagnostics.error("'log_dir' may use only letters, digits and '._/-' (SLURM reads it unquoted in #SBATCH lines)", at: dir.location)
                        } else { options.logDir = dir.value }
                    }
                case "max_array_size": options.maxArraySize = reader.integer(value, context: "'max_array_size'", range: 2...4_000_001)?.value ?? options.maxArraySize
                case "requeue": options.requeue = reader.boolean(value, context: "'requeue'")?.value ?? options.requeue
                case "signal_seconds": options.signalSeconds = reader.integer(value, context: "'signal_seconds'", range: 0...65535)?.value ?? options.signalSeconds
                case "kill_on_invalid_dep": options.killOnInvalidDependency = reader.boolean(value, context: "'kill_on_invalid_dep'")?.value ?? true
                case "retry_delay": options.retryDelaySeconds = reader.integer(value, context: "'retry_delay' (seconds)", range: 0...86_400)?.value ?? 30
                case "apptainer": options.apptainer = readApptainer(value, runnerImage: spec.runner.image?.value, reader: &reader)
                case "setup": options.setup = (reader.stringList(value, context: "'setup'") ?? []).map(\.value)
                case "env":
                    for pair in reader.stringMap(value, context: "'targets.slurm.env'") ?? [] {
                        if SpecLoader.isEnvironmentName(pair.key.value) { options.environment.append((pair.key.value, pair.value.value)) }
                        else { reader.diagnostics.error("'\(pair.key.value)' is not a valid environment variable name", at: pair.key.location) }
                    }
                default: break
                }
            }
            options.placement = readPlacement(node, reader: &reader, filterTo: tableKeys)
        }
        for table in spec.tables {
            guard let node = table.targetOptions["slurm"] else { continue }
            _ = reader.mapping(node, allowed: tableKeys, context: "'targets.slurm' of table '\(table.name)'")
            options.tablePlacement[table.name.description] = readPlacement(node, reader: &reader, filterTo: tableKeys)
        }
        diagnostics.append(contentsOf: reader.diagnostics)
        return options
    }

    private static func readPlacement(_ node: SpecNode, reader: inout SpecReader, filterTo keys: [String]) -> Placement {
        var placement = Placement()
        guard case .mapping(let pairs, _) = node else { return placement }
        for (key, value) in pairs where keys.contains(key.value) {
            if key.value == "extra" {
                for option in reader.stringList(value, context: "'extra'") ?? [] {
                    let ok = option.value.hasPrefix("--") && option.value.count > 2
                        && !option.value.unicodeScalars.contains { $0.properties.generalCategory == .control }
                    if ok { placement.extra.append(option.value) }
                    else { reader.diagnostics.error("each 'extra' entry must be one sbatch long option like '--mail-type=END', found '\(option.value)'", at: option.location) }
                }
                continue
            }
            guard let text = reader.string(value, context: "'\(key.value)'") else { continue }
            guard !text.value.isEmpty, text.value.unicodeScalars.allSatisfy(isTokenCharacter) else {
                reader.diagnostics.error("SLURM \(key.value) '\(text.value)' may use only letters, digits and '_.,:@+-&|[]*!' (it is written unquoted in #SBATCH lines)", at: text.location)
                continue
            }
            switch key.value {
            case "partition": placement.partition = text.value
            case "account": placement.account = text.value
            case "qos": placement.qos = text.value
            case "constraint": placement.constraint = text.value
            default: break
            }
        }
        return placement
    }

    /// `image` defaults to `runner.image` (as `docker://…` unless it names a `.sif` file or has a scheme).
    private static func readApptainer(_ node: SpecNode, runnerImage: String?, reader: inout SpecReader) -> Apptainer? {
        guard let pairs = reader.mapping(node, allowed: ["image", "binds", "options"], context: "'targets.slurm.apptainer'") else { return nil }
        var apptainer = Apptainer(image: "", binds: [], options: [])
        for (key, value) in pairs {
            switch key.value {
            case "image": apptainer.image = reader.string(value, context: "'apptainer.image'")?.value ?? ""
            case "binds": apptainer.binds = (reader.stringList(value, context: "'apptainer.binds'") ?? []).map(\.value)
            case "options": apptainer.options = (reader.stringList(value, context: "'apptainer.options'") ?? []).map(\.value)
            default: break
            }
        }
        if apptainer.image.isEmpty, let image = runnerImage {
            apptainer.image = image.contains("://") || image.hasSuffix(".sif") ? image : "docker://" + image
        }
        if apptainer.image.isEmpty {
            reader.diagnostics.error("'targets.slurm.apptainer' needs an 'image' (or set 'runner.image')", at: node.location)
            return nil
        }
        return apptainer
    }

    static func isPathCharacter(_ s: Unicode.Scalar) -> Bool {
        s.isASCII && (s.properties.isAlphabetic || s.properties.numericType != nil || "._/-".unicodeScalars.contains(s))
    }

    static func isTokenCharacter(_ s: Unicode.Scalar) -> Bool {
        s.isASCII && (s.properties.isAlphabetic || s.properties.numericType != nil || "_.,:@+-&|[]*!".unicodeScalars.contains(s))
    }
}
