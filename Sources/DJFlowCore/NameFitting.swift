// Scheduler-safe names: sanitised to an alphabet and fitted to a length limit with a stable hash.

/// Makes names that fit a scheduler's alphabet and length limit, stably.
public enum NameFitting {
    /// Replaces characters outside `allowed` with `replacement`, collapses runs, trims it from both ends.
    public static func sanitize(_ text: String, allowed: (Unicode.Scalar) -> Bool, replacement: Character = "-") -> String {
        // Most names are ASCII the alphabet allows and neither start nor end with the replacement: unchanged
        // (checked by bytes: the names of every job of a 10,000-table pipeline pass here, per target).
        if let mark = replacement.asciiValue, let first = text.utf8.first, let last = text.utf8.last, first != mark, last != mark,
           text.allBytes({ $0 < 0x80 && allowed(Unicode.Scalar($0)) }) {
            return text
        }
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
        // A name of at most `limit` bytes has at most `limit` characters: no need to count them.
        guard name.utf8.count > limit, name.count > limit else { return name }
        let keep = limit - hashLength - 1
        var prefix = String(name.prefix(keep))
        while let last = prefix.last, !(last.isLetter || last.isNumber) { prefix.removeLast() }
        return prefix + String(separator) + StableHash.hex(name, length: hashLength)
    }
}
