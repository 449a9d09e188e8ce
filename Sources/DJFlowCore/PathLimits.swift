/// Length limits for values that name files or folders (log folders, interpreters, password files,
/// container images): what Linux file systems accept (NAME_MAX, 255 bytes per name) and a total well
/// below PATH_MAX (4096), since the value is joined to other folders and file names. Longer values fail
/// only at run time (`mkdir` at submit, a job that cannot start), so they are refused with a location.
public enum PathLimits {
    /// Bytes (UTF-8) in one folder or file name.
    public static let nameBytes = 255
    /// Bytes (UTF-8) in the whole value.
    public static let totalBytes = 1024

    /// Why the path is too long, as the end of a sentence; nil when it fits.
    public static func problem(_ path: String) -> String? {
        if path.utf8.count > totalBytes {
            return "it is \(path.utf8.count) bytes long; paths may have at most \(totalBytes)"
        }
        if let long = path.split(separator: "/").first(where: { $0.utf8.count > nameBytes }) {
            return "its name '\(long.prefix(20))…' is \(long.utf8.count) bytes long; a folder or file name may have at most \(nameBytes)"
        }
        return nil
    }
}
