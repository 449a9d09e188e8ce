// HTCondor: `targets.htcondor` options, read and checked.

import DJFlowCore
import Foundation
import DJFlowSpec
import DJFlowTemplates

/// `targets.htcondor` (pipeline-wide) and `tables.<T>.targets.htcondor` (per table).
struct HTCondorOptions {
    static let pipelineKeys = ["log_dir", "image", "env", "extra", "category", "max_jobs", "password_file"]
    static let tableKeys = ["extra", "category"]

    /// Submit commands djflow writes itself: an `extra` line may not set them (the generated value would
    /// be overridden silently, or the job would break).
    /// With their alternate spellings (`submit_utils.h`: `get_env`, `initial_dir`, `stdout`, `prio`, …).
    static let managedCommands: Set<String> = [
        "universe", "executable", "arguments", "args", "arguments2", "environment", "env", "environment2", "getenv",
        "get_env", "log", "output", "stdout", "error", "stderr", "request_cpus", "request_memory", "request_gpus",
        "request_disk", "container_image", "docker_image", "should_transfer_files", "when_to_transfer_output",
        "transfer_input_files", "transferinputfiles", "transfer_executable", "allowed_execute_duration", "queue",
        "priority", "prio", "initialdir", "initial_dir", "job_iwd",
    ]

    /// Job ad attributes those commands set (lower-cased; ClassAd names ignore case). HTCondor also takes an
    /// attribute name as the command (`RequestCpus = 8` is `request_cpus`), and `+Attr`/`My.Attr` set the
    /// attribute itself, after the commands: either way djflow's value would be replaced.
    static let managedAttributes: Set<String> = [
        "jobuniverse", "cmd", "args", "arguments", "env", "environment", "userlog", "out", "err", "requestcpus",
        "requestmemory", "requestgpus", "requestdisk", "containerimage", "dockerimage", "wantcontainer", "wantdocker",
        "shouldtransferfiles", "whentotransferoutput", "transferinput", "transferinputfiles", "transferexecutable",
        "allowedexecuteduration", "iwd", "jobprio",
    ]

    /// Submit commands an `extra` line may use without a warning (HTCondor 24 manual, common ones).
    static let knownCommands: [String] = [
        "requirements", "rank", "accounting_group", "accounting_group_user", "notification", "notify_user",
        "periodic_hold", "periodic_release", "periodic_remove", "periodic_vacate", "on_exit_hold", "on_exit_remove",
        "max_retries", "retry_until", "success_exit_code", "job_max_vacate_time", "kill_sig", "kill_sig_timeout",
        "nice_user", "concurrency_limits", "concurrency_limits_expr", "batch_name", "job_lease_duration",
        "gpus_minimum_capability", "gpus_minimum_memory", "gpus_maximum_capability", "gpus_minimum_runtime",
        "require_gpus", "transfer_output_files", "transfer_output_remaps", "output_destination", "stream_output",
        "stream_error", "encrypt_input_files", "encrypt_output_files", "want_graceful_removal", "hold",
        "leave_in_queue", "next_job_start_delay", "request_virtualmemory", "use_x509userproxy", "x509userproxy",
        "use_oauth_services", "docker_network_type", "container_service_names", "container_target_dir",
        "transfer_container", "want_io_proxy", "job_machine_attrs", "job_ad_information_attrs", "log_xml",
        "coresize", "image_size", "machine_count", "run_as_owner", "load_profile", "job_umask",
        "allowed_job_duration", "max_idle", "max_materialize", "cron_minute", "deferral_time", "preserve_relative_paths",
        "want_remote_io", "buffer_size", "match_list_length", "dont_encrypt_input_files", "dont_encrypt_output_files",
        "erase_output_and_error_on_restart", "hold_kill_sig", "remove_kill_sig", "ulog_execute_attrs",
    ]

    var logDir = "logs"
    /// `container_image` (defaults to `runner.image`); nil means the vanilla universe.
    var image: String?
    var environment: [(String, String)] = []
    var extra: [String] = []
    var category: String?
    var maxJobs: [(String, Int)] = []
    var passwordFile: String?
    var tableExtra: [String: [String]] = [:]
    var tableCategory: [String: String] = [:]

