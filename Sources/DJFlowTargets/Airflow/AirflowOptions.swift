// Airflow: `targets.airflow` options, read and checked.

import DJFlowCore
import DJFlowSpec
import DJFlowTemplates

/// `targets.airflow` (pipeline-wide) and `tables.<T>.targets.airflow` (per table).
struct AirflowOptions {
    static let pipelineKeys = ["dag_id_prefix", "schedule", "catchup", "start_date", "owner", "tags", "pool", "queue",
                               "priority_weight", "retry_delay", "gated", "credentials", "env", "paused_upon_creation"]
    static let tableKeys = ["pool", "queue", "priority_weight"]
    /// Airflow's limit for DAG and task ids (`^[\w.-]+$`, at most 250 characters).
    static let idLimit = 250
    /// Airflow's pool names are up to 256 characters; tags up to 100.
    static let poolLimit = 256
    static let tagLimit = 100
    static let schedulePresets = ["@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"]

    /// How workflows after a gate start.
    enum Gated: String, CaseIterable {
        /// Triggered by hand once people entered the gate data (default).
        case manual
        /// Scheduled on the Assets (2.x: Datasets) that the upstream workflows publish when they succeed.
        case assets
    }

    /// Where tasks get the database user and password.
    enum Credentials: Equatable {
        /// The variables named by `database.secret.user_env/password_env`, in the worker's environment (default).
        case environment
        /// An Airflow Connection: login, password (and host, port when `database.host` is not set).
        case connection(String)
        /// Two Airflow Variables holding the user name and the password.
        case variables(user: String, password: String)
    }

    /// Options that may also be set per table.
    struct Placement {
        var pool: String?
        var queue: String?
        var priorityWeight: Int?

        func over(_ base: Placement) -> Placement {
            Placement(pool: pool ?? base.pool, queue: queue ?? base.queue, priorityWeight: priorityWeight ?? base.priorityWeight)
        }
    }

    var dagIDPrefix: String?
    /// nil: triggered only.
    var schedule: String?
    var catchup = false
    var startDate = (year: 2024, month: 1, day: 1)
    var owner = "djflow"
    var tags: [String]?
    var placement = Placement()
    var retryDelaySeconds = 30
    var gated = Gated.manual
    var credentials = Credentials.environment
    var environment: [(String, String)] = []
    var pausedUponCreation: Bool?
    var tablePlacement: [String: Placement] = [:]

