// Airflow: the context of one workflow's DAG file.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// The context of `airflow/dag.py`: one workflow's DAG file. Every string that reaches Python is a literal
/// made by `PythonQuoting` (or a Python expression built from such literals); every value Airflow renders
/// with Jinja (`bash_command`, `env`) went through `JinjaQuoting`; every word of the shell command went
/// through `ShellQuoting`.
struct AirflowDagContext: TemplateContext {
    static let template = "airflow/dag.py"

    /// One task: a table's populate step, or its refresh step.
    struct Task: Codable, Sendable {
        /// The task id, a Python literal.
        var id: String
        /// `bash_command`: a Python literal of the Jinja-wrapped shell command.
        var command: String
        /// The name of the env dictionary it gets: `FIRST_STEP_ENV` (gives failed keys back with retry_failed) or `ENV`.
        var env: String
        var retries: Int
        var priorityWeight: Int
        /// `doc_md`, a Python literal.
        var doc: String
        /// `execution_timeout` in seconds.
        var timeout: Int?
        /// The Airflow pool and queue, Python literals.
        var pool: String?
        var queue: String?
        /// Several workers: a mapped task, one instance per worker.
        var mapped: Mapped?
        /// `max_active_tis_per_dagrun` of a mapped task throttled below its workers.
        var throttle: Int?
    }

    struct Mapped: Codable, Sendable {
        var workers: Int
    }

    /// The task that publishes this workflow's Asset when every leaf task succeeded.
    struct Done: Codable, Sendable {
        /// Its task id and the Asset URI, Python literals.
        var id: String
        var asset: String
        /// A Python list of the leaf tasks (`[tasks['a'], tasks['b']]`).
        var leaves: String
    }

    /// The header comment, line by line.
    var comment: [Line]
    /// `doc_md` of the DAG: Python literal lines, implicitly concatenated.
    var doc: [Line]
    /// `"NAME": value,` lines of the environment every task gets.
    var environment: [Line]
    /// The shell lines before the runner, as Python literal lines.
    var setup: [Line]
    /// The DAG id and description, Python literals.
    var dagID: String
    var description: String
    /// `schedule=`: a Python literal, `None` or a list of Assets.
    var schedule: String
    /// `True` or `False`.
    var catchup: String
    /// `start_date` as `YYYY, M, D`.
    var startDate: String
    /// The owner (literal) and tags (list of literals).
    var owner: String
    var tags: String
    /// `retry_delay` in seconds.
    var retryDelay: Int
    /// Help texts of the `restriction` and `retry_failed` params, Python literals.
    var restrictionHelp: String
    var retryFailedHelp: String
    /// The Jinja template of `DJFLOW_RETRY_FAILED` for the first step of each table, a Python literal.
    var retryFailed: String
    /// Whether the file imports Assets, and publishes one.
    var assets: Bool
    var publishes: Bool
    var tasks: [Task]
    /// `tasks[a] >> tasks[b]` lines.
    var edges: [Line]
    /// What `JinjaQuoting.wrap` writes for `%` and CR, as Python literals, for the runner path known only
    /// when Airflow parses the file.
    var splitBlockStart: String
    var carriageReturn: String
    /// `is_paused_upon_creation`: `True` or `False`, when set.
    var paused: String?
    var done: Done?
    /// The runner's exit codes.
    var exit = ExitCodes.runner
}

/// The context of `airflow/airflowignore`: the header only.
struct AirflowIgnoreContext: TemplateContext {
    static let template = "airflow/airflowignore"
}

/// Builds the DAG file context of one workflow.
struct AirflowDagBuilder {
    let workflow: Workflow
    let input: TargetInput
    let options: AirflowOptions
    let names: AirflowNames
    let jobsByID: [String: Job]

    private var plan: ExecutionPlan { input.plan }
    private var dagID: String { names.dagID(workflow) }

