// The writer on a real folder: staged targets replace the output only together, a failed write changes nothing,
// and a recompile keeps the files that did not change.

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

    private func status(_ url: URL) throws -> stat {
        var info = stat()
        guard lstat(url.path, &info) == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        return info
    }

    private func modified(_ url: URL) throws -> Date? {
        try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date
    }

    /// Recompiling keeps a file that has not changed (the same file: inode, modification time, one link once
    /// the old output is gone) and writes the ones that changed or are new.
    @Test func unchangedFilesAreKeptAndOnlyChangedOnesWritten() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("generated")
        let writer = ArtifactWriter(outputFolder: out.path)
        let run = OutputFile(path: "slurm/w0/run.sh", contents: "#!/bin/bash\n", executable: true)
        try writer.write([file("slurm/same.sbatch", "same\n"), file("slurm/w0/changes.sbatch", "1\n"), run])
        let same = try status(out.appendingPathComponent("slurm/same.sbatch"))
        let sameModified = try modified(out.appendingPathComponent("slurm/same.sbatch"))
        let script = try status(out.appendingPathComponent("slurm/w0/run.sh"))
        let changes = try status(out.appendingPathComponent("slurm/w0/changes.sbatch"))
        try writer.write([file("slurm/same.sbatch", "same\n"), file("slurm/w0/changes.sbatch", "2\n"), run, file("slurm/new.sh", "n\n")])
        #expect(contents(out) == ["slurm/same.sbatch": "same\n", "slurm/w0/changes.sbatch": "2\n", "slurm/w0/run.sh": "#!/bin/bash\n", "slurm/new.sh": "n\n"])
        let sameAfter = try status(out.appendingPathComponent("slurm/same.sbatch"))
        let scriptAfter = try status(out.appendingPathComponent("slurm/w0/run.sh"))
        #expect(sameAfter.st_ino == same.st_ino)
        #expect(try modified(out.appendingPathComponent("slurm/same.sbatch")) == sameModified)
        #expect(sameAfter.st_nlink == 1, "the old output's link is gone")
        #expect(scriptAfter.st_ino == script.st_ino && scriptAfter.st_mode & 0o7777 == 0o755)
        #expect(try status(out.appendingPathComponent("slurm/w0/changes.sbatch")).st_ino != changes.st_ino)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["slurm"], "no staging left")
    }

    /// A file is kept only when it is exactly what would be written, and linked nowhere else: a file with
    /// another link (changing one would change the other), other permissions, another executable bit, or a
    /// symbolic link in its place is written anew, and what the other link or the symbolic link points to stays.
    @Test func onlyAnIdenticalFileOfItsOwnIsKept() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("generated")
        let writer = ArtifactWriter(outputFolder: out.path)
        let names = ["linked", "private", "exec", "symlink"]
        try writer.write(names.map { file("slurm/\($0)", "x\n") })
        let slurm = out.appendingPathComponent("slurm")
        let mine = root.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        #expect(link(slurm.appendingPathComponent("linked").path, mine.appendingPathComponent("linked").path) == 0)
        #expect(chmod(slurm.appendingPathComponent("private").path, 0o600) == 0)
        try "x\n".write(to: mine.appendingPathComponent("target"), atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(at: slurm.appendingPathComponent("symlink"))
        try FileManager.default.createSymbolicLink(at: slurm.appendingPathComponent("symlink"), withDestinationURL: mine.appendingPathComponent("target"))
        let before = try Dictionary(uniqueKeysWithValues: names.map { ($0, try status(slurm.appendingPathComponent($0)).st_ino) })
        try writer.write([file("slurm/linked", "x\n"), file("slurm/private", "x\n"), file("slurm/symlink", "x\n"),
                          OutputFile(path: "slurm/exec", contents: "x\n", executable: true)])
        for name in names {
            let after = try status(slurm.appendingPathComponent(name))
            #expect(after.st_ino != before[name], "\(name) was written anew")
            #expect(after.st_mode & S_IFMT == S_IFREG && after.st_nlink == 1, "\(name) is a regular file of its own")
            #expect(after.st_mode & 0o7777 == (name == "exec" ? 0o755 : 0o644), "\(name)'s permissions")
        }
        #expect(contents(slurm) == Dictionary(uniqueKeysWithValues: names.map { ($0, "x\n") }))
        #expect(contents(mine) == ["linked": "x\n", "target": "x\n"])
        #expect(try status(mine.appendingPathComponent("linked")).st_nlink == 1)
    }

    /// A failed write that had already reused unchanged files leaves them as they were, with one link each.
    @Test func aFailedWriteLeavesReusedFilesAsTheyWere() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (out, writer) = try writerWithEarlierOutput(in: root)
        let old = try status(out.appendingPathComponent("slurm/old.sbatch"))
        do {
            let staged = ArtifactWriter.StagedWrite(writer: writer)
            try staged.add([file("slurm/old.sbatch", "old\n")])
            #expect(try status(out.appendingPathComponent("slurm/old.sbatch")).st_nlink == 2, "linked into the staging folder")
            #expect(throws: (any Error).self) { try staged.add([file("airflow/x.py", "1\n"), file("airflow/x.py", "2\n")]) }
        }
        #expect(contents(out) == ["slurm/old.sbatch": "old\n", "airflow/old.py": "old\n"])
        let after = try status(out.appendingPathComponent("slurm/old.sbatch"))
        #expect(after.st_ino == old.st_ino && after.st_nlink == 1)
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
