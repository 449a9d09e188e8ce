import DJFlowCore
import DJFlowKit
import DJFlowTargets
import Foundation
import Testing

/// SLURM lowering details that the samples do not exercise.
@Suite struct SlurmTargetTests {
    func files(_ yaml: String) throws -> [String: String] {
        let output = try compileFiles(SourceFile(path: "p.yaml", text: yaml), targets: [.slurm])
        return Dictionary(uniqueKeysWithValues: output.map { ($0.path, $0.contents) })
    }

    @Test func workersAboveMaxArraySizeAreSplitIntoSeveralArrays() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], workers: 7, throttle: 2}\nB: {tier: computed, depends_on: [A]}",
                                     extra: "targets: {slurm: {max_array_size: 3}}"))
        let submit = try #require(out["slurm/w0-a/submit.sh"])
        #expect(submit.contains("submit a a A w0-a/a.sbatch a.refresh '' --array=0-2%2 0 --array=0-2%2 3 --array=0 6"), "\(submit)")
        #expect(submit.contains("submit a.refresh a 'A (refresh)' w0-a/a.refresh.sbatch '' first\n"))
        #expect(submit.contains("submit b b B w0-a/b.sbatch start:a first --array=0 0"), "B follows A key by key: after: (start)")
        #expect(submit.contains("  a A '' A\n  b B a B\n"), "the tables: job id, name, the jobs it depends on here, runner table")
        #expect(out["slurm/w0-a/a.sbatch"]?.contains("#SBATCH --array=0-2%2") == true)
    }

    @Test func apptainerWrapsTheRunnerAndDefaultsToTheRunnerImage() throws {
        let out = try files("""
            pipeline: p
            runner: {module: m, image: 'ghcr.io/lab/img:1.0'}
            tables:
              S: {tier: manual}
              G: {tier: computed, depends_on: [S], resources: {gpus: 2}}
            targets: {slurm: {apptainer: {binds: ['/data:/data'], options: [--cleanenv]}}}
            """)
        let script = try #require(out["slurm/w0-g/g.sbatch"])
        #expect(script.contains("runner=(apptainer exec --nv --bind /data:/data --bind \"$root\" --cleanenv docker://ghcr.io/lab/img:1.0 python3 \"$root\"/djflow_populate.py --module m --table G)"), "\(script)")
        #expect(script.contains("#SBATCH --gres=gpu:2"))
    }

    @Test func secretsAreReferencedNeverWritten() throws {
        let out = try files("""
            pipeline: p
            runner: {module: m}
            database: {host: 'db:3306', backend: postgresql, secret: {user_env: LAB_DB_USER, password_env: LAB_DB_PASS}}
            tables: {S: {tier: manual}, A: {tier: computed, depends_on: [S]}}
            """)
        let script = try #require(out["slurm/w0-a/a.sbatch"])
        #expect(script.contains("if [[ -z ${LAB_DB_PASS+set} ]]; then echo 'djflow: LAB_DB_PASS is not set"))
        #expect(script.contains("export DJ_PASS=\"${LAB_DB_PASS}\""))
        #expect(script.contains("export DJ_USER=\"${LAB_DB_USER}\""))
        #expect(script.contains("export DJ_BACKEND=postgresql"))
    }

    @Test func onErrorContinueAndRunnerOptionsReachTheCommand() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S], on_error: continue, max_calls: 50, processes: 2, priority: 7}"))
        let script = try #require(out["slurm/w0-a/a.sbatch"])
        #expect(script.contains("--table A --priority 7 --max-calls 50 --processes 2 --suppress-errors)"), "\(script)")
    }

    @Test func optionalPlacementIsOmittedAndPerTableOverridesApply() throws {
        let out = try files(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}\nB: {tier: computed, depends_on: [S], targets: {slurm: {partition: gpu, extra: ['--mail-type=END']}}}"))
        let a = try #require(out["slurm/w0-a/a.sbatch"])
        #expect(!a.contains("--partition") && !a.contains("--account") && !a.contains("--qos"))
        let b = try #require(out["slurm/w0-a/b.sbatch"])
        #expect(b.contains("#SBATCH --partition=gpu\n#SBATCH --mail-type=END\n"))
    }

    @Test func longNamesAreFittedToFiftyCharactersAndStayUnique() throws {
        let long = "VeryLongTableNameThatKeepsGoingAndGoingForeverAndEver"
        let out = try files("""
            pipeline: a-pipeline-with-a-rather-long-name
            runner: {module: m}
            tables: {S: {tier: manual}, \(long)One: {tier: computed, depends_on: [S]}, \(long)Two: {tier: computed, depends_on: [S]}}
            """)
        let names = out.values.flatMap { $0.split(separator: "\n") }.filter { $0.hasPrefix("#SBATCH --job-name=") }
            .map { String($0.dropFirst("#SBATCH --job-name=".count)) }
        #expect(names.count == 2)
        #expect(Set(names).count == 2)
        for name in names {
            #expect(name.count <= 50, "\(name)")
            #expect(name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "-" || $0 == "_") })
        }
    }
}