    func context() -> AirflowDagContext {
        let jobs = plan.jobs(of: workflow)
        let upstreamWorkflows = self.upstreamWorkflows()
        let publishes = options.gated == .assets && consumers().count > 0
        let usesAssets = options.gated == .assets && (publishes || !upstreamWorkflows.isEmpty)
        var context = AirflowDagContext(
            comment: comment(upstreamWorkflows: upstreamWorkflows).asLines,
            doc: pythonLines(documentation(jobs: jobs, upstreamWorkflows: upstreamWorkflows)).asLines,
            environment: environment().asLines,
            setup: pythonLines(JinjaQuoting.wrap(setupScript())).asLines,
            dagID: PythonQuoting.literal(dagID),
            description: PythonQuoting.literal(description(jobs: jobs)),
            schedule: schedule(upstreamWorkflows: upstreamWorkflows),
            catchup: options.catchup ? "True" : "False",
            startDate: "\(options.startDate.year), \(options.startDate.month), \(options.startDate.day)",
            owner: PythonQuoting.literal(options.owner),
            tags: PythonQuoting.list(options.tags ?? ["djflow", plan.pipeline]),
            retryDelay: options.retryDelaySeconds,
            restrictionHelp: PythonQuoting.literal("A key restriction for every task, passed verbatim to djflow_populate.py --restriction: a JSON object such as {\"subject\": \"M1\"}, an array (OR) or an SQL condition string. Empty: all keys."),
            retryFailedHelp: PythonQuoting.literal("Give each table's failed keys (error rows in its jobs table, within the restriction) back to the queue before it runs: the first task of each table passes --clear-errors."),
            retryFailed: PythonQuoting.literal(Self.retryFailedTemplate),
            assets: usesAssets,
            publishes: publishes,
            tasks: jobs.flatMap(tasks),
            edges: edges(jobs: jobs).asLines,
            // What JinjaQuoting.wrap does, for the runner path known only when Airflow parses the file.
            splitBlockStart: PythonQuoting.literal("{{% endraw %}%{% raw %}"),
            carriageReturn: PythonQuoting.literal("{% endraw %}{{ '\\r' }}{% raw %}"))
        if let paused = options.pausedUponCreation { context.paused = paused ? "True" : "False" }
        if publishes {
            context.done = .init(
                id: PythonQuoting.literal(AirflowNames.doneTaskID),
                asset: PythonQuoting.literal(names.assetURI(workflowID: workflow.id)),
                leaves: "[" + leaves(jobs: jobs).map { "tasks[\(PythonQuoting.literal(names.taskID($0)))]" }.joined(separator: ", ") + "]")
        }
        return context
    }

    // MARK: workflows around this one

    /// Earlier workflows holding the nearest upstream jobs of this workflow's jobs, in run order.
    private func upstreamWorkflows() -> [Workflow] {
        let ids = Set(plan.jobs(of: workflow).flatMap(\.after).compactMap { jobsByID[$0]?.workflow })
        return plan.workflows.filter { ids.contains($0.id) }
    }

    /// Later gated workflows that start from this one's Asset.
    private func consumers() -> [Workflow] {
        plan.workflows.filter { other in
            !other.gates.isEmpty && plan.jobs(of: other).flatMap(\.after).contains { jobsByID[$0]?.workflow == workflow.id }
        }
    }

    private func schedule(upstreamWorkflows: [Workflow]) -> String {
        if workflow.gates.isEmpty {
            return options.schedule.map(PythonQuoting.literal) ?? "None"
        }
        guard options.gated == .assets, !upstreamWorkflows.isEmpty else { return "None" }
        return "[" + upstreamWorkflows.map { "Asset(\(PythonQuoting.literal(names.assetURI(workflowID: $0.id))))" }.joined(separator: ", ") + "]"
    }

    // MARK: text

    private func comment(upstreamWorkflows: [Workflow]) -> [String] {
        var lines = ["Airflow DAG \(dagID): workflow \(workflow.id) of pipeline \(plan.pipeline), for Airflow 3.x and 2.10+.",
                     "Copy the whole folder into a DAG folder: every task runs \(AirflowTarget.runnerFile) from beside this file.",
                     "Trigger it, optionally for some keys only (the restriction reaches the runner verbatim):",
                     "  airflow dags trigger \(dagID) --conf '{\"restriction\": {\"subject\": \"M1\"}}'",
                     "Failed keys again, after fixing their cause: --conf '{\"retry_failed\": true}'."]
        if !workflow.gates.isEmpty {
            switch options.gated {
            case .manual: lines.append("Gated: trigger it once people entered data into \(workflow.gates.joined(separator: ", ")).")
            case .assets:
                lines.append("Gated: starts when \(upstreamWorkflows.map { names.dagID($0) }.joined(separator: " and ")) succeeded (Assets); enter data into \(workflow.gates.joined(separator: ", ")) before that.")
            }
        }
        return lines
    }

