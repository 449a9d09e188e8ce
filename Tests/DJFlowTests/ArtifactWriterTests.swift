// The writer on a real folder: staged targets replace the output only together, and a failed write changes nothing.

import DJFlowKit
import Foundation
import Testing

@Suite struct ArtifactWriterTests {
    private func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("djflow-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func contents(_ root: URL) -> [String: String] {
        var found: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return found }
        for case let url as URL in walker {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            found[String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))] = try? String(contentsOf: url, encoding: .utf8)
        }
        return found
    }

    private func file(_ path: String, _ text: String) -> OutputFile { OutputFile(path: path, contents: text, executable: false) }

    /// A writer whose output folder (`root/generated`) already holds an earlier compile: two target folders.
    private func writerWithEarlierOutput(in root: URL) throws -> (out: URL, writer: ArtifactWriter) {
        let out = root.appendingPathComponent("generated")
        let writer = ArtifactWriter(outputFolder: out.path)
        try writer.write([file("slurm/old.sbatch", "old\n"), file("airflow/old.py", "old\n")])
        return (out, writer)
    }

    /// Targets arrive one by one (`compile` streams them); the output changes only at `commit`, all at once,
    /// and no staging folder is left behind.
    @Test func stagedTargetsReplaceTheOutputTogetherAtCommit() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (out, writer) = try writerWithEarlierOutput(in: root)
        do {
            let staged = ArtifactWriter.StagedWrite(writer: writer)
            try staged.add([file("airflow/w0.py", "a\n")])
            try staged.add([file("slurm/w0/job.sbatch", "s\n"), file("slurm/submit_all.sh", "x\n")])
            #expect(contents(out).filter { !$0.key.hasPrefix(".djflow-staging-") } == ["slurm/old.sbatch": "old\n", "airflow/old.py": "old\n"],
                    "nothing replaced before commit")
            try staged.commit()
        }
        #expect(contents(out) == ["airflow/w0.py": "a\n", "slurm/w0/job.sbatch": "s\n", "slurm/submit_all.sh": "x\n"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["airflow", "slurm"], "no staging left")
    }

    /// The previous output is deleted whole, however deep, and a symbolic link in it is removed, never
    /// followed: what it points to (here a folder of the user's beside the output) stays.
    @Test func replacedOutputIsDeletedWithoutFollowingLinks() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let mine = root.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        try "keep\n".write(to: mine.appendingPathComponent("notes.txt"), atomically: false, encoding: .utf8)
        let out = root.appendingPathComponent("generated")
        let writer = ArtifactWriter(outputFolder: out.path)
        try writer.write([file("slurm/a/b/c/deep.sbatch", "1\n"), file("slurm/a/x.sbatch", "2\n"), file("slurm/top.sh", "3\n")])
        try FileManager.default.createSymbolicLink(at: out.appendingPathComponent("slurm/a/link"), withDestinationURL: mine)
        try FileManager.default.createSymbolicLink(at: out.appendingPathComponent("slurm/a/b/file-link"), withDestinationURL: mine.appendingPathComponent("notes.txt"))
        try writer.write([file("slurm/new.sh", "4\n")])
        #expect(contents(out) == ["slurm/new.sh": "4\n"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["slurm"], "no staging left")
        #expect(contents(mine) == ["notes.txt": "keep\n"], "links were removed, not followed")
    }

    /// A batch that cannot be written (here: one path twice) fails the write, and the output stays as it was,
    /// including the targets staged before it.
    @Test func aFailedBatchLeavesTheOutputAsItWas() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (out, writer) = try writerWithEarlierOutput(in: root)
        do {
            let staged = ArtifactWriter.StagedWrite(writer: writer)
            try staged.add([file("airflow/w0.py", "a\n")])
            #expect(throws: (any Error).self) { try staged.add([file("slurm/x.sbatch", "1\n"), file("slurm/x.sbatch", "2\n")]) }
        }
        #expect(contents(out) == ["slurm/old.sbatch": "old\n", "airflow/old.py": "old\n"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["airflow", "slurm"], "no staging left")
    }

    /// Nothing added: the output folder is not even created (bad input leaves no trace).
    @Test func aWriteWithNothingAddedCreatesNothing() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("generated")
        try ArtifactWriter.StagedWrite(writer: ArtifactWriter(outputFolder: out.path)).commit()
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