    func extraLines(for table: String) -> [String] { extra + (tableExtra[table] ?? []) }
    func category(for table: String) -> String? { tableCategory[table] ?? category }

    /// Reads and checks every HTCondor option of the spec.
    static func read(_ spec: PipelineSpec, diagnostics: inout Diagnostics) -> HTCondorOptions {
        var reader = SpecReader()
        var options = HTCondorOptions()
        if let image = spec.runner.image?.value { options.image = containerImage(image) }
        var categoryLocations: [(String, SourceLocation)] = []
        if let node = spec.targetOptions["htcondor"] {
            for (key, value) in reader.mapping(node, allowed: pipelineKeys, context: "'targets.htcondor'") ?? [] {
                switch key.value {
                case "log_dir":
                    if let dir = reader.string(value, context: "'log_dir'") {
                        if let problem = PathLimits.problem(dir.value) {
                            reader.diagnostics.error("'log_dir' is too long: \(problem)", at: dir.location)
                        } else if HTCondorQuoting.isBarePath(dir.value), !dir.value.hasPrefix("/"), !dir.value.split(separator: "/").contains("..") {
                            options.logDir = dir.value.hasSuffix("/") ? String(dir.value.dropLast()) : dir.value
                        } else {
                            reader.diagnostics.error("'log_dir' must be a relative folder of letters, digits and '._/-' without '..' (it is relative to the folder where condor_submit_dag runs, and written unquoted in submit files)", at: dir.location)
                        }
                    }
                case "image":
                    if let image = reader.string(value, context: "'targets.htcondor.image'") {
                        if let problem = PathLimits.problem(image.value) {
                            reader.diagnostics.error("'image' is too long: \(problem)", at: image.location)
                        } else if !HTCondorQuoting.isImageReference(image.value) {
                            reader.diagnostics.error("'image' must be an image reference without spaces, quotes, '$' or '\\' (it is written bare after 'container_image =')", at: image.location)
                        } else { options.image = containerImage(image.value) }
                    }
                case "env": options.environment = reader.targetEnvironment(value, target: "htcondor", valueProblem: HTCondorQuoting.problem, writtenIn: "in a submit file")
                case "extra": options.extra = readExtra(value, reader: &reader)
                case "category":
                    if let name = readCategory(value, reader: &reader) { options.category = name.value; categoryLocations.append((name.value, name.location)) }
                case "max_jobs":
                    for pair in reader.openMapping(value, context: "'targets.htcondor.max_jobs'") ?? [] {
                        guard HTCondorQuoting.isNodeName(pair.key.value) else {
                            reader.diagnostics.error("category '\(pair.key.value)' may use only letters, digits, '_' and '-'", at: pair.key.location)
                            continue
                        }
                        if let n = reader.integer(pair.value, context: "'max_jobs.\(pair.key.value)'", range: 1...100_000) {
                            options.maxJobs.append((pair.key.value, n.value))
                        }
                    }
                case "password_file":
                    if let path = reader.string(value, context: "'password_file'") {
                        if path.value.isEmpty {
                            reader.diagnostics.error("'password_file' must be a path on the execute machines", at: path.location)
                        } else if let problem = HTCondorQuoting.problem(path.value) {
                            reader.diagnostics.error("'password_file' cannot be written in a submit file: \(problem)", at: path.location)
                        } else if let problem = PathLimits.problem(path.value) {
                            reader.diagnostics.error("'password_file' is too long: \(problem)", at: path.location)
                        } else { options.passwordFile = path.value }
                    }
                default: break
                }
            }
        }
        for entry in reader.tableTargetOptions(spec, target: "htcondor", allowed: tableKeys) {
            for (key, value) in entry.pairs {
                switch key.value {
                case "extra": options.tableExtra[entry.table] = readExtra(value, reader: &reader)
                case "category":
                    if let name = readCategory(value, reader: &reader) {
                        options.tableCategory[entry.table] = name.value
                        categoryLocations.append((name.value, name.location))
                    }
                default: break
                }
            }
        }
        let limited = options.maxJobs.map(\.0)
        for (name, location) in categoryLocations where !limited.contains(name) {
            reader.diagnostics.error("category '\(name)' has no limit in 'targets.htcondor.max_jobs'\(Suggestions.hint(for: name, in: limited))",
                                     at: location, notes: ["add 'max_jobs: {\(name): N}' to run at most N of its nodes at once"])
        }
        diagnostics.append(contentsOf: reader.diagnostics)
        return options
    }