    private func description(jobs: [Job]) -> String {
        "djflow \(plan.pipeline) \(workflow.id): " + jobs.flatMap { $0.tableEntries.map(\.table) }.joined(separator: ", ")
    }

    private func documentation(jobs: [Job], upstreamWorkflows: [Workflow]) -> String {
        var text = "# Workflow \(workflow.id) of pipeline \(plan.pipeline)\n\n"
        text += "Populates, one task per table: " + jobs.map { job in
            job.pool.map { "`\(job.id)` (\($0.members.map(\.table).joined(separator: ", ")); \($0.slots) workers)" }
                ?? "`\(job.table)`" + (job.workers > 1 ? " (\(job.workers) workers)" : "")
        }.joined(separator: ", ") + ".\n\n"
        if workflow.gates.isEmpty {
            text += "Enter the staged data first: \(workflow.waitsOn.joined(separator: ", ")).\n\n"
        } else if options.gated == .assets, !upstreamWorkflows.isEmpty {
            text += "Gated by \(workflow.gates.joined(separator: ", ")): starts when \(upstreamWorkflows.map { names.dagID($0) }.joined(separator: ", ")) succeeded. People must have entered that data by then.\n\n"
        } else {
            text += "Gated by \(workflow.gates.joined(separator: ", ")): trigger this DAG once people entered that data.\n\n"
        }
        text += "Trigger with `{\"restriction\": …}` (a JSON object, array or SQL string) to run some keys only; it reaches `djflow_populate.py --restriction` verbatim.\n\n"
        text += "Trigger with `{\"retry_failed\": true}` to give the failed keys (error rows) back to the queue first: the first task of each table passes `--clear-errors`.\n\n"
        text += "Credentials: \(credentialsText()).\n"
        return text
    }

    private func credentialsText() -> String {
        let database = input.plan.runtime.database
        switch options.credentials {
        case .environment:
            return "`\(database.userEnv)` and `\(database.passwordEnv)` from the worker's environment (tasks fail without retrying when they are missing)"
        case .connection(let id): return "the login and password of Airflow Connection `\(id)`"
        case .variables(let user, let password): return "Airflow Variables `\(user)` (user) and `\(password)` (password)"
        }
    }

