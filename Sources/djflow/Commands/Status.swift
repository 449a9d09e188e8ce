// `djflow status`: where a run stands, read from the database through the pipeline's own Python and
// DataJoint (djflow_status.py beside the runner, in a temporary folder), plus the SLURM jobs of each
// table from one `squeue` and one `sacct` call.
import ArgumentParser
import DJFlowKit
import DJFlowPlan
import DJFlowSpec
import DJFlowTargets
import DJFlowTemplates
import Foundation

extension StatusFormat: ExpressibleByArgument {}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show where a run stands: keys done, to do, running and failed per table; gates; SLURM jobs.",
        discussion: """
            Reads the database with the pipeline's Python (runner.python, or --python) and DataJoint, \
            connecting from the DJ_* environment as the jobs do (database.host and the variables named in \
            database.secret are applied the same way). On a machine with SLURM's squeue, each table's jobs \
            are listed by name with their state.

            Exit codes: 0 every job's table is done; 1 work is left; 3 some key is in error; 2 the pipeline \
            has errors or the status reader could not resolve a table; 75 the database is unreachable.
            """)

    @OptionGroup var pipeline: PipelineArgument

    @Option(name: .long, help: "Output format: text, json, mermaid or dot.")
    var format: StatusFormat = .text

    @Option(name: .long, help: "A key restriction (JSON object, array or SQL string), as for the runner.")
    var restriction: String?

    @Option(name: .long, help: "The Python interpreter with DataJoint (default: runner.python).")
    var python: String?

    @Option(name: .long, help: "Scheduler to ask for job states: slurm, none, or auto (slurm when squeue is on PATH).")
    var scheduler: String = "auto"

    func run() throws {
        let source = try pipeline.source()
        let reader = pipeline.pythonReader()
        let analysis = CompilerPipeline.analyse(source, sources: reader.provider)
        try report(analysis.diagnostics, files: analysis.files)
        guard let plan = analysis.plan, let spec = analysis.spec else { throw ExitStatus.invalidPipeline }

        let request = StatusRequest(spec: spec, plan: plan, restriction: restriction)
        let reading = try readDatabase(request, spec: spec)
        let jobs = (scheduler == "slurm" || (scheduler == "auto" && Self.which("squeue") != nil)) ? Self.slurmJobs(plan) : [:]
        let status = RunStatus(plan: plan, reading: reading, scheduler: jobs, restriction: restriction)
        print(StatusRenderer.render(status, plan: plan, as: format), terminator: "")
        if status.exitCode != 0 { throw ExitCode(status.exitCode) }
    }

    /// Runs djflow_status.py with the pipeline's interpreter; exits with its code when it fails.
    func readDatabase(_ request: StatusRequest, spec: PipelineSpec) throws -> StatusReading {
        let library = try TemplateLibrary()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("djflow-status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["djflow_populate.py", "djflow_status.py"] {
            try Data(library.raw("runner/\(name)").utf8).write(to: folder.appendingPathComponent(name))
        }
        var environment = ProcessInfo.processInfo.environment
        if let host = spec.database.host?.value { environment["DJ_HOST"] = host }
        environment["DJ_BACKEND"] = spec.database.backend.rawValue
        if let value = environment[spec.database.userEnv.value] { environment["DJ_USER"] = value }
        if let value = environment[spec.database.passwordEnv.value] { environment["DJ_PASS"] = value }
        for (key, value) in spec.runner.environment { environment[key.value] = value.value }
        let interpreter = python ?? spec.runner.python.value
        let (code, output, errors) = try Self.execute([interpreter, folder.appendingPathComponent("djflow_status.py").path],
                                                     input: request.json(), environment: environment)
        let reading = try? JSONDecoder().decode(StatusReading.self, from: output)
        guard code == 0, let reading else {
            let message = reading?.errors?.joined(separator: "; ") ?? String(decoding: errors.suffix(2000), as: UTF8.self)
            printDiagnostic("cannot read the run's status: \(message)")
            // The status reader exits like the runner: an unreachable database stays transient (retry later).
            throw ExitCode(Int32(code == RunnerExit.transient.rawValue ? RunnerExit.transient.rawValue : RunnerExit.usage.rawValue))
        }
        return reading
    }

    static func which(_ tool: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(folder)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a program with stdin; stdout is read through a pipe, stderr goes to a temporary file (so a
    /// chatty program never blocks on a full pipe).
    static func execute(_ argv: [String], input: Data? = nil, environment: [String: String]? = nil) throws -> (Int32, Data, Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        if let environment { process.environment = environment }
        let errorURL = FileManager.default.temporaryDirectory.appendingPathComponent("djflow-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorURL) }
        let errorHandle = try FileHandle(forWritingTo: errorURL)
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = errorHandle
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errorHandle.close()
        return (process.terminationStatus, out, (try? Data(contentsOf: errorURL)) ?? Data())
    }

    /// Each job's SLURM jobs (worker arrays and refresh steps), from one squeue and one sacct call.
    static func slurmJobs(_ plan: ExecutionPlan) -> [String: [SchedulerJob]] {
        let names = SlurmTarget.jobNames(plan)
        var jobOf: [String: String] = [:]
        for (job, name) in names { jobOf[name] = job; jobOf[name + ".refresh"] = job }
        var found: [String: SchedulerJob] = [:]
        let list = jobOf.keys.sorted().joined(separator: ",")
        if let (code, out, _) = try? execute(["sacct", "-X", "-n", "-P", "-o", "JobID,JobName,State", "--name=\(list)"]), code == 0 {
            collect(out, into: &found, jobOf: jobOf)
        } else if let (code, out, _) = try? execute(["sacct", "-c", "-n", "-P", "-o", "jobid,jobname,state"]), code == 0 {
            collect(out, into: &found, jobOf: jobOf)   // no slurmdbd: the job completion log
        }
        if let (code, out, _) = try? execute(["squeue", "-h", "-o", "%i|%j|%T", "--name=\(list)"]), code == 0 {
            collect(out, into: &found, jobOf: jobOf)   // live states win over accounting
        }
        var result: [String: [SchedulerJob]] = [:]
        for (_, job) in found.sorted(by: { $0.key < $1.key }) { result[jobOf[job.name]!, default: []].append(job) }
        return result
    }

    static func collect(_ data: Data, into found: inout [String: SchedulerJob], jobOf: [String: String]) {
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, jobOf[fields[1]] != nil else { continue }
            let state = fields[2].split(separator: " ").first.map(String.init) ?? fields[2]
            found[fields[0]] = SchedulerJob(id: fields[0], name: fields[1], state: state)
        }
    }
}
