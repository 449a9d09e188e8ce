// HTCondor: the context of a DAGMan input file.

import DJFlowCore
import DJFlowPlan
import DJFlowSpec
import DJFlowTemplates

/// The context of `htcondor/workflow.dag`: one workflow's nodes (`<workflow>.dag`), or `all.dag` splicing
/// every workflow. Lines are DAGMan commands with checked node names and quoted `VARS` values.
struct HTCondorDagContext: TemplateContext {
    static let template = "htcondor/workflow.dag"
    /// A block of commands under a comment; empty blocks are left out.
    struct Section: Codable, Sendable {
        var comment: String
        var lines: [Line]
    }

    /// What the DAG runs and how to submit it, as comment lines.
    var description: [Line]
    var sections: [Section]
}

/// Builds the DAGMan file contexts.
struct HTCondorDagBuilder {
    let plan: ExecutionPlan
    let options: HTCondorOptions
    let names: HTCondorNames
    /// Environment variables DAGMan must see on the access point (`$ENV(…)` in the submit files).
    let secretNames: [String]
    let jobsByID: [String: Job]

    init(plan: ExecutionPlan, options: HTCondorOptions, names: HTCondorNames, secretNames: [String]) {
        self.plan = plan; self.options = options; self.names = names; self.secretNames = secretNames
        jobsByID = plan.jobsByID
    }

    /// `<workflow>.dag`: JOB, VARS, PARENT/CHILD, RETRY, ABORT-DAG-ON, PRIORITY, CATEGORY, MAXJOBS.
    func workflow(_ workflow: Workflow) -> HTCondorDagContext {
        var jobs: [String] = [], edges: [String] = [], retries: [String] = [], aborts: [String] = []
        var priorities: [String] = [], categories: [String] = [], vars: [String] = []
        var limits: [(String, Int)] = []
        var tables: [String] = []
        for job in plan.jobs(of: workflow) {
            var nodes: [String] = []
            let userCategory = options.category(for: job.table).map { "+" + $0 }
            if let refresh = names.refreshNode(job) {
                jobs.append("JOB \(refresh) \(names.refreshSubmitFile(job))")
                nodes.append(refresh)
                if let category = userCategory { categories.append("CATEGORY \(refresh) \(category)") }
            }
            if let workers = names.workerNodes(job) {
                let category = "\(names.node(job))-workers"
                for (index, node) in workers.enumerated() {
                    jobs.append("JOB \(node) \(names.submitFile(job))")
                    vars.append("VARS \(node) APPEND DJFLOW_WORKER=\"\(HTCondorQuoting.varsValue(String(index)))\"")
                    categories.append("CATEGORY \(node) \(category)")
                }
                limits.append((category, job.throttle!))
                nodes += workers
            } else {
                jobs.append("JOB \(names.node(job)) \(names.submitFile(job))")
                nodes.append(names.node(job))
                if let category = userCategory { categories.append("CATEGORY \(names.node(job)) \(category)") }
            }
            let upstream = job.upstream.isEmpty ? "-" : job.upstream.joined(separator: ",")
            // (a workflow pool names every table it runs, separated by commas)
            tables.append("# djflow-table: \(job.id) \(job.tableEntries.map(\.table).joined(separator: ",")) \(nodes.joined(separator: ",")) \(upstream)")
            let parents = job.needs.compactMap { jobsByID[$0] }.flatMap(names.lastNodes)
            if !parents.isEmpty { edges.append("PARENT \(parents.joined(separator: " ")) CHILD \(names.firstNodes(job).joined(separator: " "))") }
            if let refresh = names.refreshNode(job) { edges.append("PARENT \(refresh) CHILD \(names.lastNodes(job).joined(separator: " "))") }
            for node in nodes {
                if job.retries > 0 { retries.append("RETRY \(node) \(job.retries) UNLESS-EXIT \(RunnerExit.usage.rawValue)") }
                aborts.append("ABORT-DAG-ON \(node) \(RunnerExit.usage.rawValue) RETURN \(RunnerExit.usage.rawValue)")
                if let priority = job.priority { priorities.append("PRIORITY \(node) \(HTCondorTarget.dataJointDefaultPriority - priority)") }
            }
        }
        let used = Set(categories.compactMap { $0.split(separator: " ").last.map(String.init) })
        limits += options.maxJobs.filter { used.contains("+" + $0.0) }.map { ("+" + $0.0, $0.1) }
        var description = ["Workflow \(workflow.id) of pipeline \(plan.pipeline): \(workflow.jobs.joined(separator: ", "))."]
        if workflow.gates.isEmpty {
            description.append("Enter the staged data first: \(workflow.waitsOn.joined(separator: ", ")).")
        } else {
            description.append("Runs after people enter data into: \(workflow.gates.joined(separator: ", ")) (the gate), so submit it once that is done.")
        }
        description += usage(dag: "\(workflow.id).dag")
        return HTCondorDagContext(
            description: description.asLines,
            sections: [
                section("Nodes: one cluster each (queue N = N workers).", jobs),
                section("Worker numbers of throttled tables (APPEND: set after the submit file is read).", vars),
                section("Nearest dependencies of the plan; a refresh step runs before its table's workers.", edges),
                section("Exit \(RunnerExit.errors.rawValue) (keys failed) and \(RunnerExit.transient.rawValue) (database unreachable) are retried with --clear-errors; exit \(RunnerExit.usage.rawValue) (usage or import error) never.", retries),
                section("A usage or import error (exit \(RunnerExit.usage.rawValue)) stops the whole DAG.", aborts),
                section("Table priority: DataJoint's is lower-first (default 5), DAGMan's higher-first, so 5 - priority.", priorities),
                section("Throttles: at most N clusters of a category at once.", categories + limits.map { "MAXJOBS \($0.0) \($0.1)" }),
                section("Tables, read by djflow_restrict.py: job id, table, its nodes (the first runs first), the jobs it depends on.", tables),
            ].filter { !$0.lines.isEmpty })
    }

