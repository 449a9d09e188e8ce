// Memory, disk and wall-time amounts as users write them, and as each scheduler spells them.

import DJFlowCore

/// An amount of memory or disk, kept in MiB (SLURM's unit for a bare `--mem` number).
public struct MemoryAmount: Hashable, Sendable, Comparable {
    public var mebibytes: Int

    public init(mebibytes: Int) { self.mebibytes = mebibytes }

    /// Parses `4G`, `512M`, `2T`, `1024K` or a bare number of MiB (`4096`); `B`/`iB`/`i` suffixes are accepted
    /// (`4GB`, `4GiB`, and Kubernetes' `4Gi`). Units are binary, as in SLURM.
    public init?(parsing text: String) {
        guard let (number, factorKiB) = Self.split(text), let whole = Int(number) else { return nil }
        let (kib, overflow) = whole.multipliedReportingOverflow(by: factorKiB)
        guard whole > 0, !overflow else { return nil }
        mebibytes = max(1, (kib + 1023) / 1024)
    }

    /// For an amount SLURM cannot take because it has a fraction (`1.5G`): the same amount in a smaller
    /// whole unit, rounded up to a whole MiB (`1536M`); nil when `text` is not such an amount.
    public static func wholeSuggestion(for text: String) -> String? {
        guard let (number, factorKiB) = split(text), number.contains("."),
              let value = Double(number), value > 0, value < 1e12 else { return nil }
        let mebibytes = Int((value * Double(factorKiB) / 1024).rounded(.up))
        guard mebibytes > 0 else { return nil }
        // The largest unit that keeps a whole number, but never the unit written (that needs the fraction).
        if mebibytes % 1024 == 0 && factorKiB > 1024 * 1024 { return "\(mebibytes / 1024)G" }
        return "\(mebibytes)M"
    }

    /// The number (digits, possibly one '.') and the unit's size in KiB.
    private static func split(_ text: String) -> (number: String, factorKiB: Int)? {
        var rest = Substring(text.trimming(" "))
        var number = ""
        while let c = rest.first, c.isASCII, c.isNumber || (c == "." && !number.contains(".")) { number.append(c); rest.removeFirst() }
        guard number.contains(where: \.isNumber), !number.hasPrefix("."), !number.hasSuffix(".") else { return nil }
        var unit = String(rest).uppercased()
        if unit.hasSuffix("IB") { unit.removeLast(2) } else if unit.count == 2 && (unit.hasSuffix("B") || unit.hasSuffix("I")) { unit.removeLast() }
        switch unit {
        case "K": return (number, 1)
        case "", "M": return (number, 1024)
        case "G": return (number, 1024 * 1024)
        case "T": return (number, 1024 * 1024 * 1024)
        default: return nil
        }
    }

    /// The largest whole binary unit: `32G`, `1536M`, `2T`.
    public var slurmText: String {
        if mebibytes % (1024 * 1024) == 0 { return "\(mebibytes / (1024 * 1024))T" }
        if mebibytes % 1024 == 0 { return "\(mebibytes / 1024)G" }
        return "\(mebibytes)M"
    }

    public static func < (lhs: MemoryAmount, rhs: MemoryAmount) -> Bool { lhs.mebibytes < rhs.mebibytes }
}

/// A wall-clock duration in seconds, written in SLURM's forms.
public struct WallTime: Hashable, Sendable, Comparable {
    public var seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    /// Parses `[D-]HH:MM:SS`, `D-HH`, `D-HH:MM`, `HH:MM:SS`, `MM:SS` and `MM` (minutes), as `sbatch --time` does.
    /// Minutes and seconds after the first field must be below 60.
    public init?(parsing text: String) {
        let trimmed = text.trimming(" ")
        var days = 0
        var clock = Substring(trimmed)
        let hasDays = trimmed.contains("-")
        if hasDays {
            let parts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let d = WallTime.number(parts[0]) else { return nil }
            days = d
            clock = parts[1]
        }
        let fields = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard !fields.isEmpty, fields.count <= 3 else { return nil }
        var numbers: [Int] = []
        for field in fields {
            guard let n = WallTime.number(field) else { return nil }
            numbers.append(n)
        }
        let total: Int
        if hasDays {
            // D-HH, D-HH:MM, D-HH:MM:SS
            guard numbers[0] < 24, numbers.dropFirst().allSatisfy({ $0 < 60 }) else { return nil }
            let padded = numbers + Array(repeating: 0, count: 3 - numbers.count)
            total = ((days * 24 + padded[0]) * 60 + padded[1]) * 60 + padded[2]
        } else {
            switch numbers.count {
            case 1: total = numbers[0] * 60
            case 2: guard numbers[1] < 60 else { return nil }; total = numbers[0] * 60 + numbers[1]
            default: guard numbers[1] < 60, numbers[2] < 60 else { return nil }
                total = (numbers[0] * 60 + numbers[1]) * 60 + numbers[2]
            }
        }
        guard total > 0 else { return nil }
        seconds = total
    }

    /// True for text SLURM reads as `MM:SS` (two fields, no days): `1:30` is 90 seconds, not an hour and a half.
    public static func isMinutesSeconds(_ text: String) -> Bool {
        let trimmed = text.trimming(" ")
        return !trimmed.contains("-") && trimmed.split(separator: ":", omittingEmptySubsequences: false).count == 2
    }

    /// `1 minute 30 seconds`, `4 minutes`, `1 hour 2 minutes`: for messages.
    public var spokenText: String {
        let units = [(seconds / 86_400, "day"), ((seconds % 86_400) / 3600, "hour"), ((seconds % 3600) / 60, "minute"), (seconds % 60, "second")]
        return units.filter { $0.0 > 0 }.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }.joined(separator: " ")
    }

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 6, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    /// `D-HH:MM:SS` when a day or more, else `H:MM:SS`: what `sbatch --time` accepts.
    public var slurmText: String {
        let d = seconds / 86_400, h = (seconds % 86_400) / 3600, m = (seconds % 3600) / 60, s = seconds % 60
        let clock = "\(d > 0 ? pad(h) : String(h)):\(pad(m)):\(pad(s))"
        return d > 0 ? "\(d)-\(clock)" : clock
    }

    private func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }

    public static func < (lhs: WallTime, rhs: WallTime) -> Bool { lhs.seconds < rhs.seconds }
}
