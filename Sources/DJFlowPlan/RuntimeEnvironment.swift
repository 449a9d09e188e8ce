// How every job starts the runner and reaches the database, scheduler-neutral: part of the plan's runner
// contract, so targets lay it out without reading the spec.

import DJFlowSpec

/// The runner's runtime environment, the same for every job of the pipeline.
public struct RuntimeEnvironment: Codable, Sendable, Equatable {
    /// One variable of `runner.env`.
    public struct Variable: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
    }

    /// The database connection: settings by value, credentials by the names of the variables that hold
    /// them where jobs run (never their values).
    public struct Database: Codable, Sendable, Equatable {
        public var host: String?
        /// `mysql` or `postgresql`.
        public var backend: String
        public var userEnv: String
        public var passwordEnv: String
        /// The Kubernetes Secret holding the two variables (`database.secret.name`).
        public var secretName: String?
    }

    /// The interpreter that runs `djflow_populate.py` (`runner.python`).
    public var python: String
    /// The container image (`runner.image`), for the container targets.
    public var image: String?
    /// `runner.env` in the order written: plain values every job gets.
    public var environment: [Variable]
    public var database: Database

    init(_ spec: PipelineSpec) {
        python = spec.runner.python.value
        image = spec.runner.image?.value
        environment = spec.runner.environment.map { Variable(name: $0.key.value, value: $0.value.value) }
        let database = spec.database
        self.database = Database(host: database.host?.value, backend: database.backend.rawValue, userEnv: database.userEnv.value,
                                 passwordEnv: database.passwordEnv.value, secretName: database.secretName?.value)
    }
}
