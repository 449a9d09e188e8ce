// Cuts a large djflow.yaml's `tables:` block in two so that both halves are composed at once.

import DJFlowCore

/// Where a large file's `tables:` block can be cut in two, so that `YAMLComposer` reads both halves at
/// the same time (composing was a fifth of `djflow plan` on 10,000 tables).
///
/// The block is the lines after a top-level `tables:` line (nothing after the colon but a comment) up to
/// the next line that starts in column 0 (a top-level key) or the end of the file. The cut is at the line
/// nearest the middle that starts a table: exactly the indentation of the block's first entry, then a
/// letter or `_`. The head is the file without the second half (later lines keep their numbers through a
/// line shift); the tail is the second half after as many empty lines as come before it, so its
/// locations are the file's.
///
/// Text alone cannot tell a key from a line inside a multi-line quoted scalar or flow collection, so the
/// composed halves prove the cut instead: in the head, nothing written before the cut reaches past it
/// and the first event after it is a top-level key; the tail is one block mapping at the cut's line and
/// column; the two halves name no table twice. Otherwise the file is composed whole.
public struct YAMLTablesSplit {
    /// Smaller files are composed whole: two threads cost more than they save below about this size.
    public static let minimumBytes = 256 * 1024

    /// The one-based line where `text` would be cut, nil when it has no `tables:` block that can be cut.
    public static func cutLine(of text: String) -> Int? {
        var text = text
        return text.withUTF8 { YAMLTablesSplit($0).map { $0.cut.line + 1 } }
    }

    /// Byte offset and zero-based line of the cut (the first line of the tail).
    let cut: (offset: Int, line: Int)
    /// Byte offset and zero-based line where the block ends (the next top-level key, or the end).
    let end: (offset: Int, line: Int)
    /// The indentation of the block's entries.
    let indent: Int

    /// The cut of `bytes`, or nil when the file has no `tables:` block that can be cut.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        let newline = UInt8(ascii: "\n"), space = UInt8(ascii: " ")
        // Start of each line from `from`, with its number; stops when `body` returns false.
        func lines(from start: (offset: Int, line: Int), _ body: (Int, Int) -> Bool) {
            var offset = start.offset, line = start.line
            while offset < bytes.count {
                guard body(offset, line) else { return }
                while offset < bytes.count && bytes[offset] != newline { offset += 1 }
                offset += 1
                line += 1
            }
        }
        func isKeyStart(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        // `tables:` at column 0 with nothing after it but spaces and a comment.
        let key = Array("tables:".utf8)
        var block: (offset: Int, line: Int)?
        lines(from: (0, 0)) { offset, line in
            guard offset + key.count <= bytes.count, bytes[offset] == key[0],
                  (0..<key.count).allSatisfy({ bytes[offset + $0] == key[$0] }) else { return true }
            var rest = offset + key.count
            while rest < bytes.count && bytes[rest] == space { rest += 1 }
            guard rest < bytes.count, [newline, UInt8(ascii: "\r"), UInt8(ascii: "#")].contains(bytes[rest]) else { return false }
            block = (offset, line)
            return false
        }
        guard let tablesLine = block else { return nil }
        // The block's lines: indentation of each line that holds more than spaces or a comment.
        var entries: [(offset: Int, line: Int)] = []
        var indent: Int?
        var end: (offset: Int, line: Int) = (bytes.count, -1)
        var first = true, refused = false
        lines(from: tablesLine) { offset, line in
            if first { first = false; return true }  // the `tables:` line itself
            var column = offset
            while column < bytes.count && bytes[column] == space { column += 1 }
            guard column < bytes.count else { return true }
            let byte = bytes[column]
            if byte == newline || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "#") { return true }
            let width = column - offset
            if width == 0 {
                end = (offset, line)
                return false
            }
            if byte == UInt8(ascii: "\t") { refused = true; return false }
            if indent == nil { indent = width }
            if width == indent, isKeyStart(byte) { entries.append((offset, line)) }
            return true
        }
        guard !refused, let indent, entries.count >= 2 else { return nil }
        if end.line < 0 {
            // The block runs to the end of the file: count its lines.
            var line = tablesLine.line
            for offset in tablesLine.offset..<bytes.count where bytes[offset] == newline { line += 1 }
            end = (bytes.count, bytes.last == newline ? line : line + 1)
        } else {
            // What follows must be a plain top-level key (`targets:`), not a document marker or anything else.
            var offset = end.offset
            guard isKeyStart(bytes[offset]) else { return nil }
            while offset < bytes.count, isKeyStart(bytes[offset]) || bytes[offset] == UInt8(ascii: "-")
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { return nil }
        }
        let middle = (entries[0].offset + end.offset) / 2
        let cut = entries.dropFirst().min { abs($0.offset - middle) < abs($1.offset - middle) }!
        self.cut = cut
        self.end = end
        self.indent = indent
    }

    /// The document composed from its two halves at once; nil when the halves do not prove the cut (the
    /// caller composes the file whole).
    func compose(_ bytes: UnsafeBufferPointer<UInt8>, file: String) -> SpecNode? {
        var head = [UInt8]()
        head.reserveCapacity(cut.offset + bytes.count - end.offset)
        head += bytes[0..<cut.offset]
        head += bytes[end.offset...]
        var tail = [UInt8](repeating: UInt8(ascii: "\n"), count: cut.line)
        tail += bytes[cut.offset..<end.offset]
        let halves = [(head, YAMLComposer.Part.head(split: cut.line, shift: end.line - cut.line)),
                      (tail, YAMLComposer.Part.tail(split: cut.line, indent: indent))]
        let composed = concurrentIndices(2, grain: 1) { half in
            halves[half].0.withUnsafeBufferPointer { YAMLComposer.compose($0, file: file, part: halves[half].1) }
        }
        guard case .mapping(var top, let location)? = composed[0], case .mapping(let second, _)? = composed[1],
              let entry = top.firstIndex(where: { $0.key.value == "tables" }),
              case .mapping(let firstHalf, let tablesLocation) = top[entry].value else { return nil }
        let names = Set(firstHalf.map(\.key.value))
        guard !second.contains(where: { names.contains($0.key.value) }) else { return nil }  // a duplicate: Yams reports it
        top[entry].value = .mapping(firstHalf + second, tablesLocation)
        return .mapping(top, location)
    }
}