    /// Reads and checks every Airflow option of the spec.
    static func read(_ spec: PipelineSpec, diagnostics: inout Diagnostics) -> AirflowOptions {
        var reader = SpecReader()
        var options = AirflowOptions()
        if let node = spec.targetOptions["airflow"] {
            for (key, value) in reader.mapping(node, allowed: pipelineKeys, context: "'targets.airflow'") ?? [] {
                switch key.value {
                case "dag_id_prefix":
                    if let prefix = reader.string(value, context: "'dag_id_prefix'") {
                        if prefix.value.unicodeScalars.allSatisfy(isIDCharacter), prefix.value.count <= 200 {
                            options.dagIDPrefix = prefix.value
                        } else {
                            reader.diagnostics.error("'dag_id_prefix' may use only letters, digits and '_.-' (at most 200 characters): Airflow DAG ids match ^[\\w.-]+$", at: prefix.location)
                        }
                    }
                case "schedule": options.schedule = readSchedule(value, reader: &reader)
                case "catchup": options.catchup = reader.boolean(value, context: "'catchup'")?.value ?? false
                case "start_date":
                    if let text = reader.string(value, context: "'start_date'") {
                        if let date = parseDate(text.value) { options.startDate = date }
                        else { reader.diagnostics.error("'start_date' must be a date YYYY-MM-DD, found '\(text.value)'", at: text.location) }
                    }
                case "owner":
                    if let owner = reader.string(value, context: "'owner'") {
                        if owner.value.isEmpty || owner.value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                            reader.diagnostics.error("'owner' must be a non-empty name without control characters", at: owner.location)
                        } else { options.owner = owner.value }
                    }
                case "tags":
                    var tags: [String] = []
                    for tag in reader.stringList(value, context: "'tags'") ?? [] {
                        if tag.value.isEmpty || tag.value.count > tagLimit {
                            reader.diagnostics.error("each tag must have 1 to \(tagLimit) characters, found '\(tag.value)'", at: tag.location)
                        } else if !tags.contains(tag.value) { tags.append(tag.value) }
                    }
                    options.tags = tags
                case "retry_delay": options.retryDelaySeconds = reader.integer(value, context: "'retry_delay' (seconds)", range: 0...86_400)?.value ?? 30
                case "gated": options.gated = reader.choice(value, as: Gated.self, context: "'gated' behaviour")?.value ?? .manual
                case "credentials": options.credentials = readCredentials(value, spec: spec, reader: &reader)
                case "env":
                    options.environment = reader.targetEnvironment(value, target: "airflow", reserved: { name in
                        reservedEnvironment.contains(name) || name.hasPrefix("DJFLOW_")
                            ? "'\(name)' is set by djflow in every task; set the database in 'database:' and credentials in 'targets.airflow.credentials'" : nil
                    })
                case "paused_upon_creation": options.pausedUponCreation = reader.boolean(value, context: "'paused_upon_creation'")?.value
                default: break
                }
            }
            options.placement = readPlacement(node, reader: &reader)
        }
        for entry in reader.tableTargetOptions(spec, target: "airflow", allowed: tableKeys) {
            options.tablePlacement[entry.table] = readPlacement(entry.node, reader: &reader)
        }
        diagnostics.append(contentsOf: reader.diagnostics)
        return options
    }

    /// Variables the generated tasks set themselves.
    static let reservedEnvironment: Set<String> = ["DJ_HOST", "DJ_USER", "DJ_PASS", "DJ_BACKEND"]

    private static func readPlacement(_ node: SpecNode, reader: inout SpecReader) -> Placement {
        var placement = Placement()
        guard case .mapping(let pairs, _) = node else { return placement }
        for (key, value) in pairs where tableKeys.contains(key.value) {
            switch key.value {
            case "priority_weight":
                placement.priorityWeight = reader.integer(value, context: "'priority_weight'", range: -2_147_483_648...2_147_483_647)?.value
            default:
                guard let text = reader.string(value, context: "'\(key.value)'") else { continue }
                guard !text.value.isEmpty, text.value.count <= poolLimit, text.value.unicodeScalars.allSatisfy(isIDCharacter) else {
                    reader.diagnostics.error("Airflow \(key.value) '\(text.value)' may use only letters, digits and '_.-' (1 to \(poolLimit) characters)", at: text.location)
                    continue
                }
                if key.value == "pool" { placement.pool = text.value } else { placement.queue = text.value }
            }
        }
        return placement
    }

    /// A preset (`@daily`), or a cron expression of five fields; null or `none` for triggered only.
    private static func readSchedule(_ node: SpecNode, reader: inout SpecReader) -> String? {
        if case .scalar(let scalar) = node, scalar.isNull { return nil }
        guard let text = reader.string(node, context: "'schedule'") else { return nil }
        let value = text.value.trimming(" ")
        if value == "none" || value == "None" { return nil }
        if value.hasPrefix("@") {
            if schedulePresets.contains(value) { return value }
            reader.diagnostics.error("unknown schedule preset '\(value)'\(Suggestions.hint(for: value, in: schedulePresets))", at: text.location,
                                     notes: ["presets: \(schedulePresets.joined(separator: ", ")); or a cron expression like '0 3 * * *'; or none"])
            return nil
        }
        let fields = value.split(separator: " ", omittingEmptySubsequences: true)
        let cronCharacters = Set("0123456789*/,-?LW#ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".unicodeScalars)
        if fields.count == 5, fields.allSatisfy({ $0.unicodeScalars.allSatisfy(cronCharacters.contains) }) {
            return fields.joined(separator: " ")
        }
        reader.diagnostics.error("'schedule' must be none, a preset like '@daily' or a cron expression of five fields, found '\(text.value)'", at: text.location)
        return nil
    }

    private static func readCredentials(_ node: SpecNode, spec: PipelineSpec, reader: inout SpecReader) -> Credentials {
        let forms = ["environment", "connection", "variables"]
        if case .scalar = node {
            guard let text = reader.string(node, context: "'credentials'") else { return .environment }
            switch text.value {
            case "environment": return .environment
            case "connection":
                if let name = spec.database.secretName, isConnectionID(name.value) { return .connection(name.value) }
                reader.diagnostics.error("'credentials: connection' takes the Connection id from 'database.secret.name', which is not set (or write 'credentials: {connection: ID}')", at: text.location)
            default:
                reader.diagnostics.error("unknown credentials '\(text.value)'\(Suggestions.hint(for: text.value, in: forms))", at: text.location,
                                         notes: ["write 'environment', 'connection', '{connection: ID}' or '{variables: {user: NAME, password: NAME}}'"])
            }
            return .environment
        }
        guard let pairs = reader.mapping(node, allowed: ["connection", "variables"], context: "'targets.airflow.credentials'") else { return .environment }
        guard pairs.count == 1, let (key, value) = pairs.first else {
            reader.diagnostics.error("'credentials' takes one of 'connection' or 'variables'", at: node.location)
            return .environment
        }
        if key.value == "connection" {
            guard let id = reader.string(value, context: "'credentials.connection'") else { return .environment }
            if isConnectionID(id.value) { return .connection(id.value) }
            reader.diagnostics.error("Airflow Connection id '\(id.value)' may use only letters, digits and '_.-'", at: id.location)
            return .environment
        }
        guard let names = reader.mapping(value, allowed: ["user", "password"], context: "'credentials.variables'") else { return .environment }
        var user: String?, password: String?
        for (nameKey, nameValue) in names {
            guard let name = reader.string(nameValue, context: "'credentials.variables.\(nameKey.value)'") else { continue }
            guard isConnectionID(name.value) else {
                reader.diagnostics.error("Airflow Variable name '\(name.value)' may use only letters, digits and '_.-'", at: name.location)
                continue
            }
            if nameKey.value == "user" { user = name.value } else { password = name.value }
        }
        guard let user, let password else {
            reader.diagnostics.error("'credentials.variables' needs both 'user' and 'password' (names of Airflow Variables)", at: value.location)
            return .environment
        }
        return .variables(user: user, password: password)
    }

    private static func parseDate(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1970...9999).contains(year), (1...12).contains(month) else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day) ? (year, month, day) : nil
    }

    static func isConnectionID(_ text: String) -> Bool {
        !text.isEmpty && text.count <= idLimit && text.unicodeScalars.allSatisfy(isIDCharacter)
    }

    /// ASCII letters, digits, `_`, `.`, `-`: the ASCII part of Airflow's `^[\w.-]+$`.
    static func isIDCharacter(_ s: Unicode.Scalar) -> Bool {
        s.isASCII && (s.properties.isAlphabetic || s.properties.numericType != nil || s == "_" || s == "." || s == "-")
    }
}
