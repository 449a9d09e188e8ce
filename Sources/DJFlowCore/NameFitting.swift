// Scheduler-safe names: sanitised to an alphabet and fitted to a length limit with a stable hash.

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
