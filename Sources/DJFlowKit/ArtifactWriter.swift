// The only stage that touches the disk: writes rendered files atomically per target folder, and `--check`.

import DJFlowCore
import Foundation

/// Writes rendered files, the only stage that touches the disk.
///
/// Each target owns one folder under the output folder (`slurm/`, …). A folder is written into a
/// temporary sibling first and then renamed into place, so an error leaves the previous output as it was
/// and readers never see a half-written folder. Files outside the targets' folders are never touched.
/// A file the previous output already holds byte for byte (same permissions, owned by this user, with no
/// other link) is linked into the new folder, not written again: recompiling keeps unchanged files as they
/// were (their modification time too) and writes only what changed.
public struct ArtifactWriter: Sendable {
    public var outputFolder: URL

    public init(outputFolder: String) {
        self.outputFolder = URL(fileURLWithPath: outputFolder)
    }

    /// The difference between what is on disk and `files`, for `--check`.
    public struct Drift: Equatable, Sendable {
        public var stale: [String] = []
        public var missing: [String] = []
        public var extra: [String] = []
        public var isEmpty: Bool { stale.isEmpty && missing.isEmpty && extra.isEmpty }

        public init() {}
    }

    /// Top-level folders the files live in (one per target).
    static func folders(of paths: [String]) -> [String] {
        // The text before the first `/` (splitting every path of a 10,000-table compile took longer).
        var folders = Set<Substring>()
        for path in paths { folders.insert(path[..<(path.firstIndex(of: "/") ?? path.endIndex)]) }
        return folders.map(String.init).sorted()
    }

    /// Compares `files` with the output folder without writing anything.
    public func check(_ files: [OutputFile]) -> Drift {
        let comparison = Comparison(writer: self)
        for folder in Self.folders(of: files.map(\.path)) { comparison.expect(folder: folder) }
        DispatchQueue.concurrentPerform(iterations: files.count) { comparison.compare(files[$0]) }
        return comparison.drift()
    }

    /// `--check` file by file, as files are rendered: `expect` is told each target folder first (listed in
    /// the background, to find extra files), then `compare` takes each file on any thread and keeps only its
    /// path and whether it differs.
    public final class Comparison: @unchecked Sendable {
        private let root: String
        private var folders = Set<String>()
        private let lock = NSLock()
        private var compared: [String] = []
        private var stale: [String] = []
        private var missing: [String] = []
        /// The files on disk in each target folder, listed in the background while the files render.
        private var listed: [String: [String]] = [:]
        private let listing = DispatchGroup()

        public init(writer: ArtifactWriter) { root = writer.outputFolder.path }

        /// How many files were compared.
        public var count: Int { lock.lock(); defer { lock.unlock() }; return compared.count }

        /// A folder whose files are compared next (not concurrently with `compare`); listing it starts now.
        public func expect(folder: String) {
            guard folders.insert(folder).inserted else { return }
            let writer = ArtifactWriter(outputFolder: root)
            DispatchQueue.global().async(group: listing) {
                let files = writer.listFiles(under: folder)
                self.lock.lock(); self.listed[folder] = files; self.lock.unlock()
            }
        }

        /// Compares one file with the output folder; safe on any thread.
        public func compare(_ file: OutputFile) {
            let state = ArtifactWriter.compare(root + "/" + file.path, with: file)
            lock.lock(); defer { lock.unlock() }
            compared.append(file.path)
            if state == 1 { missing.append(file.path) } else if state == 2 { stale.append(file.path) }
        }

        /// What differs: the files compared, and the files in the expected folders that none compared.
        public func drift() -> Drift {
            listing.wait()
            lock.lock(); defer { lock.unlock() }
            var drift = Drift()
            drift.stale = stale.sorted()
            drift.missing = missing.sorted()
            let expected = Set(compared)
            for folder in folders.sorted() {
                for path in listed[folder] ?? [] where !expected.contains(path) { drift.extra.append(path) }
            }
            drift.extra.sort()
            return drift
        }
    }

    /// Replaces each target folder with exactly `files`, atomically per folder.
    public func write(_ files: [OutputFile]) throws {
        let staged = StagedWrite(writer: self)
        try staged.add(files)
        try staged.commit()
    }

    /// A write in two steps, for files that arrive target by target: `add` (or `prepare` a target folder, then
    /// `write` its files one by one from any thread) writes into one staging folder beside the output (created
    /// at the first target, so nothing appears when nothing is added), and `commit` then replaces every target
    /// folder. Until `commit` the output is as it was: a failure on the way (a full disk) changes nothing.
    public final class StagedWrite: @unchecked Sendable {
        private let writer: ArtifactWriter
        private var staging: URL?
        /// `staging`'s path, made once: files are written by path.
        private var stagingPath = ""
        /// The output folder's path: where unchanged files are found.
        private let outputPath: String
        private var folders: [String] = []
        private let lock = NSLock()
        /// Folders made in the staging folder so far, and the files written.
        private var created = Set<String>()
        private var written = 0