    /// Text as Python literal lines, each ending in `\n` except the last (implicit concatenation).
    private func pythonLines(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            current.unicodeScalars.append(scalar)
            if scalar == "\n" { pieces.append(current); current = "" }
        }
        if !current.isEmpty || pieces.isEmpty { pieces.append(current) }
        return pieces.map(PythonQuoting.literal)
    }

    // MARK: environment and shell

    /// `"NAME": value,` lines of the ENV dictionary every task gets (on top of the worker's environment).
    private func environment() -> [String] {
        let database = input.plan.runtime.database
        var pairs: [(String, String)] = []  // name, Python expression
        func plain(_ name: String, _ value: String) { pairs.append((name, PythonQuoting.literal(JinjaQuoting.verbatim(value)))) }
        func template(_ name: String, _ jinja: String) { pairs.append((name, PythonQuoting.literal(jinja))) }
        if let host = database.host { plain("DJ_HOST", host) }
        plain("DJ_BACKEND", database.backend)
        switch options.credentials {
        case .environment: break
        case .connection(let id):
            let conn = "conn['\(id)']"
            template("DJ_USER", "{{ \(conn).login }}")
            template("DJ_PASS", "{{ \(conn).password }}")
            if database.host == nil { template("DJ_HOST", "{{ \(conn).host }}{{ (':' ~ \(conn).port) if \(conn).port else '' }}") }
        case .variables(let user, let password):
            template("DJ_USER", "{{ var.value['\(user)'] }}")
            template("DJ_PASS", "{{ var.value['\(password)'] }}")
        }
        for variable in input.plan.runtime.environment { plain(variable.name, variable.value) }
        for (name, value) in options.environment { plain(name, value) }
        pairs.append(("DJFLOW_RUNNER", "_verbatim(os.path.join(os.path.dirname(os.path.abspath(__file__)), \(PythonQuoting.literal(AirflowTarget.runnerFile))))"))
        template("DJFLOW_RESTRICTION", "{{ params.restriction if params.restriction is string else params.restriction | tojson }}")
        plain("DJFLOW_RETRY_FAILED", "")
        template("DJFLOW_TRY_NUMBER", "{{ ti.try_number }}")
        template("DJFLOW_JOB_ID", "{{ ti.dag_id }}.{{ ti.task_id }}[{{ ti.map_index }}] try {{ ti.try_number }} of {{ ti.run_id }}")
        return pairs.map { "\(PythonQuoting.literal($0.0)): \($0.1)," }
    }

    /// `DJFLOW_RETRY_FAILED` of the first task of each table: non-empty when the run's conf asks for it.
    static let retryFailedTemplate = "{{ 'retry-failed' if params.retry_failed else '' }}"

    /// Shell lines every task runs before the runner: credentials, then the per-run arguments from `env`.
    private func setupScript() -> String {
        var lines = ["set -euo pipefail"]
        if options.credentials == .environment {
            let database = input.plan.runtime.database
            for (target, source) in [("DJ_USER", database.userEnv), ("DJ_PASS", database.passwordEnv)] {
                // `source` is a validated variable name, safe inside ${...}.
                let message = ShellQuoting.quote("djflow: \(source) is not set in the Airflow worker's environment (database.secret); not retrying")
                lines.append("if [[ -z ${\(source)+set} ]]; then echo \(message) >&2; exit \(RunnerExit.usage.rawValue); fi")
                if target != source { lines.append("export \(target)=\"${\(source)}\"") }
            }
        }
        lines += [
            "args=()",
            "if [[ -n ${DJFLOW_RESTRICTION-} ]]; then args+=(--restriction \"$DJFLOW_RESTRICTION\"); fi",
            "if (( ${DJFLOW_TRY_NUMBER:-1} > 1 )) || [[ -n ${DJFLOW_RETRY_FAILED-} ]]; then args+=(--clear-errors); fi",
            "if [[ -n ${DJFLOW_WORKER-} ]]; then args+=(--worker \"$DJFLOW_WORKER\"); fi",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `exec -- python3 "$DJFLOW_RUNNER" --module M --table T …`, each value quoted for bash, wrapped for Jinja,
    /// as a Python literal (`--`: an interpreter named `-…` is a command, not an option of `exec`). It ends in
    /// `}`, never in `.sh`/`.bash` (which Airflow would load as a template file).
    private func command(_ job: Job, step: RunnerStep) -> String {
        let words = [ShellQuoting.quote(input.plan.runtime.python), "\"$DJFLOW_RUNNER\"", ShellQuoting.join(job.runnerArguments(for: step))]
        let text = ["exec --", words.joinedInOnePass(separator: " "), "${args[@]+\"${args[@]}\"}"].joinedInOnePass(separator: " ")
        return PythonQuoting.literal(JinjaQuoting.wrap(text))
    }

    // MARK: tasks

    private func placement(_ job: Job) -> AirflowOptions.Placement {
        (options.tablePlacement[job.table] ?? .init()).over(options.placement)
    }

    private func tasks(_ job: Job) -> [AirflowDagContext.Task] {
        let placement = self.placement(job)
        let weight = placement.priorityWeight ?? job.priority.map { 256 - $0 } ?? 1
        func task(id: String, command: String, timeout: Int?, doc: String, workers: Int, first: Bool) -> AirflowDagContext.Task {
            var task = AirflowDagContext.Task(
                id: PythonQuoting.literal(id),
                command: command,
                // The first task of a table (its refresh step, or its only task) gives failed keys back with retry_failed.
                env: first ? "FIRST_STEP_ENV" : "ENV",
                retries: job.retries,
                priorityWeight: weight,
                doc: PythonQuoting.literal(doc),
                timeout: timeout,
                pool: placement.pool.map(PythonQuoting.literal),
                queue: placement.queue.map(PythonQuoting.literal))
            if workers > 1 {
                task.mapped = .init(workers: workers)
                if let throttle = job.throttle, throttle < workers { task.throttle = throttle }
            }
            return task
        }
        var doc = job.pool.map { "Populates \($0.members.map { "`\($0.table)`" }.joined(separator: ", ")) in workflow \(workflow.id) with \($0.slots) workers forked after the imports (a workflow pool)" }
            ?? "Populates `\(job.table)` (\(job.tier.rawValue)) in workflow \(workflow.id)"
        if !job.parts.isEmpty { doc += ", with its parts \(job.parts.map { "`\($0)`" }.joined(separator: ", "))" }
        doc += job.hasRefreshStep ? ": \(job.workers) workers, one mapped task instance each, after `\(names.refreshTaskID(job))` filled the job queue." : "."
        doc += " Retries: \(job.retries) (each retry first gives the table's failed keys back to the queue)."
        if job.onError == .continue { doc += " `on_error: continue`: failed keys stay in the jobs table and dependents still run." }
        guard job.hasRefreshStep else {
            return [task(id: names.taskID(job), command: command(job, step: .populate), timeout: job.resources.timeSeconds, doc: doc, workers: job.workers, first: true)]
        }
        let refreshDoc = "Fills the DataJoint job queue of `\(job.table)` (\(job.tier.rawValue)) once, so its \(job.workers) workers do not each refresh it."
        return [
            task(id: names.refreshTaskID(job), command: command(job, step: .refresh), timeout: min(job.resources.timeSeconds ?? 3600, 3600),
                 doc: refreshDoc, workers: 1, first: true),
            task(id: names.taskID(job), command: command(job, step: .populate), timeout: job.resources.timeSeconds, doc: doc, workers: job.workers, first: false),
        ]
    }

    /// `tasks[a] >> tasks[b]` for the plan's nearest dependencies (and refresh → workers).
    private func edges(jobs: [Job]) -> [String] {
        func ref(_ id: String) -> String { "tasks[\(PythonQuoting.literal(id))]" }
        var lines: [String] = []
        for job in jobs {
            let first = job.hasRefreshStep ? names.refreshTaskID(job) : names.taskID(job)
            for need in job.needs {
                guard let upstream = jobsByID[need] else { continue }
                lines.append("\(ref(names.taskID(upstream))) >> \(ref(first))")
            }
            if job.hasRefreshStep { lines.append("\(ref(names.refreshTaskID(job))) >> \(ref(names.taskID(job)))") }
        }
        return lines
    }

    private func leaves(jobs: [Job]) -> [Job] {
        let needed = Set(jobs.flatMap(\.needs))
        return jobs.filter { !needed.contains($0.id) }
    }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension AirflowDagContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 24)
        tree.add("comment", comment)
        tree.add("doc", doc)
        tree.add("environment", environment)
        tree.add("setup", setup)
        tree.add("dagID", dagID)
        tree.add("description", description)
        tree.add("schedule", schedule)
        tree.add("catchup", catchup)
        tree.add("startDate", startDate)
        tree.add("owner", owner)
        tree.add("tags", tags)
        tree.add("retryDelay", retryDelay)
        tree.add("restrictionHelp", restrictionHelp)
        tree.add("retryFailedHelp", retryFailedHelp)
        tree.add("retryFailed", retryFailed)
        tree.add("assets", assets)
        tree.add("publishes", publishes)
        tree.add("tasks", tasks)
        tree.add("edges", edges)
        tree.add("splitBlockStart", splitBlockStart)
        tree.add("carriageReturn", carriageReturn)
        tree.add("paused", paused)
        tree.add("done", done)
        tree.add("exit", exit)
        return .object(tree)
    }
}

extension AirflowDagContext.Task: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 11)
        tree.add("id", id)
        tree.add("command", command)
        tree.add("env", env)
        tree.add("retries", retries)
        tree.add("priorityWeight", priorityWeight)
        tree.add("doc", doc)
        tree.add("timeout", timeout)
        tree.add("pool", pool)
        tree.add("queue", queue)
        tree.add("mapped", mapped)
        tree.add("throttle", throttle)
        return .object(tree)
    }
}

extension AirflowDagContext.Mapped: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 1)
        tree.add("workers", workers)
        return .object(tree)
    }
}

extension AirflowDagContext.Done: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 3)
        tree.add("id", id)
        tree.add("asset", asset)
        tree.add("leaves", leaves)
        return .object(tree)
    }
}

extension AirflowIgnoreContext {
    var templateValue: TemplateValue {
        .object(TemplateFields())
    }
}
