// The runner's exit codes have one definition in Swift (`RunnerExit`), which every target prints and acts
// on; these tests hold it to the constants of the scripts that really exit with them.
import DJFlowCore
import DJFlowKit
import DJFlowPlan
@testable import DJFlowTargets
import Foundation
import Testing

@Suite struct RunnerContractTests {
    /// `EXIT_NAME = 12` assignments of a template file.
    static func exitConstants(_ file: String) throws -> [String: Int] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Templates/\(file)"), encoding: .utf8)
        var constants: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("EXIT_") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = Int(parts[1]) { constants[parts[0]] = value }
        }
        return constants
    }

    @Test func swiftExitCodesAreTheRunners() throws {
        let runner = try Self.exitConstants("runner/djflow_populate.py")
        let expected: [String: RunnerExit] = [
            "EXIT_OK": .ok, "EXIT_ERRORS": .errors, "EXIT_USAGE": .usage, "EXIT_TRANSIENT": .transient,
            "EXIT_INTERRUPTED": .interrupted, "EXIT_TERMINATED": .terminated,
        ]
        #expect(runner == expected.mapValues(\.rawValue), "djflow_populate.py's EXIT_* and RunnerExit differ")
        #expect(Set(expected.values) == Set(RunnerExit.allCases))
    }

    @Test func kubernetesFailsJobsOnTheHelpersAndTheRunnersFatalCodes() throws {
        let helper = try Self.exitConstants("kubernetes/djflow_k8s.py")
        let codes = KubernetesWorkflowContext.HelperExitCodes()
        #expect(helper["EXIT_UPSTREAM_FAILED"] == codes.upstreamFailed)
        #expect(helper["EXIT_TIMEOUT"] == codes.timeout)
        #expect(helper["EXIT_USAGE"] == RunnerExit.usage.rawValue)
    }

    @Test func thePlanCarriesTheRuntimeEnvironment() throws {
        let yaml = pipeline("A: {tier: manual, definition: \"a: int\\n---\\n\"}\nB: {tier: computed, definition: \"-> A\\n---\\n\"}")
            .replacingOccurrences(of: "runner: {module: test_pipeline, image: 'registry.example/test:1'}",
                                  with: "runner: {module: test_pipeline, image: 'registry.example/test:1', python: /opt/py/bin/python, env: {OMP_NUM_THREADS: '1', A_B: x y}}")
        let plan = try #require(CompilerPipeline.analyse(SourceFile(path: "test.yaml", text: yaml)).plan)
        #expect(plan.runtime.python == "/opt/py/bin/python")
        #expect(plan.runtime.image == "registry.example/test:1")
        #expect(plan.runtime.environment.map(\.name) == ["OMP_NUM_THREADS", "A_B"] && plan.runtime.environment[1].value == "x y")
        let database = plan.runtime.database
        #expect(database.host == "localhost" && database.backend == "mysql" && database.secretName == "test-db")
        #expect(database.userEnv == "DJ_USER" && database.passwordEnv == "DJ_PASS", "credentials by the names of their variables")
        let json = PlanRenderer.render(plan, as: .json)
        #expect(json.contains("\"runtime\"") && json.contains("OMP_NUM_THREADS"), "plan --format json shows the runtime environment")
    }

    @Test func templatesPrintTheExitCodesFromTheDefinition() throws {
        #expect(ExitCodes.runner == ExitCodes(ok: 0, errors: 1, usage: 2, transient: 75, terminated: 143))
        // The retry condition of the SLURM job script reads the codes from its context, not from literals.
        let sbatch = try String(contentsOf: packageRoot.appendingPathComponent("Templates/slurm/job.sbatch.mustache"), encoding: .utf8)
        #expect(sbatch.contains("status != {{exit.errors}} && status != {{exit.transient}}"))
        for file in ["slurm/job.sbatch", "slurm/submit.sh", "htcondor/job.sub", "airflow/dag.py", "kubernetes/workflow.yaml"] {
            let text = try String(contentsOf: packageRoot.appendingPathComponent("Templates/\(file).mustache"), encoding: .utf8)
            #expect(!text.contains(" 75 ") && !text.contains(" 143 ") && !text.contains("== 2"), "\(file) spells a runner exit code as a literal")
        }
    }
}