        public init(writer: ArtifactWriter) {
            self.writer = writer
            self.outputPath = writer.outputFolder.path
        }

        deinit { if let staging { ArtifactWriter.removeTree(staging.path) } }

        /// How many files were written.
        public var count: Int { lock.lock(); defer { lock.unlock() }; return written }

        /// Writes `files` into the staging folder.
        public func add(_ files: [OutputFile]) throws {
            for folder in ArtifactWriter.folders(of: files.map(\.path)) {
                // A file at the top (no target folder) is moved into place at `commit` as it is.
                if files.contains(where: { $0.path == folder }) { try claim(folder) } else { try prepare(folder: folder) }
            }
            // Files are independent: written on all cores (creating thousands of files is mostly the kernel's
            // work); the first failure is reported.
            let failure = FirstFailure()
            DispatchQueue.concurrentPerform(iterations: files.count) { index in
                do { try write(files[index]) } catch { failure.record(error) }
            }
            if let error = failure.error { throw error }
        }

        /// Creates the staging folder (on the first call) and the target folder `folder` in it (replaced at
        /// `commit`), so that `write` can then take its files on any thread. Not concurrently with `write`.
        public func prepare(folder: String) throws {
            try claim(folder)
            try FileManager.default.createDirectory(atPath: stagingPath + "/" + folder, withIntermediateDirectories: true)
        }

        /// Makes the staging folder (on the first call) and marks `name` to be moved into place at `commit`.
        private func claim(_ name: String) throws {
            if staging == nil { stagingPath = try makeStaging().path }
            if !folders.contains(name) { folders = (folders + [name]).sorted() }
        }

        /// Writes one file under a folder `prepare` was told; safe on any thread. Its own folders are made
        /// the first time a file needs them.
        public func write(_ file: OutputFile) throws {
            precondition(staging != nil, "StagedWrite.write before prepare")
            // Paths as strings: a URL per file cost a tenth of writing 20,000 files.
            if let slash = file.path.lastIndex(of: "/") {
                let folder = String(file.path[..<slash])
                lock.lock()
                let known = created.contains(folder)
                lock.unlock()
                if !known {
                    // Two threads may both make it: creating a folder that exists succeeds.
                    try FileManager.default.createDirectory(atPath: stagingPath + "/" + folder, withIntermediateDirectories: true)
                    lock.lock(); created.insert(folder); lock.unlock()
                }
            }
            let staged = stagingPath + "/" + file.path, mode: mode_t = file.executable ? 0o755 : 0o644
            if !ArtifactWriter.linkUnchanged(outputPath + "/" + file.path, to: staged, file, mode: mode) {
                try ArtifactWriter.writeNew(staged, file.contents, mode: mode)
            }
            lock.lock(); written += 1; lock.unlock()
        }

        /// Replaces each target folder added with its staged copy (atomically per folder), then removes the
        /// staging folder with the output it replaced (here, not only when the value goes away: a command may
        /// end without freeing anything).
        public func commit() throws {
            guard let staging else { return }
            let fileManager = FileManager.default
            for folder in folders {
                let target = writer.outputFolder.appendingPathComponent(folder)
                let fresh = staging.appendingPathComponent(folder)
                if fileManager.fileExists(atPath: target.path) {
                    let old = staging.appendingPathComponent(".old-\(folder)")
                    try fileManager.moveItem(at: target, to: old)
                    do { try fileManager.moveItem(at: fresh, to: target) } catch {
                        try? fileManager.moveItem(at: old, to: target)
                        throw error
                    }
                } else {
                    try fileManager.moveItem(at: fresh, to: target)
                }
            }
            folders = []
            ArtifactWriter.removeTree(staging.path)
            self.staging = nil
        }

        private func makeStaging() throws -> URL {
            let fileManager = FileManager.default
            try fileManager.createDirectory(at: writer.outputFolder, withIntermediateDirectories: true)
            // Unique per write: two writers in one process (parallel golden recording) never share a staging folder.
            let staging = writer.outputFolder.appendingPathComponent(".djflow-staging-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
            ArtifactWriter.removeTree(staging.path)
            self.staging = staging
            return staging
        }
    }

