// Workflow pools in the plan (issue #12): which jobs join their workflow's pool, how the jobs around a pool
// depend on it, the pool job's runner arguments and resources, and the settings' checks.
import DJFlowCore
import DJFlowKit
import DJFlowPlan
import Testing

@Suite struct PoolingTests {
    func plan(_ yaml: String) throws -> ExecutionPlan { try PlanTests().plan(yaml) }

    static let chain = """
        S: {tier: manual, definition: "s: int"}
        A: {tier: computed, definition: "-> S\\n---\\nx: int", resources: {cpus: 2, memory: 1G, time: '1:00:00'}}
        B: {tier: computed, definition: "-> A\\n---\\ny: int", max_calls: 5, priority: 3}
        C: {tier: computed, definition: "-> A\\n---\\n-> B.proj(other='s')", on_error: continue}
        """

    @Test func aWorkflowBecomesOnePoolJobWithItsMembersInOrder() throws {
        let plan = try plan(pipeline(Self.chain, extra: "defaults: {pool: 4, resources: {time: '0:30:00'}}"))
        #expect(plan.jobs.map(\.id) == ["w0-a-pool"], "\(plan.jobs.map(\.id))")
        let pool = try #require(plan.jobs.first?.pool)
        #expect(pool.slots == 4 && pool.members.map(\.table) == ["A", "B", "C"])
        #expect(pool.members.map(\.job) == ["a", "b", "c"], "the ids their own jobs would have")
        // C references B below `---`: table-level order on B (which implies A).
        #expect(pool.members[2].follows.isEmpty && pool.members[2].after == ["B"])
        #expect(plan.jobs[0].runnerArguments(for: .populate) == [
            "--module", "test_pipeline", "--pool", "4", "--member", "A", "--member", "B;follow=A;max-calls=5;priority=3",
            "--member", "C;after=B;suppress-errors"])
        #expect(plan.jobs[0].runnerSteps.map(\.step) == [.populate])
        #expect(plan.jobs[0].runnerSteps.first?.arguments == plan.jobs[0].runnerArguments(for: .populate))
        let resources = plan.jobs[0].resources
        #expect(resources.cpus == 8 && resources.memoryMiB == 4096 && resources.gpus == 0)
        #expect(resources.timeSeconds == 3600 + 1800 + 1800, "the members' times add up: a slot may run them one after another")
        #expect(plan.workflows[0].jobs == ["w0-a-pool"] && plan.workflows[0].outsidePool == nil)
    }

    @Test func poolTrueTakesMaxWorkersSlots() throws {
        #expect(try plan(pipeline(Self.chain, extra: "defaults: {pool: true}")).jobs[0].pool?.slots == Planner.defaultMaxWorkers)
        #expect(try plan(pipeline(Self.chain, extra: "defaults: {pool: true, max_workers: 3}")).jobs[0].pool?.slots == 3)
        #expect(try plan(pipeline(Self.chain)).jobs.allSatisfy { $0.pool == nil }, "no pool unless asked")
    }

    @Test func aGPUTableAndEverythingBelowItKeepTheirOwnJobs() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual, definition: "s: int"}
            A: {tier: computed, definition: "-> S\\n---\\nx: int"}
            G: {tier: computed, definition: "-> A\\n---\\ny: int", resources: {gpus: 1}}
            D: {tier: computed, definition: "-> G\\n---\\nz: int"}
            E: {tier: computed, definition: "-> A\\n---\\nz: int"}
            F: {tier: computed, definition: "-> A\\n---\\n-> E.proj(other='s')", pool: false}
            """, extra: "defaults: {pool: 2}"))
        #expect(plan.jobs.map(\.id) == ["w0-a-pool", "f", "g", "d"], "\(plan.jobs.map(\.id))")
        #expect(plan.jobs[0].pool?.members.map(\.table) == ["A", "E"])
        let g = try #require(plan.job("g")), f = try #require(plan.job("f")), d = try #require(plan.job("d"))
        #expect(g.needs == ["w0-a-pool"] && g.follows == ["w0-a-pool"], "follows A key by key: starts with the pool")
        #expect(g.upstreamTables == ["A"] && g.tableUpstream == ["a"])
        #expect(f.needs == ["w0-a-pool"] && f.follows.isEmpty, "table-level on E (below ---): after the whole pool")
        #expect(d.needs == ["g"] && d.follows == ["g"] && d.tableUpstream == nil)
        let outside = plan.workflows[0].outsidePool ?? []
        #expect(outside.map(\.table) == ["G", "D"], "\(outside)")
        #expect(outside[0].reason.contains("GPU") && outside[1].reason.contains("upstream job g"))
    }

    @Test func laterWorkflowsDependOnThePool() throws {
        let plan = try plan(pipeline("""
            S: {tier: manual, definition: "s: int"}
            A: {tier: computed, definition: "-> S\\n---\\nx: int"}
            T: {tier: manual, definition: "-> A\\n---\\nnote: varchar(8)"}
            B: {tier: computed, definition: "-> T\\n---\\ny: int"}
            """, extra: "defaults: {pool: 2}"))
        #expect(plan.jobs.map(\.id) == ["w0-a-pool", "w1-t-pool"])
        #expect(plan.jobs[1].after == ["w0-a-pool"] && plan.jobs[1].needs.isEmpty)
        #expect(plan.jobs[1].pool?.members[0].upstream == ["a"])
    }

    @Test func warningsSayWhatThePoolChanges() {
        let printed = printedDiagnostics(pipeline("""
            S: {tier: manual, definition: "s: int"}
            A: {tier: computed, definition: "-> S\\n---\\nx: int", workers: 4, targets: {slurm: {partition: big}}}
            G: {tier: computed, definition: "-> A\\n---\\ny: int", resources: {gpus: 1}, targets: {slurm: {partition: gpu}}}
            """, extra: "defaults: {pool: 2}\ntargets: {slurm: {}}"))
        #expect(printed.contains("warning: 'workers' has no effect: table 'A' runs in the pool of workflow w0-a, whose 2 worker slots its tables share"), "\(printed)")
        #expect(printed.contains("warning: table 'G' runs in a job of its own, outside the pool of workflow w0-a: it needs GPUs"), "\(printed)")
        #expect(printed.contains("warning: 'targets' has no effect: table 'A' runs in the pool of workflow w0-a"), "\(printed)")
        #expect(!printed.contains("table 'G' runs in the pool"), "G keeps its own job and placement: \(printed)")
        #expect(printed.contains("defaults: {pool: 2}\n") && printed.contains("^"), "located at the setting, with a caret: \(printed)")
    }

    @Test func badPoolValuesAreLocatedErrors() {
        let printed = printedDiagnostics(pipeline("""
            S: {tier: manual}
            A: {tier: computed, depends_on: [S], pool: 3}
            B: {tier: computed, depends_on: [A], pool: maybe}
            """, extra: "defaults: {pool: 0}"))
        #expect(printed.contains("error: 'pool' must be between 1 and 1024, found 0"), "\(printed)")
        #expect(printed.contains("error: a table's 'pool' is true or false, found '3'"), "\(printed)")
        #expect(printed.contains("error: 'pool' must be true or false, found 'maybe'"), "\(printed)")
        let quoted = printedDiagnostics(pipeline("S: {tier: manual}\nA: {tier: computed, depends_on: [S]}", extra: "defaults: {pool: '4'}"))
        #expect(quoted.contains("error: 'pool' (true, false or a number of worker slots) must be true or false"), "\(quoted)")
    }

    @Test func everyTargetLaysOutThePoolJobOnce() throws {
        let source = SourceFile(path: "test.yaml", text: pipeline(Self.chain, extra: "defaults: {pool: 3}\ntargets: {kubernetes: {}, airflow: {}, htcondor: {}, slurm: {}}"))
        let files = try compileFiles(source)
        let paths = Set(files.map(\.path))
        #expect(paths.contains("slurm/w0-a/w0-a-pool.sbatch") && !paths.contains("slurm/w0-a/a.sbatch"), "\(paths.sorted())")
        #expect(paths.contains("htcondor/w0-a/w0-a-pool.sub") && !paths.contains("htcondor/w0-a/b.sub"))
        let submit = try #require(files.first { $0.path == "slurm/w0-a/submit.sh" }).contents
        #expect(submit.contains("  w0-a-pool A '' A\n  w0-a-pool B '' B\n  w0-a-pool C '' C\n"), "one line per member: --only B runs the pool")
        let sbatch = try #require(files.first { $0.path == "slurm/w0-a/w0-a-pool.sbatch" }).contents
        #expect(sbatch.contains("#SBATCH --cpus-per-task=6\n") && sbatch.contains("'B;follow=A;max-calls=5;priority=3'"))
        let dag = try #require(files.first { $0.path == "htcondor/w0-a.dag" }).contents
        #expect(dag.contains("# djflow-table: w0-a-pool A,B,C w0-a-pool -"), "\(dag)")
    }
}