    /// `docker://` is added unless the reference has a scheme or names a `.sif` file.
    static func containerImage(_ image: String) -> String {
        image.contains("://") || image.hasSuffix(".sif") ? image : "docker://" + image
    }

    private static func readCategory(_ node: SpecNode, reader: inout SpecReader) -> Located<String>? {
        guard let name = reader.string(node, context: "'category'") else { return nil }
        guard HTCondorQuoting.isNodeName(name.value) else {
            reader.diagnostics.error("category '\(name.value)' may use only letters, digits, '_' and '-'", at: name.location)
            return nil
        }
        return name
    }

    /// `extra` lines: `command = value`, `+Attribute = value` or `My.Attribute = value`, one submit command each.
    private static func readExtra(_ node: SpecNode, reader: inout SpecReader) -> [String] {
        var lines: [String] = []
        for item in reader.stringList(node, context: "'extra'") ?? [] {
            let line = item.value
            // The line is the user's own submit language ($(…) and $$(…) mean what HTCondor says): only
            // what would break the file is refused.
            guard !line.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) else {
                reader.diagnostics.error("an 'extra' submit command must be one line", at: item.location)
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                reader.diagnostics.error("each 'extra' entry must be one submit command like 'requirements = (OpSys == \"LINUX\")', found '\(line)'", at: item.location)
                continue
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            let lower = name.lowercased()
            let plain = lower.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == ".") }
            let attribute = (name.hasPrefix("+") && isAttributeName(name.dropFirst())) || (lower.hasPrefix("my.") && isAttributeName(name.dropFirst(3)))
            if name.isEmpty || !(attribute || (plain && !lower.hasPrefix("."))) {
                reader.diagnostics.error("'\(name)' is not a submit command name (letters, digits, '_'; '+Attr' or 'My.Attr' for job attributes)", at: item.location)
                continue
            }
            if value.isEmpty {
                reader.diagnostics.error("submit command '\(name)' needs a value after '='", at: item.location)
                continue
            }
            if lower.hasPrefix("queue") || lower == "include" || lower == "if" || lower == "else" || lower == "endif" || lower == "elif" {
                reader.diagnostics.error("'\(name)' cannot be an 'extra' line: djflow writes the one 'queue' statement and no control flow", at: item.location)
                continue
            }
            if !attribute, managedCommands.contains(lower) || managedAttributes.contains(lower) {
                reader.diagnostics.error("'\(name)' is written by djflow (from resources, runner and log_dir); it cannot be set in 'extra'", at: item.location)
                continue
            }
            let attributeName = name.hasPrefix("+") ? String(lower.dropFirst()) : String(lower.dropFirst(3))
            if attribute, managedAttributes.contains(attributeName) {
                reader.diagnostics.error("'\(name)' sets a job attribute djflow writes (from resources, runner and log_dir): it would replace djflow's value; it cannot be set in 'extra'", at: item.location)
                continue
            }
            if value.hasSuffix("\\") {
                reader.diagnostics.error("the value of '\(name)' ends in a backslash, which would continue the line into the next submit command", at: item.location)
                continue
            }
            if value.filter({ $0 == "\"" }).count % 2 != 0 {
                reader.diagnostics.error("unbalanced double quote in the value of '\(name)'", at: item.location)
                continue
            }
            if value.contains("|") && (value.hasSuffix("|")) {
                reader.diagnostics.error("a value ending in '|' runs a command on the submit machine; not allowed in 'extra'", at: item.location)
                continue
            }
            if !attribute, !knownCommands.contains(lower) {
                let all = knownCommands + Array(managedCommands)
                let hint = Suggestions.hint(for: lower, in: all)
                reader.diagnostics.warning("'\(name)' is not a submit command djflow knows (HTCondor ignores unknown commands silently)\(hint)", at: item.location)
            }
            lines.append(name + " = " + value)
        }
        return lines
    }

    private static func isAttributeName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_") }
    }
}