    /// Writes a new file in the staging folder with plain POSIX calls: the folder is what is replaced atomically, so
    /// the per-file temporary copy, fsync and rename of `FileManager.createFile` (most of the time of a 10,000-table
    /// compile) buy nothing here.
    static func writeNew(_ path: String, _ contents: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        var contents = contents
        let written = contents.withUTF8 { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = posixWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written, fchmod(fd, mode) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    /// Removes `path` and everything under it, best effort, without following symbolic links: `openat` and
    /// `unlinkat` on the open folder (FileManager's `removeItem` took a tenth of a 10,000-table compile to
    /// delete the previous output). The top folders' entries are removed on all cores.
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { unlink(path); return }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        let (folders, files) = entries(of: fd)
        // The subfolders hold the files: one task per subfolder, plus one for the files here.
        DispatchQueue.concurrentPerform(iterations: folders.count + 1) { index in
            if index == folders.count {
                for name in files { unlinkat(fd, name, 0) }
            } else {
                removeContents(parent: fd, folders[index])
                unlinkat(fd, folders[index], AT_REMOVEDIR)
            }
        }
        close(fd)
        rmdir(path)
    }

    /// Removes everything inside folder `name` of the open folder `parent` (not the folder itself).
    private static func removeContents(parent: Int32, _ name: String) {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let (folders, files) = entries(of: fd)
        for file in files { unlinkat(fd, file, 0) }
        for folder in folders {
            removeContents(parent: fd, folder)
            unlinkat(fd, folder, AT_REMOVEDIR)
        }
    }

    /// The names in the open folder `fd`: subfolders (not links to them) and everything else.
    private static func entries(of fd: Int32) -> (folders: [String], files: [String]) {
        var folders: [String] = [], files: [String] = []
        let copy = dup(fd)
        guard copy >= 0, let directory = fdopendir(copy) else { return ([], []) }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            var type = entry.pointee.d_type
            if type == UInt8(DT_UNKNOWN) {
                var info = stat()
                guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                type = (info.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : UInt8(DT_REG)
            }
            if type == UInt8(DT_DIR) { folders.append(name) } else { files.append(name) }
        }
        return (folders, files)
    }

    /// 0 when the file at `path` holds exactly `file` (bytes and owner-executable bit), 1 when it is missing, 2 when it differs.
    private static func compare(_ path: String, with file: OutputFile) -> UInt8 {
        // Opened first and then asked for its status: one path lookup per file, not two (non-blocking: a FIFO
        // in its place must not hang the check; it is then found not to be a regular file).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return 1 }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return 1 }
        let executable = info.st_mode & S_IXUSR != 0
        guard executable == file.executable else { return 2 }
        return holds(fd, size: Int(info.st_size), file.contents) ? 0 : 2
    }

    /// Links the previous output's file at `existing` to `staged` when it already is what `file` would be
    /// written as: a regular file (not a link to one) holding exactly its bytes, with exactly `mode`, owned by
    /// this user and linked nowhere else (so the new output shares it with nothing but the old one, which
    /// `commit` deletes). False when it is not, or the link fails (another file system): then write it.
    static func linkUnchanged(_ existing: String, to staged: String, _ file: OutputFile, mode: mode_t) -> Bool {
        let fd = open(existing, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_nlink == 1,
              info.st_uid == geteuid(), info.st_mode & 0o7777 == mode,
              holds(fd, size: Int(info.st_size), file.contents),
              linkat(AT_FDCWD, existing, AT_FDCWD, staged, 0) == 0 else { return false }
        // The name may have been given another file since it was opened: only the file compared counts.
        var linked = stat()
        guard lstat(staged, &linked) == 0, linked.st_ino == info.st_ino, linked.st_dev == info.st_dev else {
            unlink(staged)
            return false
        }
        return true
    }

    /// Whether the open file `fd` of `size` bytes holds exactly `contents`.
    private static func holds(_ fd: Int32, size: Int, _ contents: String) -> Bool {
        var expected = contents
        guard expected.utf8.count == size else { return false }
        return expected.withUTF8 { want -> Bool in
            // Uninitialized and no larger than the file: zeroing 64 KB for each of 20,000 small files cost more
            // than reading them.
            let capacity = max(1, min(size, 65536))
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            defer { buffer.deallocate() }
            var offset = 0
            while offset < want.count {
                let n = read(fd, buffer, min(capacity, want.count - offset))
                if n < 0 { if errno == EINTR { continue }; return false }
                if n == 0 { return false }
                if memcmp(buffer, want.baseAddress! + offset, n) != 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Relative paths of the regular files under `folder` of the output folder (symbolic links are not followed),
    /// with `opendir`/`readdir`: Foundation's enumerator with resource values took half a second for 20,000 files.
    func listFiles(under folder: String) -> [String] {
        var paths: [String] = []
        var pending = [folder]
        let root = outputFolder.path
        while let relative = pending.popLast() {
            guard let directory = opendir(root + "/" + relative) else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let path = relative + "/" + name
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) {  // file systems that do not fill d_type
                    var info = stat()
                    guard lstat(root + "/" + path, &info) == 0 else { continue }
                    type = (info.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (info.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : 0
                }
                if type == UInt8(DT_DIR) { pending.append(path) } else if type == UInt8(DT_REG) { paths.append(path) }
            }
        }
        return paths
    }
}

/// The POSIX `write` (inside `ArtifactWriter` the name means its own method).
private func posixWrite(_ fd: Int32, _ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int {
    write(fd, bytes, count)
}

/// The first error of concurrent work.
final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func record(_ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if self.error == nil { self.error = error }
    }
}

