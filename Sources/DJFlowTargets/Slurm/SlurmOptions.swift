// SLURM: `targets.slurm` options, read and checked.

import DJFlowCore
import DJFlowSpec
import DJFlowTemplates

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
                        } else if let problem = PathLimits.problem(dir.value + "/" + logFileName) {
                            reader.diagnostics.error("'log_dir' is too long: \(problem) (with the log file name)", at: dir.location)
                        } else { options.logDir = dir.value }
                    }
                case "max_array_size": options.maxArraySize = reader.integer(value, context: "'max_array_size'", range: 2...4_000_001)?.value ?? options.maxArraySize
                case "requeue": options.requeue = reader.boolean(value, context: "'requeue'")?.value ?? options.requeue
                case "signal_seconds": options.signalSeconds = reader.integer(value, context: "'signal_seconds'", range: 0...65535)?.value ?? options.signalSeconds
                case "kill_on_invalid_dep": options.killOnInvalidDependency = reader.boolean(value, context: "'kill_on_invalid_dep'")?.value ?? true
                case "retry_delay": options.retryDelaySeconds = reader.integer(value, context: "'retry_delay' (seconds)", range: 0...86_400)?.value ?? 30
                case "apptainer": options.apptainer = readApptainer(value, runnerImage: spec.runner.image?.value, reader: &reader)
                case "setup":
                    for line in reader.stringList(value, context: "'setup'") ?? [] {
                        // Generated files have LF line ends: a CR would be dropped (before a LF) or stray.
                        if line.value.unicodeScalars.contains("\r") {
                            reader.diagnostics.error("a 'setup' line may not contain a carriage return: it is written into the job script as it is, and the script has LF line ends", at: line.location)
                        } else { options.setup.append(line.value) }
                    }
                case "env": options.environment = reader.targetEnvironment(value, target: "slurm")
                default: break
                }
            }
            options.placement = readPlacement(node, reader: &reader, filterTo: tableKeys)
        }
        for entry in reader.tableTargetOptions(spec, target: "slurm", allowed: tableKeys) {
            options.tablePlacement[entry.table] = readPlacement(entry.node, reader: &reader, filterTo: tableKeys)
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
                    if checkExtra(option, reader: &reader) { placement.extra.append(option.value) }
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

    /// sbatch options djflow writes from the spec (or that would undo what it writes), with the key that
    /// sets them: an `extra` line setting one would silently win over djflow's (sbatch takes the last).
    static let managedOptions: [(names: [String], key: String)] = [
        (["time"], "use 'time:' in the table's 'resources:' (or in 'defaults: resources:')"),
        (["mem", "mem-per-cpu", "mem-per-gpu"], "use 'memory:' in the table's 'resources:' (or in 'defaults: resources:')"),
        (["cpus-per-task"], "use 'cpus:' in the table's 'resources:' (or in 'defaults: resources:')"),
        (["gres", "gpus", "gpus-per-node", "gpus-per-task", "gpus-per-socket"], "use 'gpus:' in the table's 'resources:' (djflow writes --gres=gpu:N)"),
        (["tmp"], "use 'disk:' in the table's 'resources:'"),
        (["array"], "use 'workers:' (and 'throttle:') on the table: djflow writes the array"),
        (["job-name"], "djflow names each job '<pipeline>-<job>' (submit.sh and 'djflow status' find jobs by it); change 'pipeline:' instead"),
        (["output", "error"], "use 'log_dir:' under 'targets.slurm'"),
        (["dependency"], "submit.sh chains the jobs from the tables' dependencies ('depends_on:' and '->' lines)"),
        (["kill-on-invalid-dep"], "use 'kill_on_invalid_dep:' under 'targets.slurm'"),
        (["signal"], "use 'signal_seconds:' under 'targets.slurm'"),
        (["requeue", "no-requeue"], "use 'requeue:' under 'targets.slurm'"),
        (["partition"], "use 'partition:' under 'targets.slurm' (or in the table's 'targets: {slurm: …}')"),
        (["account"], "use 'account:' under 'targets.slurm' (or in the table's 'targets: {slurm: …}')"),
        (["qos"], "use 'qos:' under 'targets.slurm' (or in the table's 'targets: {slurm: …}')"),
        (["constraint"], "use 'constraint:' under 'targets.slurm' (or in the table's 'targets: {slurm: …}')"),
    ]

    /// sbatch's long options (SLURM 22.05 to 25.x, `src/common/slurm_opt.c`), for abbreviations
    /// (`--cpus-per=4` is `--cpus-per-task`, as getopt_long reads it) and suggestions.
    static let sbatchOptions: [String] = [
        "account", "acctg-freq", "array", "autocomplete", "batch", "bb", "bbf", "begin", "chdir", "cluster",
        "cluster-constraint", "clusters", "comment", "consolidate-segments", "constraint", "container", "container-id",
        "context", "contiguous", "core-spec", "cores-per-socket", "cpu-freq", "cpus-per-gpu", "cpus-per-task", "deadline",
        "delay-boot", "dependency", "distribution", "error", "exclude", "exclusive", "export", "export-file", "external",
        "extra", "extra-node-info", "get-user-env", "gid", "gpu-bind", "gpu-freq", "gpus", "gpus-per-node",
        "gpus-per-socket", "gpus-per-task", "gres", "gres-flags", "help", "hint", "hold", "ignore-pbs", "input", "job-name",
        "kill-on-invalid-dep", "licenses", "mail-type", "mail-user", "mcs-label", "mem", "mem-bind", "mem-per-cpu",
        "mem-per-gpu", "mem-update", "mincpus", "network", "nice", "no-kill", "no-requeue", "nodefile", "nodelist", "nodes",
        "ntasks", "ntasks-per-core", "ntasks-per-gpu", "ntasks-per-node", "ntasks-per-socket", "ntasks-per-tres",
        "oom-kill-step", "open-mode", "output", "overcommit", "oversubscribe", "parsable", "partition", "power", "prefer",
        "priority", "profile", "propagate", "qos", "quiet", "reboot", "requeue", "reservation", "resources", "resv-ports",
        "runtime", "segment", "signal", "sockets-per-node", "spread-job", "spread-segments", "stepmgr", "switches",
        "tasks-per-node", "test-only", "thread-spec", "threads-per-core", "time", "time-min", "tmp", "tres-bind",
        "tres-per-task", "uid", "usage", "use-min-nodes", "verbose", "version", "wait", "wait-all-nodes", "wckey", "wrap",
    ]

    /// sbatch's short options and their long names.
    static let shortOptions: [Character: String] = [
        "A": "account", "a": "array", "b": "begin", "D": "chdir", "M": "clusters", "C": "constraint", "S": "core-spec",
        "c": "cpus-per-task", "d": "dependency", "m": "distribution", "e": "error", "x": "exclude", "B": "extra-node-info",
        "G": "gpus", "h": "help", "H": "hold", "i": "input", "J": "job-name", "L": "licenses", "k": "no-kill",
        "F": "nodefile", "w": "nodelist", "N": "nodes", "n": "ntasks", "o": "output", "O": "overcommit",
        "s": "oversubscribe", "p": "partition", "q": "qos", "Q": "quiet", "t": "time", "v": "verbose", "V": "version",
        "W": "wait",
    ]

    /// The option a long name means to getopt_long: itself, or the one option it abbreviates.
    private static func resolve(_ name: String) -> (option: String?, candidates: [String]) {
        if sbatchOptions.contains(name) { return (name, [name]) }
        let candidates = sbatchOptions.filter { $0.hasPrefix(name) }
        return (candidates.count == 1 ? candidates[0] : nil, candidates)
    }

    /// Checks one `extra` entry: it must be exactly one sbatch argument as sbatch reads `#SBATCH` lines, a
    /// long option, and not one djflow writes. Returns true when it can be written.
    private static func checkExtra(_ option: Located<String>, reader: inout SpecReader) -> Bool {
        let text = option.value
        func error(_ message: String, notes: [String] = []) -> Bool {
            reader.diagnostics.error(message, at: option.location, notes: notes)
            return false
        }
        if text.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
            return error("an 'extra' entry must be one line: it is written after '#SBATCH' as it is")
        }
        if let control = text.unicodeScalars.first(where: { $0 != "\t" && $0.properties.generalCategory == .control }) {
            return error("an 'extra' entry may not contain control characters (found U+\(String(control.value, radix: 16, uppercase: true)))")
        }
        let arguments: [String]
        switch SlurmDirectives.arguments(of: text) {
        case .arguments(let read): arguments = read
        case .unmatchedQuote(let quote):
            return error("unmatched \(quote) in 'extra' entry '\(text)': sbatch would refuse the whole script",
                         notes: ["in '#SBATCH' lines, quotes group words and are removed; write \\\(quote) for a literal \(quote)"])
        case .comment(_, let dropped):
            return error("'#' in 'extra' entry '\(text)' starts a comment in '#SBATCH' lines: sbatch would drop '\(dropped)'",
                         notes: ["quote the value (--comment=\"run #3\") or write \\# for a literal '#'"])
        case .unexpectedColon:
            return error("an 'extra' entry may not start with ':' (sbatch reads it as a heterogeneous job separator and stops)")
        }
        guard let first = arguments.first else {
            return error("empty 'extra' entry: write one sbatch option like '--mail-type=END'")
        }
        // The option it sets, for the conflict check first (even when written in a form refused below).
        var long: String?
        if first.hasPrefix("--") {
            let name = String(first.dropFirst(2).prefix { $0 != "=" })
            let resolved = resolve(name)
            // An abbreviation sbatch cannot resolve counts when every option it could mean is djflow's.
            let meant = resolved.option.map { [$0] } ?? (name.isEmpty ? [] : resolved.candidates)
            let managedNames = meant.compactMap { candidate in managedOptions.first { $0.names.contains(candidate) } }
            if !meant.isEmpty, managedNames.count == meant.count, let managed = managedNames.first {
                let which = meant == [name] ? "" : " (sbatch reads it as \(meant.map { "--" + $0 }.joined(separator: " or ")))"
                return error("'extra' entry '\(text)' sets --\(name)\(which), which djflow writes: \(managed.key)")
            }
            long = name
        } else if first.hasPrefix("-"), let letter = first.dropFirst().first, let name = shortOptions[letter] {
            if let managed = managedOptions.first(where: { $0.names.contains(name) }) {
                return error("'extra' entry '\(text)' sets -\(letter) (--\(name)), which djflow writes: \(managed.key)")
            }
            return error("'extra' entries are long options: write '--\(name)=…' rather than '-\(letter)'")
        }
        guard let name = long, !name.isEmpty else {
            return error("each 'extra' entry must be one sbatch long option like '--mail-type=END', found '\(text)'")
        }
        if arguments.count > 1 {
            let words = arguments.map { "'\($0)'" }.joined(separator: ", ")
            return error("'extra' entry '\(text)' is \(arguments.count) arguments to sbatch (\(words)): '#SBATCH' lines are split at whitespace",
                         notes: ["write one option per entry, with '=' before its value ('--mail-type=END'), and quote a value holding spaces ('--comment=\"nightly run\"')"])
        }
        let resolved = resolve(name)
        if resolved.option == nil {
            if resolved.candidates.count > 1 {
                return error("'--\(name)' is ambiguous to sbatch: it abbreviates \(resolved.candidates.map { "--" + $0 }.joined(separator: ", "))")
            }
            let hint = Suggestions.closest(to: name, in: sbatchOptions).map { "; did you mean '--\($0)'?" } ?? ""
            reader.diagnostics.warning("'--\(name)' is not an sbatch option djflow knows (sbatch refuses options it does not know)\(hint)", at: option.location)
        }
        return true
    }

    /// `image` defaults to `runner.image` (as `docker://…` unless it names a `.sif` file or has a scheme).
    private static func readApptainer(_ node: SpecNode, runnerImage: String?, reader: inout SpecReader) -> Apptainer? {
        guard let pairs = reader.mapping(node, allowed: ["image", "binds", "options"], context: "'targets.slurm.apptainer'") else { return nil }
        var apptainer = Apptainer(image: "", binds: [], options: [])
        for (key, value) in pairs {
            switch key.value {
            case "image":
                if let image = reader.string(value, context: "'apptainer.image'") {
                    if image.value.isEmpty {
                        reader.diagnostics.error("'apptainer.image' is empty: name the image, or leave the key out to use 'runner.image'", at: image.location)
                        return nil
                    } else if let problem = PathLimits.problem(image.value) {
                        reader.diagnostics.error("'apptainer.image' is too long: \(problem)", at: image.location)
                    } else { apptainer.image = image.value }
                }
            case "binds":
                for bind in reader.stringList(value, context: "'apptainer.binds'") ?? [] {
                    if let problem = PathLimits.problem(bind.value) {
                        reader.diagnostics.error("the bind '\(bind.value.prefix(40))…' is too long: \(problem)", at: bind.location)
                    } else { apptainer.binds.append(bind.value) }
                }
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

    /// The longest log file name djflow writes under `log_dir` (`%x_%A_%a.out` with a 50-character job
    /// name, `.refresh`, and array and task ids of up to 10 digits), for the path length check.
    static let logFileName = String(repeating: "x", count: SlurmTarget.jobNameLimit) + "_" + String(repeating: "9", count: 10) + "_" + String(repeating: "9", count: 10) + ".out"

    static func isPathCharacter(_ s: Unicode.Scalar) -> Bool {
        s.isASCII && (s.properties.isAlphabetic || s.properties.numericType != nil || "._/-".unicodeScalars.contains(s))
    }

    static func isTokenCharacter(_ s: Unicode.Scalar) -> Bool {
        s.isASCII && (s.properties.isAlphabetic || s.properties.numericType != nil || "_.,:@+-&|[]*!".unicodeScalars.contains(s))
    }
}
