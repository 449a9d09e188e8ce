/// The djflow version, printed by `djflow --version`. It lives in the command-line tool only: the compiler
/// library never sees it, so generated files never carry it (their bytes depend on the pipeline alone).
/// Raise it with every release.
enum DJFlowVersion {
    static let current = "0.1.0"
}
