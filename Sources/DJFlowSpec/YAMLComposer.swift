// Composes plain YAML straight from libyaml's events into `SpecNode`s, without Yams' node tree.

import CYaml
import DJFlowCore

/// Builds the `SpecNode` tree straight from libyaml's event stream: what Yams' `compose` followed by
/// `SpecNode.init(_:file:)` gives, in a fraction of the time and memory (the tree of a 10,000-table
/// pipeline was a third of `djflow plan`).
///
/// It takes only the plain case: one document, no anchors, aliases or tags, no mapping key that is not a
/// scalar, no two keys of a mapping with the same text, no syntax error. On anything else it gives up
/// (`nil`) and the caller composes with Yams, which reports problems with its full context; so both paths
/// agree on every file by construction, and a test compares them on every YAML file of the project.
public enum YAMLComposer {
    /// The document's root node, or nil when the file is not in the plain case.
    /// - Parameter splitAbove: a file of at least this many bytes whose `tables:` block can be cut in two
    ///   is composed in two halves at once (see `YAMLTablesSplit`); tests lower it to cut small files.
    public static func compose(_ source: SourceFile, splitAbove: Int = YAMLTablesSplit.minimumBytes) -> SpecNode? {
        var text = source.text
        return text.withUTF8 { bytes -> SpecNode? in
            if bytes.count >= splitAbove, let split = YAMLTablesSplit(bytes) {
                // The halves either compose to exactly the whole file's tree or refuse: then compose it whole.
                if let node = split.compose(bytes, file: source.path) { return node }
            }
            return compose(bytes, file: source.path, part: .whole)
        }
    }

    /// Which text `compose(_:file:part:)` reads: a whole file, or a half of one cut by `YAMLTablesSplit`.
    enum Part {
        case whole
        /// Everything but the second half of the tables (lines from `split` on are the file's lines from
        /// `split + shift` on). Nothing written before line `split` may reach past its start, and the first
        /// event from line `split` on must be a top-level key: the tables' first half ended on its own.
        case head(split: Int, shift: Int)
        /// The second half of the tables, after `split` empty lines: a block mapping at (`split`, `indent`).
        case tail(split: Int, indent: Int)
    }

    /// Composes UTF-8 text (zero-based lines and columns of libyaml's marks become one-based locations).
    static func compose(_ bytes: UnsafeBufferPointer<UInt8>, file: String, part: Part) -> SpecNode? {
        // libyaml reads from a pointer; an empty buffer may have none, and is not the plain case anyway.
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, base, bytes.count)
        var builder = Builder(file: file)
        if case .head(let split, let shift) = part { builder.shift = (split, shift) }
        var event = yaml_event_t()
        var pastSplit = false, rootSeen = false
        while yaml_parser_parse(&parser, &event) == 1 {
            defer { yaml_event_delete(&event) }
            let type = event.type
            let closes = type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT
                || type == YAML_DOCUMENT_END_EVENT || type == YAML_STREAM_END_EVENT
            switch part {
            case .whole:
                break
            case .head(let split, _) where !closes:
                let start = Int(event.start_mark.line), end = Int(event.end_mark.line)
                if start < split {
                    guard end < split || (end == split && event.end_mark.column == 0) else { return nil }
                } else if !pastSplit {
                    pastSplit = true
                    guard builder.isAtTopLevelKey else { return nil }
                }
            case .head:
                break
            case .tail(let split, let indent):
                if !rootSeen && type != YAML_STREAM_START_EVENT && type != YAML_DOCUMENT_START_EVENT {
                    rootSeen = true
                    guard type == YAML_MAPPING_START_EVENT, event.data.mapping_start.style == YAML_BLOCK_MAPPING_STYLE,
                          Int(event.start_mark.line) == split, Int(event.start_mark.column) == indent else { return nil }
                }
            }
            guard builder.take(event) else { return nil }
            if type == YAML_STREAM_END_EVENT { return builder.root }
        }
        return nil  // a syntax error: Yams reports it
    }

    /// The open collections while events arrive, innermost last.
    private struct Builder {
        /// One open collection, changed in place on the stack (no copy of its items per event).
        struct Open {
            let isMapping: Bool
            let location: SourceLocation
            var items: [SpecNode] = []
            var pairs: [(key: Located<String>, value: SpecNode)] = []
            var pendingKey: Located<String>?
            /// The keys so far, once a mapping has more than `Open.scanned` (fewer are compared in turn).
            var keys: Set<String>?
            static let scanned = 12

            /// Takes a new key; false when the mapping already has it.
            mutating func insertKey(_ key: String) -> Bool {
                if keys == nil {
                    if pairs.count < Self.scanned { return !pairs.contains { $0.key.value == key } }
                    keys = Set(pairs.map(\.key.value))
                }
                return keys!.insert(key).inserted
            }
        }

        let file: String
        /// Lines from `from` on are reported `by` lines further down (the head of a cut file).
        var shift: (from: Int, by: Int) = (Int.max, 0)
        var stack: [Open] = []
        var root: SpecNode?
        var documents = 0

        init(file: String) { self.file = file }

        /// Takes one event; false when the file leaves the plain case.
        mutating func take(_ event: yaml_event_t) -> Bool {
            let line = Int(event.start_mark.line)
            let at = SourceLocation(file: file, line: line + (line >= shift.from ? shift.by : 0) + 1, column: Int(event.start_mark.column) + 1)
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_STREAM_END_EVENT, YAML_DOCUMENT_END_EVENT:
                return true
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                return documents == 1
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                guard scalar.anchor == nil, scalar.tag == nil else { return false }
                let text = scalar.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: scalar.length), as: UTF8.self) } ?? ""
                let style = scalar.style
                let plain = style == YAML_PLAIN_SCALAR_STYLE || style == YAML_ANY_SCALAR_STYLE
                return add(.scalar(SpecNode.Scalar(
                    text: text, location: at,
                    isNull: plain && SpecNode.nullTexts.contains(text),
                    isBlock: style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE,
                    isQuoted: style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)))
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                guard start.anchor == nil, start.tag == nil, !isAwaitingKey else { return false }
                stack.append(Open(isMapping: false, location: at))
                return true
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                guard start.anchor == nil, start.tag == nil, !isAwaitingKey else { return false }
                stack.append(Open(isMapping: true, location: at))
                return true
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let done = stack.popLast() else { return false }
                if !done.isMapping { return add(.sequence(done.items, done.location)) }
                return done.pendingKey == nil && add(.mapping(done.pairs, done.location))
            default:  // an alias, or an event libyaml added later
                return false
            }
        }

        /// Only the root mapping is open, waiting for its next key.
        var isAtTopLevelKey: Bool { stack.count == 1 && isAwaitingKey }

        /// The innermost collection is a mapping waiting for its next key (which must be a scalar).
        private var isAwaitingKey: Bool {
            guard let last = stack.indices.last else { return false }
            return stack[last].isMapping && stack[last].pendingKey == nil
        }

        private mutating func add(_ node: SpecNode) -> Bool {
            guard let last = stack.indices.last else {
                guard root == nil else { return false }
                root = node
                return true
            }
            if !stack[last].isMapping {
                stack[last].items.append(node)
            } else if let key = stack[last].pendingKey {
                stack[last].pairs.append((key, node))
                stack[last].pendingKey = nil
            } else {
                guard case .scalar(let scalar) = node, stack[last].insertKey(scalar.text) else { return false }
                stack[last].pendingKey = Located(scalar.text, at: scalar.location)
            }
            return true
        }
    }
}
