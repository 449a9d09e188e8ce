// The fields of a typed template context, read from its type alone: what the tag test and the override
// check compare a template's tags with.

/// Lists the field paths of a `Decodable` context type by walking it (`ContextWalker`): every key the
/// synthesized `init(from:)` asks for is a field; nested structs and arrays of structs add their fields
/// under the key (`jobs/name`), the way Mustache sections reach them. Optionals count as present and arrays
/// as one element, so every field is seen, whatever a value would hold.
public enum ContextSchema {
    public static func fieldPaths<T: Decodable>(of type: T.Type) -> Set<String> {
        let recorder = Recorder()
        _ = try? ContextWalker.decode(T.self, walk: recorder)
        return recorder.paths
    }
}

/// Records every field path, with placeholder leaves.
private final class Recorder: ContextWalk {
    var paths = Set<String>()
    var elementsPerList: Int { 1 }
    var optionalsPresent: Bool { true }
    func reached(field path: [String]) { paths.insert(path.joined(separator: "/")) }
    func leaf<T: Decodable>(_ type: T.Type, at path: [String]) -> T? {
        if T.self == EmbeddedFile.self { return EmbeddedFile("", encoding: .yamlBlockIndent4) as? T }
        if T.self == String.self { return "" as? T }
        if T.self == Bool.self { return false as? T }
        if T.self == Int.self { return 0 as? T }
        return nil
    }
}
