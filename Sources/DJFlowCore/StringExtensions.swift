// Small String helpers the stages share: trimming a character, DataJoint's CamelCase → snake_case, and the
// byte-level checks and wrapping the quoting fast paths use.

extension String {
    /// Removes `character` from both ends.
    public func trimming(_ character: Character) -> String {
        var view = Substring(self)
        while view.first == character { view.removeFirst() }
        while view.last == character { view.removeLast() }
        return String(view)
    }

    /// CamelCase → snake_case, the way DataJoint names tables (`CuratedClustering` → `curated_clustering`).
    public var snakeCased: String {
        if utf8.allSatisfy({ $0 < 0x80 }) { return asciiSnakeCased }
        var out = ""
        let scalars = Array(unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            let isUpper = scalar.properties.isUppercase
            if isUpper && index > 0 {
                let previous = scalars[index - 1]
                let nextIsLower = index + 1 < scalars.count && scalars[index + 1].properties.isLowercase
                if previous.properties.isLowercase || previous.properties.numericType != nil
                    || (previous.properties.isUppercase && nextIsLower) {
                    out += "_"
                }
            }
            out += String(scalar).lowercased()
        }
        return out
    }

    /// `snakeCased` for ASCII text (every table name), byte by byte: the same rule, where upper case is
    /// `A`–`Z`, lower case `a`–`z` and numeric `0`–`9`.
    private var asciiSnakeCased: String {
        let bytes = Array(utf8)
        func isUpper(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
        func isLower(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 4)
        for (index, byte) in bytes.enumerated() {
            if isUpper(byte) {
                if index > 0 {
                    let previous = bytes[index - 1]
                    let nextIsLower = index + 1 < bytes.count && isLower(bytes[index + 1])
                    if isLower(previous) || isDigit(previous) || (isUpper(previous) && nextIsLower) { out.append(UInt8(ascii: "_")) }
                }
                out.append(byte + 32)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when every UTF-8 byte satisfies `predicate`: a loop over the contiguous bytes of a native string
    /// (the quoting of every word of every generated file starts with this check).
    @inlinable
    public func allBytes(_ predicate: (UInt8) -> Bool) -> Bool {
        if let result = utf8.withContiguousStorageIfAvailable({ $0.allSatisfy(predicate) }) { return result }
        return utf8.allSatisfy(predicate)
    }

    /// `wrapped(in:)` when every UTF-8 byte satisfies `predicate`, else nil: checked while copying, in one
    /// pass (the quoting fast paths of every scalar and word of every generated file).
    @inlinable
    public func wrapped(in quote: Unicode.Scalar, ifEveryByte predicate: (UInt8) -> Bool) -> String? {
        precondition(quote.isASCII, "wrapped(in:) takes an ASCII quote")
        let mark = UInt8(quote.value)
        var text = self
        return text.withUTF8 { bytes -> String? in
            var every = true
            let result = String(unsafeUninitializedCapacity: bytes.count + 2) { out in
                out[0] = mark
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    guard predicate(byte) else { every = false; return 0 }
                    out[index + 1] = byte
                }
                out[bytes.count + 1] = mark
                return bytes.count + 2
            }
            return every ? result : nil
        }
    }

    /// The text between two `quote` characters (ASCII), copied once into a string of the final size (small
    /// strings need no allocation): what every quoted scalar and word of every generated file goes through.
    public func wrapped(in quote: Unicode.Scalar) -> String {
        precondition(quote.isASCII, "wrapped(in:) takes an ASCII quote")
        let mark = UInt8(quote.value)
        var text = self
        return text.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: bytes.count + 2) { out in
                out[0] = mark
                if let base = bytes.baseAddress {
                    UnsafeMutableRawPointer(out.baseAddress! + 1).copyMemory(from: base, byteCount: bytes.count)
                }
                out[bytes.count + 1] = mark
                return bytes.count + 2
            }
        }
    }
}

extension Array where Element == String {
    /// `joined(separator:)` in one copy: the final size is counted first and every byte copied once into a
    /// string of that size. Command lines run to thousands of words (`--upstream` names every job above a
    /// pipelined one), and the standard join grew its result word by word (8% of compiling 10,000 tables).
    public func joinedInOnePass(separator: String) -> String {
        guard count > 1 else { return first ?? "" }
        var separator = separator
        var total = separator.utf8.count * (count - 1)
        for word in self { total += word.utf8.count }
        return separator.withUTF8 { gap in
            String(unsafeUninitializedCapacity: total) { out in
                var offset = 0
                func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
                    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
                    UnsafeMutableRawPointer(out.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count)
                    offset += bytes.count
                }
                for index in indices {
                    if index > 0 { copy(gap) }
                    var word = self[index]
                    word.withUTF8(copy)
                }
                return offset
            }
        }
    }
}
