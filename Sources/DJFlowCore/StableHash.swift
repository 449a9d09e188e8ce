/// A hash that is the same on every machine and run (Swift's `Hasher` is seeded per process).
public enum StableHash {
    /// 64-bit FNV-1a over the UTF-8 bytes.
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The first `length` lowercase hex digits of the hash (a short, stable suffix for truncated names).
    public static func hex(_ text: String, length: Int = 6) -> String {
        let digits = String(fnv1a(text), radix: 16)
        let padded = String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        return String(padded.prefix(length))
    }
}

/// Makes names that fit a scheduler's alphabet and length limit, stably.
public enum NameFitting {
    /// Replaces characters outside `allowed` with `replacement`, collapses runs, trims it from both ends.
    public static func sanitize(_ text: String, allowed: (Unicode.Scalar) -> Bool, replacement: Character = "-") -> String {
        var out = ""
        var lastWasReplacement = false
        for scalar in text.unicodeScalars {
            if allowed(scalar) {
                out.unicodeScalars.append(scalar)
                lastWasReplacement = false
            } else if !lastWasReplacement {
                out.append(replacement)
                lastWasReplacement = true
            }
        }
        return out.trimming(replacement)
    }

    /// `name` unchanged when it fits in `limit`, else its prefix, `-` and a stable hash of the whole name.
    public static func fit(_ name: String, limit: Int, hashLength: Int = 6, separator: Character = "-") -> String {
        guard name.count > limit else { return name }
        let keep = limit - hashLength - 1
        var prefix = String(name.prefix(keep))
        while let last = prefix.last, !(last.isLetter || last.isNumber) { prefix.removeLast() }
        return prefix + String(separator) + StableHash.hex(name, length: hashLength)
    }
}

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
}
