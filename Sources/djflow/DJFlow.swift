// The `djflow` command: subcommands, version, and the exit codes every command shares.

import ArgumentParser

@main
struct DJFlow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "djflow",
        abstract: "Compile DataJoint pipelines into scheduler-native workflows for SLURM, HTCondor, Kubernetes and Airflow.",
        discussion: """
            djflow reads a pipeline definition (djflow.yaml), splits it into workflows at the tables people \
            fill by hand (gates), and writes static artifacts that the scheduler runs on its own.

            Targets (--target, or 'targets:' in djflow.yaml):
              slurm       sbatch scripts: a job array per table, submit.sh per workflow
              htcondor    submit files and DAGMan files (all.dag splices every workflow)
              kubernetes  one YAML file of Indexed Jobs per workflow, for kubectl apply -f
              airflow     one DAG file per workflow (Airflow 3.x and 2.10+)
              all         all four

            Shell completions: djflow --generate-completion-script bash|zsh|fish

            Exit codes:
              0   success
              1   --check: the output folder differs from what compile would write
              2   the pipeline definition has errors (printed as file:line:col: error: ...)
              64  bad command-line usage
              74  a file could not be read or written
            """,
        version: DJFlowVersion.current,
        subcommands: [Compile.self, Validate.self, Plan.self, Status.self, Import.self, Templates.self])
}

/// Exit codes shared by every command.
enum ExitStatus {
    static let drift = ExitCode(1)
    static let invalidPipeline = ExitCode(2)
    static let usage = ExitCode(64)
    static let io = ExitCode(74)
}