    /// `all.dag`: every workflow as a SPLICE (one DAGMan, node names `<workflow>+<node>`), workflows
    /// ordered by the plan's cross-workflow dependencies.
    func all() -> HTCondorDagContext {
        let splices = plan.workflows.map { "SPLICE \($0.id) \($0.id).dag" }
        var edges: [String] = []
        for workflow in plan.workflows {
            var parents: [String] = []
            for job in plan.jobs(of: workflow) {
                for upstream in job.after {
                    if let id = jobsByID[upstream]?.workflow, !parents.contains(id) { parents.append(id) }
                }
            }
            if !parents.isEmpty { edges.append("PARENT \(parents.sorted().joined(separator: " ")) CHILD \(workflow.id)") }
        }
        var categories = Set(options.tableCategory.values)
        if let category = options.category { categories.insert(category) }
        let limits = options.maxJobs.filter { categories.contains($0.0) }.map { "MAXJOBS +\($0.0) \($0.1)" }
        var description = ["Every workflow of pipeline \(plan.pipeline), in order: \(plan.workflows.map(\.id).joined(separator: ", ")).",
                           "Later workflows wait on gates (tables people fill): submit this only when that data is already entered."]
        description += usage(dag: "all.dag")
        return HTCondorDagContext(
            description: description.asLines,
            sections: [
                section("One splice per workflow: one DAGMan runs them all.", splices),
                section("A workflow starts when the workflows its jobs depend on have finished.", edges),
                section("Global throttles (categories named +NAME span every splice).", limits),
            ].filter { !$0.lines.isEmpty })
    }

    private func usage(dag: String) -> [String] {
        let stem = String(dag.dropLast(".dag".count))
        return ["Submit from this folder (paths are relative to it; logs go to \(options.logDir)/), with the",
                "credential variables exported (DAGMan reads them by name when it submits each node):",
                "  condor_submit_dag -include_env \(secretNames.joined(separator: ",")) \(dag)",
                "One staged entry only: python3 djflow_restrict.py \(dag) 'RESTRICTION-JSON' writes \(stem).restricted.dag;",
                "it also takes --retry-failed (failed keys back to the queue first) and --only/--from TABLES (other nodes DONE)."]
    }

    private func section(_ comment: String, _ lines: [String]) -> HTCondorDagContext.Section {
        HTCondorDagContext.Section(comment: comment, lines: lines.asLines)
    }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension HTCondorDagContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 2)
        tree.add("description", description)
        tree.add("sections", sections)
        return .object(tree)
    }
}

extension HTCondorDagContext.Section: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 2)
        tree.add("comment", comment)
        tree.add("lines", lines)
        return .object(tree)
    }
}
